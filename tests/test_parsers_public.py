"""Parsers of the official metadata files, on small strings: every format variant and defect each builder's
module docstring documents."""

from __future__ import annotations

import json

import numpy as np
import pytest
from facevid_datasets.builders import celebv_hq, celebv_text, hdtf, talkinghead_1kh, voxceleb2

from facevid_datasets.errors import AnnotationError
from facevid_datasets.parsing import (
    Box,
    clamp_normalised,
    enlarge_square_box,
    finite,
    is_normalised,
    iter_lines,
    parse_clock,
    parse_interval,
    read_text,
    rescale_ltrb,
    sniff_encoding,
    tblr_to_box,
    whole,
)

# -- shared helpers -----------------------------------------------------------------------------


def test_bom_is_ignored_in_files_and_lines(tmp_path):
    p = tmp_path / "RD_resolution.txt"
    p.write_bytes("\ufeffRadio1.mp4 720\r\n\r\nRadio2.mp4 1080\n".encode())
    text = read_text(p)
    assert list(iter_lines(text)) == [(1, "Radio1.mp4 720"), (3, "Radio2.mp4 1080")]
    assert list(iter_lines("\ufeffa b\n")) == [(1, "a b")]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:30", 30.0), ("01:30", 90.0), ("1:02:03", 3723.0), ("0:00:05.5", 5.5), ("12.25", 12.25)],
)
def test_parse_clock(text, seconds):
    assert parse_clock(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1:75", "ab:cd", "-3", "1:2:3:4"])
def test_parse_clock_rejects(text):
    with pytest.raises(ValueError):
        parse_clock(text)


def test_parse_interval():
    assert parse_interval("00:30-01:00") == (30.0, 60.0)
    for bad in ("01:00-00:30", "00:30", "00:30-", "00:30-01:00-02:00"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_pixel_vs_normalised_boxes():
    assert is_normalised([0.0, 0.8815, 0.1964, 0.6922])
    assert is_normalised([0, 1, 0, 1])
    assert not is_normalised([0, 937, 849, 1872])
    # the same face given both ways lands on the same pixels of a 1920x1080 frame
    norm = tblr_to_box((0.1, 0.6, 0.25, 0.5), 1920, 1080)
    pix = tblr_to_box((108, 648, 480, 960), 1920, 1080)
    assert norm == pix == Box(480, 108, 480, 540)


def test_every_official_number_is_finite():
    assert finite("1.5", "x") == 1.5 and finite(3, "x") == 3.0 and whole("12", "S") == whole(12.0, "S") == 12
    for bad, said in [(float("nan"), "finite"), ("inf", "finite"), ("-Infinity", "finite"), ("1e999", "finite"),
                      ("wide", "must be a number"), (None, "must be a number"), (True, "must be a number"),
                      ([1], "must be a number")]:  # fmt: skip
        with pytest.raises(ValueError, match=said):
            finite(bad, "bbox.top")
    with pytest.raises(ValueError, match="whole number"):
        whole("9.5", "E")
    for bad in ("nan", "inf", "NaN:00"):
        with pytest.raises(ValueError, match="not a clock time"):
            parse_clock(bad)


def test_normalised_box_a_little_outside_the_frame_is_clamped():
    assert is_normalised([0.1, 1.05, -0.02, 0.7]) and not is_normalised([2, 6, 1, 5])
    box, note = clamp_normalised((0.1, 1.05, -0.02, 0.7))
    assert box == (0.1, 1.0, 0.0, 0.7) and "bottom 1.05" in note and "left -0.02" in note
    assert clamp_normalised((0.1, 0.9, 0.2, 0.7)) == ((0.1, 0.9, 0.2, 0.7), "")
    assert clamp_normalised((0, 937, 849, 1872)) == ((0, 937, 849, 1872), "")  # pixels: clamped to the frame later
    # read as normalised, the box is the face; read as pixels it was a 6x6 px corner (issue 18)
    assert enlarge_square_box(box, 384, 216).w == 198


def test_text_encodings_are_named_and_read(tmp_path):
    text = "Radio1.mp4 720\nRadio2.mp4 1080\n"
    for codec, name in [("utf-16", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE"), ("utf-32", "UTF-32 LE")]:
        data = text.encode(codec)
        assert sniff_encoding(data)[1].startswith(name)
        (tmp_path / "f.txt").write_bytes(data)
        assert read_text(tmp_path / "f.txt") == text
    assert sniff_encoding(text.encode()) is None and sniff_encoding(b"a,b\n1,\x002\n") is None


def test_box_clamp_moves_before_shrinking_and_even():
    assert Box(150, -10, 40, 40).clamp(160, 120) == Box(120, 0, 40, 40)
    assert Box(-5, 0, 200, 50).clamp(160, 120) == Box(0, 0, 160, 50)
    assert Box(0, 0, 41, 39).even() == Box(0, 0, 40, 38)


def test_celebv_enlarge_and_square_matches_official_script():
    # official: expand by 0.02 in normalised units (clamped to [0, 1]), denormalise with round(),
    # square of min(h, w) // 2 around the centre
    box = enlarge_square_box((0.0, 0.8815, 0.1964, 0.6922), 1280, 720)
    top, bottom = 0, round(min(0.8815 + 0.02, 1) * 720)
    left, right = round((0.1964 - 0.02) * 1280), round((0.6922 + 0.02) * 1280)
    half = min(bottom - top, right - left) // 2
    assert box.w == box.h == 2 * half
    assert box.x == round((left + right) / 2 - half) and box.y == round((top + bottom) / 2 - half)
    # a box at the frame edge stays inside the frame
    edge = enlarge_square_box((0.5, 1.0, 0.8, 1.0), 200, 100)
    assert edge.x + edge.w <= 200 and edge.y + edge.h <= 100 and edge.w == edge.h


def test_tube_rescaling_truncates_like_videos_crop():
    # L,T,R,B at 1080x1920 onto a 720x1280 download: int(T / H * h)
    box = rescale_ltrb((115, 107, 515, 507), (1080, 1920), (720, 1280))
    assert box == Box(int(115 / 1920 * 1280), int(107 / 1080 * 720), int(515 / 1920 * 1280) - 76, 338 - 71)


# -- HDTF -----------------------------------------------------------------------------------------


def _hdtf_group(**texts):
    paths = {k: f"HDTF_dataset/RD_{k}.txt" for k in hdtf.KINDS}
    return hdtf.parse_group("RD", texts, paths)


def test_hdtf_intervals_crops_and_resolutions():
    clips, problems = _hdtf_group(
        annotion_time="\ufeffRadio11.mp4 00:30-01:00 01:30-02:30 \n",
        resolution="Radio11.mp4 720\n",
        crop_wh="Radio11_0.mp4 483 390 0 390\nRadio11_1.mp4 10 20 30 20\n",
        crop_ratio="Radio11_0.mp4 1.2\n",
        video_url="Radio11 https://www.youtube.com/watch?v=XtySvTwIOfw\n",
    )
    assert problems == []
    a, b = clips
    assert (a.clip_id, a.start, a.end, a.crop_xwyh, a.ref_height, a.crop_ratio) == (
        "Radio11_0",
        30.0,
        60.0,
        (483, 390, 0, 390),
        720,
        1.2,
    )
    assert a.url.endswith("XtySvTwIOfw")
    assert (b.clip_id, b.start, b.end, b.crop_ratio) == ("Radio11_1", 90.0, 150.0, None)


def test_hdtf_defects_become_problems():
    clips, problems = _hdtf_group(
        annotion_time="Radio1.mp4 00:10-00:20 00:30-00:40\nRadio15.mp4\nRadio2.mp4 00:50-00:40\n",
        resolution="Radio1.mp4 0\nRadio2.mp4 360\n",
        crop_wh="Radio1_0.mp4 1 2 3 2\nRadio2_0.mp4 1 2 3 2\nRadio99_0.mp4 1 2 3 2\nRadio7_0.mp4 1 2\n",
    )
    by_id = {p.clip_id: p for p in problems}
    assert [c.clip_id for c in clips] == ["Radio1_0"]
    assert clips[0].ref_height is None  # resolution 0 -> taken at the downloaded height
    assert by_id["Radio1_1"].reason.startswith("no crop box")  # timestamps but no crop entry
    assert by_id["Radio15"].reason == "video has no time stamps" and by_id["Radio15"].file.endswith(":2")
    assert "ends before it starts" in by_id["Radio2_0"].reason and by_id["Radio2_0"].file.endswith(":3")
    assert by_id["Radio99_0"].status == "skipped"  # crop entry with no interval
    assert "expected 4 values" in by_id["Radio7_0"].reason


def test_hdtf_crop_scaled_from_reference_height():
    assert hdtf.hdtf_crop((483, 390, 0, 390), 720, 1920, 1080) == Box(724, 0, 584, 584)
    # odd reference height (714) and a box larger than a small download stays inside the frame
    box = hdtf.hdtf_crop((600, 700, 0, 700), 714, 640, 360)
    assert box.x + box.w <= 640 and box.h <= 360
    # resolution 0: the box is used at the downloaded size
    assert hdtf.hdtf_crop((10, 20, 30, 20), None, 640, 360) == Box(10, 30, 20, 20)


def test_hdtf_identity():
    assert hdtf.identity_of("RD", "Radio11") == "Radio11"
    assert hdtf.identity_of("WDA", "AmyKlobuchar0") == hdtf.identity_of("WDA", "AmyKlobuchar1") == "AmyKlobuchar"


# -- CelebV-HQ ------------------------------------------------------------------------------------

APPEARANCE = ["Blurry", "Male", "Young", *(f"attr{i}" for i in range(37))]


def _celebvhq(clips):
    meta = {"appearance_mapping": APPEARANCE, "action_mapping": ["blow", "talk", "head_wagging", "zzz_new"]}
    return celebv_hq.parse_celebvhq(json.dumps({"meta_info": meta, "clips": clips}), "celebvhq_info.json")


def _hq_clip(emotion, appearance=None, action=(0, 1, 1, 1)):
    return {
        "ytb_id": "M2Ohb0FAaJU",
        "duration": {"start_sec": 81.62, "end_sec": 86.17},
        "bbox": {"top": 0.0, "bottom": 0.8815, "left": 0.1964, "right": 0.6922},
        "attributes": {"appearance": appearance or [0, 1, 1] + [0] * 37, "action": list(action), "emotion": emotion},
        "version": "v0.1",
    }


def test_celebvhq_labels_decoded_with_meta_info_order():
    clips, labels, problems = _celebvhq({"M2Ohb0FAaJU_1": _hq_clip({"sep_flag": False, "labels": "anger"})})
    assert problems == [] and clips[0].clip_id == "M2Ohb0FAaJU_1" and clips[0].start == 81.62
    lab = labels["M2Ohb0FAaJU_1"]
    assert lab["appearance"] == ["Male", "Young"]  # capitalised names, unknown 'Young' kept
    assert lab["gender"] == "male"
    assert lab["action"] == ["Talk", "Wag Head", "zzz new"]  # unknown label kept
    assert lab["emotion"] == "Angry"


def test_celebvhq_sep_flag_keeps_dominant_emotion():
    segments = [
        {"emotion": "neutral", "start_sec": 0, "end_sec": 1.0},
        {"emotion": "sadness", "start_sec": 1.5, "end_sec": 2.5},
        {"emotion": "sadness", "start_sec": 3.0, "end_sec": 3.5},
    ]
    clips, labels, _ = _celebvhq({"_0tf2n3rlJU_0": _hq_clip({"sep_flag": True, "labels": segments})})
    assert labels["_0tf2n3rlJU_0"]["emotion"] == "Sad"
    assert clips[0].raw["attributes"]["emotion"]["labels"] == segments  # all segments kept for `original`
    assert celebv_hq.dominant_emotion([]) is None


def test_celebvhq_bad_records_are_reported():
    good = _hq_clip({"sep_flag": False, "labels": "happy"})
    no_box = {k: v for k, v in good.items() if k != "bbox"}
    reversed_span = {**good, "duration": {"start_sec": 5, "end_sec": 2}}
    bad_vector = {**good, "attributes": {**good["attributes"], "appearance": [1, 0]}}
    clips, labels, problems = _celebvhq({"a_0": no_box, "b_0": reversed_span, "c_0": bad_vector, "d_0": [1]})
    assert sorted(p.clip_id for p in problems) == ["a_0", "b_0", "d_0"]
    assert [c.clip_id for c in clips] == ["c_0"] and "appearance" not in labels["c_0"]
    with pytest.raises(AnnotationError):
        celebv_hq.parse_celebvhq("{not json", "celebvhq_info.json")


# -- CelebV-Text ----------------------------------------------------------------------------------

REC = {
    "ytb_id": "0-5BrmyFsYM",
    "duration": {"start_sec": 0.0, "end_sec": 9.64},
    "bbox": {"top": 0, "bottom": 937, "left": 849, "right": 1872},
    "version": "v0.1",
}


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        ({"clips": {"0-5BrmyFsYM_0": REC, "x_1": REC}}, "clips"),
        ({"clips_set1": {"0-5BrmyFsYM_0": REC}, "clips_set2": {"x_1": REC}}, "clip sets"),
        ({"0-5BrmyFsYM_0.mp4": {**REC, "meta_video_names": "0-5BrmyFsYM"}, "x_1": REC}, "flat"),
    ],
)
def test_celebvtext_three_json_shapes(data, shape):
    records, got_shape, problems = celebv_text.info_records(data, "celebvtext_info.json")
    assert got_shape == shape and problems == []
    assert sorted(records) == ["0-5BrmyFsYM_0", "x_1"]


def test_celebvtext_duplicate_across_sets_reported():
    records, _, problems = celebv_text.info_records({"clips_set1": {"a_0": REC}, "clips_set2": {"a_0": REC}}, "f")
    assert list(records) == ["a_0"] and problems[0].clip_id == "a_0" and "twice" in problems[0].reason


def test_celebvtext_start_frame_records():
    # the README documents start_frame/end_frame as times in seconds: a whole number is seconds too
    frames = celebv_hq.parse_clip("00-30GQl0TM_7", {**REC, "duration": {"start_frame": 100, "end_frame": 250}})
    assert (frames.start, frames.end, frames.time_keys) == (100.0, 250.0, "start_frame/end_frame")
    # the README's example: fractional values under *_frame keys are seconds
    secs = celebv_hq.parse_clip("00-30GQl0TM_7", {**REC, "duration": {"start_frame": 415.29, "end_frame": 420.88}})
    assert (secs.start, secs.time_keys) == (415.29, "start_frame/end_frame")
    assert secs.bbox == (0.0, 937.0, 849.0, 1872.0) and not is_normalised(secs.bbox)
    with pytest.raises(ValueError, match="neither"):
        celebv_hq.parse_clip("a_0", {**REC, "duration": {"begin": 1}})


def test_celebvtext_name_mismatch():
    names = {"hDf4PjXl64Q_35_2", "abc_1", "dup_3_0", "dup_3_1"}
    by_base: dict[str, list[str]] = {}
    for n in names:
        by_base.setdefault(n.rsplit("_", 1)[0], []).append(n)
    assert celebv_text.match_name("hDf4PjXl64Q_35", None, names, by_base) == "hDf4PjXl64Q_35_2"
    assert celebv_text.match_name("abc_1_0", None, names, by_base) == "abc_1"
    assert celebv_text.match_name("zz_0", "abc_1", names, by_base) == "abc_1"
    assert celebv_text.match_name("dup_3", None, names, by_base) is None  # ambiguous: not guessed


def test_celebvtext_free_text_labels_and_actions():
    texts = {
        "face40_details_new": ["She has long hair.", "alt"],
        "emotion": ["The woman looks surprised and happy."],
        "light_intensity": ["The light is bright."],
        "light_colot_temp": ["Natural daylight."],
    }
    act = [["talk", ["0:00:00", "0:00:04", 4.0, 0]], ["smile", ["0:00:02", "0:01:03", 61.0, 1]]]
    fields, native = celebv_text.clip_fields(texts, act, ["male", "wavy_hair"])
    assert (
        fields["caption"]
        == "She has long hair. The woman looks surprised and happy. The light is bright. Natural daylight."
    )
    attrs = fields["attributes"]
    assert attrs["emotion"] == "Surprise" and attrs["light"] == ["Bright", "Natural", "Daylight"]
    assert attrs["action"] == ["Talk", "Smile"] and attrs["appearance"] == ["Male", "Wavy hair"]
    assert native["action_segments"][1] == {
        "label": "smile",
        "start_sec": 2.0,
        "end_sec": 63.0,
        "duration": 61.0,
        "order": 1,
    }
    assert native["texts"] == texts


# -- TalkingHead-1KH ------------------------------------------------------------------------------


def test_talkinghead_tube_lines():
    tubes, problems = talkinghead_1kh.parse_tubes(
        "\ufeffWA1L8vXkSKQ_0001,1080,1920,370,849,115,107,515,507\n"
        "bad_0000,1080,1920,10,5,0,0,10,10\n"
        "short_0000,1080,1920,1\n"
        "nan_0000,1080,x,1,2,0,0,10,10\n",
        "train_video_tubes.txt",
    )
    (t,) = tubes
    assert t.clip_id == "WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507"
    assert (t.ytb_id, t.chunk) == ("WA1L8vXkSKQ", 1)
    assert [p.file for p in problems] == [
        "train_video_tubes.txt:2",
        "train_video_tubes.txt:3",
        "train_video_tubes.txt:4",
    ]
    assert talkinghead_1kh.tube_crop(t, 540, 960) == Box(57, 53, 200, 200)


def test_talkinghead_tube_frames_and_chunks():
    ts = np.arange(700) / 10.0  # 10 fps, 70 s
    keyframes = np.arange(0, 700, 70)  # a key frame every 7 s: chunk 1 starts at 63 s
    assert talkinghead_1kh.chunk_first_frame(ts, keyframes, 0) == 0
    assert talkinghead_1kh.chunk_first_frame(ts, keyframes, 1) == 630
    with pytest.raises(ValueError):
        talkinghead_1kh.chunk_first_frame(ts, keyframes, 2)
    tube = talkinghead_1kh.parse_tube("v_0001,100,100,5,14,0,0,10,10")
    assert talkinghead_1kh.tube_frames(len(ts), 630, tube) == (635, 645)  # frames 635..644 inclusive
    with pytest.raises(ValueError, match="has 70 frames"):
        talkinghead_1kh.tube_frames(len(ts), 630, talkinghead_1kh.parse_tube("v_0001,100,100,5,80,0,0,10,10"))


# -- VoxCeleb2 ------------------------------------------------------------------------------------

VOX_TXT = """Identity  : \tid00017
Reference : \t_mjZ87sK6cA
Offset    : \t2
FV Conf   : \t16.140\t(1)
ASD Conf  : \t5.142

FRAME \tX \tY \tW \tH
000245 \t0.392 \t0.223 \t0.253 \t0.451
000246 \t0.393 \t0.224 \t0.252 \t0.450
"""


def test_voxceleb2_txt():
    track = voxceleb2.parse_vox_txt("\ufeff" + VOX_TXT, "00001.txt")
    assert track.header["Identity"] == "id00017" and track.header["Reference"] == "_mjZ87sK6cA"
    assert track.number("Offset") == 2 and track.number("FV Conf") == pytest.approx(16.14)
    assert track.number("ASD Conf") == pytest.approx(5.142) and track.number("Missing") is None
    assert track.frames == [(245, 0.392, 0.223, 0.253, 0.451), (246, 0.393, 0.224, 0.252, 0.45)]


def test_voxceleb2_txt_errors_name_the_line():
    with pytest.raises(AnnotationError) as e:
        voxceleb2.parse_vox_txt(VOX_TXT + "000247 0.1 0.2\n", "00001.txt")
    assert e.value.line == 10
    with pytest.raises(AnnotationError, match="Identity"):
        voxceleb2.parse_vox_txt("Reference : abc\n", "00001.txt")


def test_celebvtext_malformed_action_entries_raise():
    with pytest.raises(ValueError):
        celebv_text.clip_fields({}, [["talk", ["0:00:00"]]], None)
    with pytest.raises(ValueError):
        celebv_text.action_segments([["talk", ["0:0x:00", "0:00:01", 1.0, 0]]])


def test_hdtf_malformed_crop_line_reported_once():
    clips, problems = _hdtf_group(annotion_time="Radio1.mp4 00:10-00:20\n", crop_wh="Radio1_0.mp4 1 2 3\n")
    assert clips == [] and [(p.clip_id, p.file) for p in problems] == [("Radio1_0", "HDTF_dataset/RD_crop_wh.txt:1")]
