"""End to end: each public-release builder on a tiny release written by the test, one video missing."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
from facevid_datasets.builders import builder_class

import facevid_datasets as fd
from facevid_datasets import cache_paths, vocab
from facevid_datasets.errors import DatasetNotFound
from facevid_datasets.media import decode_clip, run_ffmpeg
from facevid_datasets.parsing import enlarge_square_box
from facevid_datasets.report import BuildReport
from facevid_datasets.schema import validate_record
from facevid_datasets.testing import make_index_video, read_index

FPS = 10.0
W, H = 160, 120  # the index grid is the central 120x120 square: x 20..140


def _load(name, root, cache, config=None, **kw):
    ds = fd.load_dataset(name, config, data_dir=str(root), cache_dir=str(cache), **kw)
    return {r["clip_id"]: r for split in ds.values() for r in split}, ds


def _report(name, cache, config="default"):
    cls = builder_class(name)
    rows = BuildReport(cache_paths.report_file(cache, cls.NAME.replace("-", "_"), config)).rows()
    return {r.clip_id: r for r in rows}


def _first_index(path) -> int:
    return read_index(decode_clip(str(path), [0], audio=False).frames[0])


def _indices(rec) -> list[int]:
    """The source frame index drawn in every frame of a built clip (frame-exact cuts: a range)."""
    frames = decode_clip(rec["video"]["path"], list(range(rec["num_frames"])), audio=False).frames
    return [read_index(f) for f in frames]


def _check_common(records, name):
    for rec in records.values():
        assert validate_record(rec) == [], rec["clip_id"]
        assert rec["dataset"] == rec["source"] == name
        assert json.loads(rec["original"])  # the native annotation, as JSON


def _mtimes(records):
    return {cid: os.stat(r["video"]["path"]).st_mtime_ns for cid, r in records.items()}


# -- HDTF -----------------------------------------------------------------------------------------


@pytest.fixture
def hdtf_release(tmp_path):
    root = tmp_path / "hdtf"
    meta = root / "HDTF_dataset"
    meta.mkdir(parents=True)
    (meta / "RD_annotion_time.txt").write_text(
        "\ufeffRadio1.mp4 00:00-00:01 00:01-00:03\nRadio2.mp4 00:00-00:02\nRadio3.mp4 00:00-00:02\n"
        "Radio4.mp4\nRadio5.mp4 00:00-00:02\n"
    )
    (meta / "RD_resolution.txt").write_text("\ufeffRadio1.mp4 240\nRadio2.mp4 0\nRadio3.mp4 720\nRadio5.mp4 720\n")
    # Radio1: the index grid at reference height 240 (x 40, w 240, y 0, h 240) -> x 20, w 120 in the download
    (meta / "RD_crop_wh.txt").write_text(
        "Radio1_0.mp4 40 240 0 240\nRadio1_1.mp4 40 240 0 240\nRadio2_0.mp4 10 60 20 60\nRadio3_0.mp4 1 2 3 2\n"
        "Radio9_0.mp4 1 2 3 2\n"
    )
    (meta / "RD_crop_ratio.txt").write_text("Radio1_0.mp4 1.2\n")
    (meta / "RD_video_url.txt").write_text("Radio1 https://www.youtube.com/watch?v=CPCoMyuBRM0\n")
    make_index_video(root / "videos" / "Radio1.mp4", 40, FPS, (H, W), audio=True)
    make_index_video(root / "videos" / "Radio2.mp4", 30, FPS, (H, W), audio=False)
    make_index_video(root / "videos" / "Radio5.mp4", 30, FPS, (H, W), audio=False)
    return root


def test_hdtf_build(hdtf_release, tmp_path):
    cache = tmp_path / "cache"
    records, ds = _load("hdtf", hdtf_release, cache)
    _check_common(records, "hdtf")
    assert sorted(records) == ["Radio1_0", "Radio1_1", "Radio2_0"]
    r0, r1, r2 = records["Radio1_0"], records["Radio1_1"], records["Radio2_0"]
    assert (r0["width"], r0["height"]) == (r2["width"], r2["height"]) == (512, 512)
    assert r0["num_frames"] == 10 and r1["num_frames"] == 20
    assert _indices(r0) == list(range(0, 10)) and _indices(r1) == list(range(10, 30))  # grid crop, cut at 1 s
    assert r0["audio_source"] == "video" and r2["audio_source"] == "none"
    assert r0["identity"] == "Radio1"
    assert json.loads(r0["original"])["crop_ratio"] == 1.2
    assert "note" in json.loads(r2["original"])  # resolution 0
    assert {r["split"] for r in records.values()} <= {"train", "test"}
    assert len({r["split"] for r in records.values() if r["identity"] == "Radio1"}) == 1

    report = _report("hdtf", cache)
    assert report["Radio3_0"].status == "missing" and "Radio3.mp4" in report["Radio3_0"].reason
    assert report["Radio4"].reason == "video has no time stamps"
    assert report["Radio5_0"].reason.startswith("no crop box")
    assert report["Radio9_0"].status == "skipped"
    intervals = {"Radio1_0", "Radio1_1", "Radio2_0", "Radio3_0", "Radio5_0"}
    assert set(records) | (set(report) & intervals) == intervals and not set(records) & set(report)

    # a second load reuses the Arrow cache; a forced rebuild cuts every clip again (same files)
    before = _mtimes(records)
    again, _ = _load("hdtf", hdtf_release, cache)
    assert _mtimes(again) == before
    rebuilt, _ = _load("hdtf", hdtf_release, cache, download_mode="force_redownload")
    after = _mtimes(rebuilt)
    assert after.keys() == before.keys() and all(after[c] != before[c] for c in before)
    assert {r["video"]["path"] for r in rebuilt.values()} == {r["video"]["path"] for r in records.values()}


def test_hdtf_missing_metadata_and_videos(tmp_path, hdtf_release):
    with pytest.raises(DatasetNotFound, match="HDTF_dataset"):
        fd.load_dataset("hdtf", data_dir=str(tmp_path), cache_dir=str(tmp_path / "c1"))
    shutil.rmtree(hdtf_release / "videos")
    with pytest.raises(DatasetNotFound, match="none of the"):
        fd.load_dataset("hdtf", data_dir=str(hdtf_release), cache_dir=str(tmp_path / "c2"))


def test_cleaned_config(hdtf_release, tmp_path, monkeypatch):
    import facevid_datasets.curation as curation

    with pytest.raises(DatasetNotFound, match="facevid curate hdtf"):
        fd.load_dataset("hdtf", "cleaned", data_dir=str(hdtf_release), cache_dir=str(tmp_path / "c0"))
    records, _ = _load("hdtf", hdtf_release, tmp_path / "c1")
    curated = tmp_path / "curated"
    curated.mkdir()
    (curated / "records.jsonl").write_text("")
    kept = [dict(records["Radio1_0"], split="train"), dict(records["Radio2_0"], split="test")]
    seen = []

    def fake_cleaned_records(folder):
        seen.append(str(folder))
        yield from kept

    monkeypatch.setattr(curation, "cleaned_records", fake_cleaned_records, raising=False)
    ds = fd.load_dataset(
        "hdtf", "cleaned", data_dir=str(hdtf_release), cache_dir=str(tmp_path / "c2"), curated_dir=str(curated)
    )
    assert [r["clip_id"] for r in ds["train"]] == ["Radio1_0"] and [r["clip_id"] for r in ds["test"]] == ["Radio2_0"]
    assert set(seen) == {str(curated)}


# -- CelebV-HQ ------------------------------------------------------------------------------------


def _hq_record(ytb, start, end, bbox, emotion, appearance_bit=1):
    return {
        "ytb_id": ytb,
        "duration": {"start_sec": start, "end_sec": end},
        "bbox": dict(zip(("top", "bottom", "left", "right"), bbox, strict=True)),
        "attributes": {
            "appearance": [0, appearance_bit] + [0] * 38,
            "action": [0] * 29 + [1] + [0] * 5,
            "emotion": emotion,
        },
        "version": "v0.1",
    }


def test_celebvhq_build(tmp_path):
    root = tmp_path / "celebvhq"
    segments = [
        {"emotion": "neutral", "start_sec": 0, "end_sec": 0.3},
        {"emotion": "happy", "start_sec": 0.5, "end_sec": 1.5},
    ]
    clips = {
        "vidAAAAAAAA_0": _hq_record(
            "vidAAAAAAAA", 0.5, 2.0, (0.1, 0.9, 0.2, 0.7), {"sep_flag": False, "labels": "anger"}
        ),
        "vidAAAAAAAA_1": _hq_record(
            "vidAAAAAAAA", 1.0, 3.0, (0.0, 1.0, 0.0, 1.0), {"sep_flag": True, "labels": segments}, 0
        ),
        "vidBBBBBBBB_0": _hq_record(
            "vidBBBBBBBB", 0.0, 1.0, (0.1, 0.9, 0.2, 0.7), {"sep_flag": False, "labels": "happy"}
        ),
        "vidAAAAAAAA_2": {"ytb_id": "vidAAAAAAAA", "duration": {"start_sec": 0, "end_sec": 1}},
        "vidAAAAAAAA_3": _hq_record(
            "vidAAAAAAAA", 60.0, 61.0, (0.1, 0.9, 0.2, 0.7), {"sep_flag": False, "labels": "happy"}
        ),
    }
    meta = {
        "appearance_mapping": [n.title() for n in vocab.CELEBV_HQ_APPEARANCE],
        "action_mapping": list(vocab.CELEBV_HQ_ACTION),
    }
    root.mkdir()
    (root / "celebvhq_info.json").write_text(json.dumps({"meta_info": meta, "clips": clips}))
    make_index_video(root / "videos" / "vidAAAAAAAA.mp4", 35, FPS, (H, W), audio=True)
    cache = tmp_path / "cache"
    records, _ = _load("celebv-hq", root, cache)
    _check_common(records, "celebv-hq")
    assert sorted(records) == ["vidAAAAAAAA_0", "vidAAAAAAAA_1"]
    a, b = records["vidAAAAAAAA_0"], records["vidAAAAAAAA_1"]
    box = enlarge_square_box((0.1, 0.9, 0.2, 0.7), W, H)
    assert (a["width"], a["height"]) == (box.w, box.h) and a["width"] == a["height"]
    assert (b["width"], b["height"]) == (H, H)  # whole frame -> the centred square: the index grid
    assert _indices(b) == list(range(10, 30))  # [1.0, 3.0) s at 10 fps: frames 10..29, none doubled
    assert a["attributes"]["emotion"] == "Angry" and a["attributes"]["gender"] == "male"
    assert a["attributes"]["action"] == ["Talk"] and a["attributes"]["appearance"] == ["Male"]
    assert b["attributes"]["emotion"] == "Happy" and b["attributes"]["gender"] == "female"
    assert json.loads(b["original"])["attributes"]["emotion"]["labels"] == segments
    assert a["identity"] == "vidAAAAAAAA" and a["audio_source"] == "video"
    report = _report("celebv-hq", cache)
    assert report["vidBBBBBBBB_0"].status == "missing"
    assert report["vidAAAAAAAA_2"].status == "bad-metadata" and "bbox" in report["vidAAAAAAAA_2"].reason
    assert (
        report["vidAAAAAAAA_3"].status == "error"
        and "after the downloaded video ends" in report["vidAAAAAAAA_3"].reason
    )
    assert len(records) + len(report) == len(clips)


# -- CelebV-Text ----------------------------------------------------------------------------------


def test_celebvtext_build(tmp_path):
    root = tmp_path / "celebvtext"
    info = {  # the flat shape, keys with .mp4, a pixel box, start_frame records
        "vidCCCCCCCC_0_0.mp4": {
            "meta_video_names": "vidCCCCCCCC_0",
            "ytb_id": "vidCCCCCCCC",
            "duration": {"start_frame": 0.5, "end_frame": 2.5},  # seconds, as the README documents
            "bbox": {"top": 0, "bottom": 120, "left": 20, "right": 140},
            "version": "v0.11",
        },
        "vidCCCCCCCC_1": {
            "ytb_id": "vidCCCCCCCC",
            "duration": {"start_sec": 1.0, "end_sec": 2.0},
            "bbox": {"top": 0.25, "bottom": 0.75, "left": 0.25, "right": 0.75},
            "version": "v0.1",
        },
        "vidDDDDDDDD_0": {
            "ytb_id": "vidDDDDDDDD",
            "duration": {"start_sec": 0.0, "end_sec": 1.0},
            "bbox": {"top": 0.1, "bottom": 0.9, "left": 0.1, "right": 0.9},
            "version": "v0.1",
        },
    }
    root.mkdir()
    (root / "celebvtext_info.json").write_text(json.dumps(info))
    for kind, text in [
        ("face40_details_new", "A man with short hair.\nAnother sentence."),
        ("emotion", "He looks happy."),
        ("light_colot_temp", "Natural light."),
    ]:
        (root / "texts" / kind).mkdir(parents=True)
        (root / "texts" / kind / "vidCCCCCCCC_1_2.txt").write_text(text)  # name mismatch: _2 added
    act = {"vidCCCCCCCC_1_2": [["talk", ["0:00:00", "0:00:01", 1.0, 0]], ["nod", ["0:00:00", "0:00:01", 1.0, 0]]]}
    (root / "annotations.pkl").write_bytes(pickle.dumps({"act": act, "app": {}}))
    elsewhere = tmp_path / "downloads"  # not <data_dir>/videos: passed with videos_dir=
    make_index_video(elsewhere / "vidCCCCCCCC.mp4", 30, FPS, (H, W), audio=False)
    cache = tmp_path / "cache"
    records, _ = _load("celebv-text", root, cache, videos_dir=str(elsewhere))
    _check_common(records, "celebv-text")
    assert sorted(records) == ["vidCCCCCCCC_0_0", "vidCCCCCCCC_1"]
    a, b = records["vidCCCCCCCC_0_0"], records["vidCCCCCCCC_1"]
    # pixel box = index grid, enlarged by 0.02 and squared like CelebV-HQ: still the grid; frames 5..24
    assert (a["width"], a["height"], a["num_frames"]) == (120, 120, 20)
    assert _indices(a) == list(range(5, 25))
    box = enlarge_square_box((0.25, 0.75, 0.25, 0.75), W, H)  # normalised 0.25..0.75 of 160x120
    assert (b["width"], b["height"]) == (box.w, box.h) == (64, 64) and b["audio_source"] == "none"
    assert b["caption"] == "A man with short hair. He looks happy. Natural light."
    assert b["attributes"]["emotion"] == "Happy" and b["attributes"]["action"] == ["Talk", "Nod"]
    assert b["attributes"]["light"] == ["Natural"]
    assert json.loads(b["original"])["annotation_name"] == "vidCCCCCCCC_1_2"
    assert a["caption"] is None and json.loads(a["original"])["meta_video_names"] == "vidCCCCCCCC_0"
    report = _report("celebv-text", cache)
    assert set(report) == {"vidDDDDDDDD_0"} and report["vidDDDDDDDD_0"].status == "missing"


# -- TalkingHead-1KH ------------------------------------------------------------------------------


def test_talkinghead_build(tmp_path):
    root = tmp_path / "th1kh"
    (root / "data_list").mkdir(parents=True)
    # the box is the index grid at twice the downloaded size; chunk 0000 is its own file
    (root / "data_list" / "train_video_tubes.txt").write_text(
        "vidEEEEEEEE_0000,240,320,3,12,40,0,280,240\nvidEEEEEEEE_0000,240,320,0,4,0,0,100,100\n"
        "vidFFFFFFFF_0000,240,320,0,9,40,0,280,240\nbroken line\n"
    )
    # chunk 0001 of a full 70 s download with a key frame every 7 s: it starts at 63 s (frame 630)
    (root / "data_list" / "val_video_tubes.txt").write_text("vidGGGGGGGG_0001,64,64,5,14,0,0,64,64\n")
    make_index_video(root / "videos" / "vidEEEEEEEE_0000.mp4", 30, FPS, (H, W), audio=False)
    make_index_video(root / "videos" / "full" / "vidGGGGGGGG.mp4", 700, FPS, (64, 64), audio=False, gop=70)
    cache = tmp_path / "cache"
    records, ds = _load("talkinghead-1kh", root, cache)
    _check_common(records, "talkinghead-1kh")
    tube = "vidEEEEEEEE_0000_S3_E12_L40_T0_R280_B240"
    val = "vidGGGGGGGG_0001_S5_E14_L0_T0_R64_B64"
    assert sorted(records) == sorted([tube, "vidEEEEEEEE_0000_S0_E4_L0_T0_R100_B100", val])
    assert set(ds) == {"train", "validation"} and records[val]["split"] == "validation"
    r = records[tube]
    assert (r["width"], r["height"], r["num_frames"]) == (120, 120, 10)
    assert _indices(r) == list(range(3, 13)) and r["audio_source"] == "none" and r["identity"] == "vidEEEEEEEE"
    small = records["vidEEEEEEEE_0000_S0_E4_L0_T0_R100_B100"]
    assert (small["width"], small["height"], small["num_frames"]) == (50, 50, 5)
    assert _indices(records[val]) == list(range(635, 645))
    assert json.loads(records[val]["original"])["full_video"] is True
    report = _report("talkinghead-1kh", cache)
    assert report["vidFFFFFFFF_0000_S0_E9_L40_T0_R280_B240"].status == "missing"
    assert report["broken line"].file.endswith("train_video_tubes.txt:4")
    assert len(records) + len(report) == 5

    (root / "data_list" / "small_video_tubes.txt").write_text("vidEEEEEEEE_0000,240,320,0,4,0,0,100,100\n")
    small_set, ds = _load("talkinghead-1kh", root, cache, "small")
    assert list(small_set) == ["vidEEEEEEEE_0000_S0_E4_L0_T0_R100_B100"] and set(ds) == {"train"}


# -- VoxCeleb2 ------------------------------------------------------------------------------------

VOX_TXT = (
    "Identity  : \t{id}\nReference : \t{yt}\nOffset    : \t-1\nFV Conf   : \t16.1\t(1)\nASD Conf  : \t5.5\n\n"
    "FRAME \tX \tY \tW \tH \n000001 \t0.1 \t0.2 \t0.5 \t0.6 \n"
)


def test_voxceleb2_build(tmp_path):
    root = tmp_path / "vox2"
    clips = {("dev", "id00017", "_mjZ87sK6cA"): True, ("test", "id00018", "abcdefghijk"): False}
    for (split, ident, yt), with_m4a in clips.items():
        mp4 = make_index_video(root / split / "mp4" / ident / yt / "00001.mp4", 20, 25.0, (64, 64), audio=True)
        txt = root / split / "txt" / ident / yt / "00001.txt"
        txt.parent.mkdir(parents=True)
        txt.write_text(VOX_TXT.format(id=ident, yt=yt))
        if with_m4a:
            m4a = root / split / "aac" / ident / yt / "00001.m4a"
            m4a.parent.mkdir(parents=True)
            run_ffmpeg(["-i", str(mp4), "-vn", "-c:a", "copy", str(m4a)], mp4)
    for yt, text in [
        ("gone0000000", VOX_TXT.format(id="id00019", yt="gone0000000")),
        ("badtxt00000", "FRAME X\n1 2\n"),
    ]:
        (root / "test" / "txt" / "id00019" / yt).mkdir(parents=True)
        (root / "test" / "txt" / "id00019" / yt / "00001.txt").write_text(text)
    cache = tmp_path / "cache"
    records, ds = _load("voxceleb2", root, cache)
    _check_common(records, "voxceleb2")
    dev, test = records["id00017__mjZ87sK6cA_00001"], records["id00018_abcdefghijk_00001"]
    assert set(records) == {dev["clip_id"], test["clip_id"]}
    assert dev["split"] == "train" and test["split"] == "test" and dev["identity"] == "id00017"
    assert dev["audio_source"] == "file" and dev["audio"]["path"].endswith("00001.m4a")
    assert test["audio_source"] == "video" and dev["video"]["path"].endswith("_mjZ87sK6cA/00001.mp4")
    assert (dev["width"], dev["num_frames"], dev["quality"]["sync_offset"]) == (64, 20, -1)
    assert dev["quality"]["sync_confidence"] == pytest.approx(5.5)
    assert json.loads(dev["original"])["frames"] == [[1, 0.1, 0.2, 0.5, 0.6]]
    report = _report("voxceleb2", cache)
    assert report["id00019_gone0000000_00001"].status == "missing"
    assert report["id00019_badtxt00000_00001"].status == "bad-metadata"
    assert len(records) + len(report) == 4
