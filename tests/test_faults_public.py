"""Fault suite of the public-release builders (HDTF, CelebV-HQ, CelebV-Text, TalkingHead-1KH,
VoxCeleb2): bad official files and downloads, one case each.

Every case starts from a small good release of one builder (one listed clip and its downloaded
video), adds one bad thing (a NaN time, an infinite box, a box a little outside the frame, a symlink
leading out of the downloads, ...), builds it and checks the outcome a user should get: the good
clip is built, the bad entry is one report line naming the file with its reason (or the clip is
built and a `partial` line says what was repaired), no traceback, and no clip smaller than a face.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from facevid_datasets.cutting import MIN_CROP_SIDE
from facevid_datasets.loading import load_builder
from facevid_datasets.testing import make_index_video

FPS = 10.0
W, H = 160, 120

Setup = Callable[[Path, Path, Path], None]  # (release root, source video, tmp_path)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A 2 s, 160x120 video whose frames draw their index (no audio)."""
    return make_index_video(tmp_path_factory.mktemp("faultsrc") / "src.mp4", 20, FPS, (H, W), audio=False)


def _hq(start, end, bbox, ytb="vidAAAAAAAA", emotion=None) -> dict:
    return {
        "ytb_id": ytb,
        "duration": {"start_sec": start, "end_sec": end},
        "bbox": dict(zip(("top", "bottom", "left", "right"), bbox, strict=True)),
        "attributes": {"emotion": emotion or {"sep_flag": False, "labels": "neutral"}},
        "version": "v0.1",
    }


GOOD_BOX = (0.1, 0.9, 0.2, 0.7)
VOX_TXT = "Identity  : \t{id}\nReference : \t{yt}\nOffset    : \t-1\n\nFRAME \tX \tY \tW \tH \n{rows}"


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _good(name: str, root: Path, src: Path) -> str:
    """Write the good release of builder `name` into `root`; returns its one clip id."""
    if name == "hdtf":
        meta = root / "HDTF_dataset"
        _write(meta / "RD_annotion_time.txt", "Radio1.mp4 00:00-00:01\n")
        _write(meta / "RD_resolution.txt", "Radio1.mp4 120\n")
        _write(meta / "RD_crop_wh.txt", "Radio1_0.mp4 20 120 0 120\n")
        _write(meta / "RD_crop_ratio.txt", "Radio1_0.mp4 1.2\n")
        _write(root / "videos" / "Radio1.mp4", src.read_bytes())
        return "Radio1_0"
    if name in ("celebv-hq", "celebv-text"):
        clips = {"vidAAAAAAAA_0": _hq(0.0, 1.0, GOOD_BOX)}
        info = {"clips": clips} if name == "celebv-hq" else clips
        _write(root / ("celebvhq_info.json" if name == "celebv-hq" else "celebvtext_info.json"), json.dumps(info))
        _write(root / "videos" / "vidAAAAAAAA.mp4", src.read_bytes())
        return "vidAAAAAAAA_0"
    if name == "talkinghead-1kh":
        _write(root / "data_list" / "train_video_tubes.txt", "vidEEEEEEEE_0000,120,160,0,9,20,0,140,120\n")
        _write(root / "videos" / "vidEEEEEEEE_0000.mp4", src.read_bytes())
        return "vidEEEEEEEE_0000_S0_E9_L20_T0_R140_B120"
    assert name == "voxceleb2"
    clip = root / "dev" / "{}" / "id00001" / "ytAAAAAAAAA" / "00001.{}"
    _write(Path(str(clip).format("mp4", "mp4")), src.read_bytes())
    _write(Path(str(clip).format("txt", "txt")), VOX_TXT.format(id="id00001", yt="ytAAAAAAAAA",
                                                               rows="000001 \t0.1 \t0.2 \t0.5 \t0.6 \n"))  # fmt: skip
    return "id00001_ytAAAAAAAAA_00001"


def _build(name: str, root: Path, tmp: Path):
    b = load_builder(name, None, data_dir=str(root), cache_dir=str(tmp / "cache"))
    b.download_and_prepare()
    dsd = b.as_dataset()
    return {r["clip_id"]: r for s in dsd for r in dsd[s]}, b.report.rows()


def _outside(tmp: Path, src: Path, name: str = "secret.mp4") -> Path:
    p = tmp / "outside" / name
    p.parent.mkdir(exist_ok=True)
    shutil.copy(src, p)
    return p


# -- setups ---------------------------------------------------------------------------------------


def _append(rel: str, text: str, video: str | None = None) -> Setup:
    """Append `text` to the official file `rel`; put the source video at `videos/<video>` too."""

    def run(root, src, tmp):
        with (root / rel).open("a") as f:
            f.write(text)
        if video:
            shutil.copy(src, root / "videos" / video)

    return run


def _hdtf_clip(interval: str, crop: str, ratio: str | None = None, video: str = "Radio2.mp4") -> Setup:
    """A second HDTF video with one interval and its crop line (the reference height left 0)."""

    def run(root, src, tmp):
        _append("HDTF_dataset/RD_annotion_time.txt", f"Radio2.mp4 {interval}\n", video)(root, src, tmp)
        _append("HDTF_dataset/RD_crop_wh.txt", f"Radio2_0.mp4 {crop}\n")(root, src, tmp)
        if ratio is not None:
            _append("HDTF_dataset/RD_crop_ratio.txt", f"Radio2_0.mp4 {ratio}\n")(root, src, tmp)

    return run


def _celebv_clip(rec: dict | str, file: str = "celebvhq_info.json", cid: str = "vidBBBBBBBB_0") -> Setup:
    """One more clip (a record, or the raw JSON text of one) in a CelebV info file, its video downloaded."""

    def run(root, src, tmp):
        text = (root / file).read_text()
        raw = rec if isinstance(rec, str) else json.dumps(rec)  # json.dumps writes NaN / Infinity as given
        tail = "}}" if file == "celebvhq_info.json" else "}"
        _write(root / file, text[: -len(tail)] + f', "{cid}": {raw}' + tail)
        shutil.copy(src, root / "videos" / "vidBBBBBBBB.mp4")

    return run


def _hq_box(**box) -> dict:
    return _hq(0.0, 1.0, tuple({**dict(zip(("top", "bottom", "left", "right"), GOOD_BOX, strict=True)),
                                **box}.values()), ytb="vidBBBBBBBB")  # fmt: skip


def _link(rel: str, target: Callable[[Path, Path, Path], Path], then: Setup | None = None) -> Setup:
    """A symlink at `rel` to `target(root, src, tmp)`; `then` lists the clip in the official files."""

    def run(root, src, tmp):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.symlink_to(target(root, src, tmp))
        if then is not None:
            then(root, src, tmp)

    return run


def _outside_dir(name: str) -> Callable[[Path, Path, Path], Path]:
    def target(root, src, tmp):
        return _outside(tmp, src, name).parent

    return target


def _th_line(line: str, video: str | None = "vidFFFFFFFF_0000.mp4") -> Setup:
    return _append("data_list/train_video_tubes.txt", line + "\n", video)


def _vox_txt(rows: str, key: str = "id00002/ytBBBBBBBBB/00001", mp4: bool = True) -> Setup:
    def run(root, src, tmp):
        ident, yt, _ = key.split("/")
        _write(root / "dev" / "txt" / f"{key}.txt", VOX_TXT.format(id=ident, yt=yt, rows=rows))
        if mp4:
            _write(root / "dev" / "mp4" / f"{key}.mp4", src.read_bytes())

    return run


def _utf16(rel_files: tuple[str, ...]) -> Setup:
    def run(root, src, tmp):
        for rel in rel_files:
            (root / rel).write_bytes((root / rel).read_text().encode("utf-16"))

    return run


def _then(*setups: Setup) -> Setup:
    def run(root, src, tmp):
        for setup in setups:
            setup(root, src, tmp)

    return run


def _write_file(rel: str, data: bytes) -> Setup:
    return lambda root, src, tmp: _write(root / rel, data)


def _pkl(act: dict) -> Setup:
    def run(root, src, tmp):
        (root / "annotations.pkl").write_bytes(pickle.dumps({"act": act, "app": {}}))

    return run


HDTF, HQ, TEXT, TH, VOX = "hdtf", "celebv-hq", "celebv-text", "talkinghead-1kh", "voxceleb2"
R2, B0 = "Radio2_0", "vidBBBBBBBB_0"
TH_F = "vidFFFFFFFF_0000_S0_E9_L20_T0_R140_B120"
VOX2 = "id00002_ytBBBBBBBBB_00001"
NAN_ROW = "000001 \tnan \t0.2 \t0.5 \t0.6 \n"

# (case id, builder, setup, extra clips built besides the good one, (status, text in reason or file))
CASES = [
    # HDTF: times, crop boxes and ratios
    ("hdtf-time-nan", HDTF, _hdtf_clip("nan-00:01", "20 120 0 120"), [], ("bad-metadata", "not a clock time")),
    ("hdtf-time-inf", HDTF, _hdtf_clip("00:00-inf", "20 120 0 120"), [], ("bad-metadata", "not a clock time")),
    ("hdtf-crop-nan", HDTF, _hdtf_clip("00:00-00:01", "nan 120 0 120"), [], ("bad-metadata", "finite")),
    ("hdtf-crop-inf", HDTF, _hdtf_clip("00:00-00:01", "20 inf 0 120"), [], ("bad-metadata", "finite")),
    ("hdtf-crop-text", HDTF, _hdtf_clip("00:00-00:01", "20 wide 0 120"), [], ("bad-metadata", "must be a number")),
    ("hdtf-crop-empty", HDTF, _hdtf_clip("00:00-00:01", "20 0 0 120"), [], ("bad-metadata", "is empty")),
    ("hdtf-crop-tiny", HDTF, _hdtf_clip("00:00-00:01", "20 4 0 4"), [], ("error", "smaller than")),
    ("hdtf-ratio-nan", HDTF, _hdtf_clip("00:00-00:01", "20 120 0 120", "NaN"), [R2], ("partial", "crop ratio")),
    ("hdtf-utf16-files", HDTF, _utf16(("HDTF_dataset/RD_annotion_time.txt", "HDTF_dataset/RD_crop_wh.txt")), [],
     None),
    ("hdtf-symlink-outside", HDTF, _link("videos/Radio2.mp4", lambda r, s, t: _outside(t, s),
                                         _hdtf_clip("00:00-00:01", "20 120 0 120", video=None)), [],
     ("unsafe-path", "outside the release root")),
    ("hdtf-folder-symlink-outside", HDTF, _link("videos/more", _outside_dir("Radio2.mp4"),
                                                _hdtf_clip("00:00-00:01", "20 120 0 120", video=None)), [],
     ("unsafe-path", "outside the release root")),
    ("hdtf-symlink-inside", HDTF, _link("videos/Radio2.mp4", lambda r, s, t: r / "videos" / "Radio1.mp4",
                                        _hdtf_clip("00:00-00:01", "20 120 0 120", video=None)), [R2], None),
    ("hdtf-symlink-loop", HDTF, _link("videos/loop", lambda r, s, t: r / "videos"), [], ("skipped", "loop")),
    # CelebV-HQ: NaN / Infinity anywhere in the numbers, boxes at the frame's edge, wrong types
    ("hq-start-nan", HQ, _celebv_clip(_hq(float("nan"), 1.0, GOOD_BOX, "vidBBBBBBBB")), [],
     ("bad-metadata", "duration.start_sec must be a finite number")),
    ("hq-end-inf", HQ, _celebv_clip(_hq(0.0, float("inf"), GOOD_BOX, "vidBBBBBBBB")), [],
     ("bad-metadata", "duration.end_sec must be a finite number")),
    ("hq-top-nan", HQ, _celebv_clip(_hq_box(top=float("nan"))), [], ("bad-metadata", "bbox.top")),
    ("hq-bottom-inf", HQ, _celebv_clip(_hq_box(bottom=float("inf"))), [], ("bad-metadata", "bbox.bottom")),
    ("hq-left-minus-inf", HQ, _celebv_clip(_hq_box(left=float("-inf"))), [], ("bad-metadata", "bbox.left")),
    ("hq-box-text", HQ, _celebv_clip(_hq_box(right="wide")), [], ("bad-metadata", "must be a number")),
    ("hq-box-bool", HQ, _celebv_clip(_hq_box(right=True)), [], ("bad-metadata", "must be a number")),
    ("hq-box-slightly-outside", HQ, _celebv_clip(_hq_box(bottom=1.05, left=-0.02)), [B0],
     ("partial", "clamped to the frame")),
    ("hq-box-tiny", HQ, _celebv_clip(_hq_box(top=0.5, bottom=0.501, left=0.5, right=0.501)), [],
     ("error", "smaller than")),
    ("hq-start-negative", HQ, _celebv_clip(_hq(-3.0, 1.0, GOOD_BOX, "vidBBBBBBBB")), [], ("bad-metadata", "negative")),
    ("hq-record-list", HQ, _celebv_clip([1, 2]), [], ("bad-metadata", "not an object")),
    ("hq-duration-list", HQ, _celebv_clip({**_hq_box(), "duration": [0, 1]}), [], ("bad-metadata", "objects")),
    ("hq-emotion-segment-nan", HQ, _celebv_clip(_hq(0.0, 1.0, GOOD_BOX, "vidBBBBBBBB", {"sep_flag": True, "labels": [
        {"emotion": "happy", "start_sec": float("nan"), "end_sec": 1.0}]})), [B0], None),  # fmt: skip
    ("hq-symlink-outside", HQ, _link("videos/vidBBBBBBBB.mp4", lambda r, s, t: _outside(t, s),
                                     lambda r, s, t: None), [], ("unsafe-path", "outside the release root")),
    ("hq-utf16-info", HQ, _utf16(("celebvhq_info.json",)), [], None),
    # CelebV-Text: the same numbers in its flat info file, pixel boxes, its annotations.pkl
    ("text-start-frame-nan", TEXT, _celebv_clip({**_hq_box(), "duration": {"start_frame": "NaN", "end_frame": 1}},
                                                "celebvtext_info.json"), [], ("bad-metadata", "finite")),
    ("text-pixel-box-inf", TEXT, _celebv_clip(_hq(0.0, 1.0, (0, float("inf"), 20, 140), "vidBBBBBBBB"),
                                              "celebvtext_info.json"), [], ("bad-metadata", "bbox.bottom")),
    ("text-box-slightly-outside", TEXT, _celebv_clip(_hq_box(top=-0.03, right=1.02), "celebvtext_info.json"), [B0],
     ("partial", "clamped to the frame")),
    ("text-symlink-outside", TEXT, _link("videos/vidBBBBBBBB.mp4", lambda r, s, t: _outside(t, s)), [],
     ("unsafe-path", "outside the release root")),
    ("text-action-duration-nan", TEXT, _then(_celebv_clip(_hq_box(), "celebvtext_info.json"),
                                             _pkl({B0: [["talk", ["0:00:00", "0:00:01", float("nan"), 0]]]})), [],
     ("bad-metadata", "not understood")),
    ("text-action-time-text", TEXT, _then(_celebv_clip(_hq_box(), "celebvtext_info.json"),
                                          _pkl({B0: [["talk", ["soon", "0:00:01", 1.0, 0]]]})), [],
     ("bad-metadata", "not a clock time")),
    ("text-pickle-corrupt", TEXT, _write_file("annotations.pkl", b"\x80\x04garbage"), [],
     ("bad-metadata", "not a readable pickle")),
    ("text-pickle-act-list", TEXT, _write_file("annotations.pkl", pickle.dumps({"act": [1], "app": {}})), [],
     ("bad-metadata", "'act' must map")),
    # TalkingHead-1KH: tube numbers
    ("th-nan-field", TH, _th_line("vidFFFFFFFF_0000,120,160,0,nan,20,0,140,120"), [], ("bad-metadata", "finite")),
    ("th-inf-field", TH, _th_line("vidFFFFFFFF_0000,120,160,0,9,20,0,inf,120"), [], ("bad-metadata", "finite")),
    ("th-fraction-field", TH, _th_line("vidFFFFFFFF_0000,120,160,0,9.5,20,0,140,120"), [],
     ("bad-metadata", "whole number")),
    ("th-tiny-box", TH, _th_line("vidFFFFFFFF_0000,120,160,0,9,20,0,24,4"), [], ("error", "smaller than")),
    ("th-symlink-outside", TH, _link("videos/vidFFFFFFFF_0000.mp4", lambda r, s, t: _outside(t, s),
                                     _th_line("vidFFFFFFFF_0000,120,160,0,9,20,0,140,120", None)), [],
     ("unsafe-path", "outside the release root")),
    # VoxCeleb2: face rows of the clip txt, symlinks in the unpacked trees
    ("vox-row-nan", VOX, _vox_txt(NAN_ROW), [], ("bad-metadata", "finite")),
    ("vox-row-inf", VOX, _vox_txt("000001 \t0.1 \tinf \t0.5 \t0.6 \n"), [], ("bad-metadata", "finite")),
    ("vox-frame-fraction", VOX, _vox_txt("1.5 \t0.1 \t0.2 \t0.5 \t0.6 \n"), [], ("bad-metadata", "whole number")),
    ("vox-mp4-symlink-outside", VOX, _link("dev/mp4/id00002/ytBBBBBBBBB/00001.mp4", lambda r, s, t: _outside(t, s),
                                           _vox_txt("", mp4=False)), [], ("unsafe-path", "outside the release root")),
    ("vox-m4a-symlink-outside", VOX, _link("dev/aac/id00001/ytAAAAAAAAA/00001.m4a",
                                           lambda r, s, t: _outside(t, s, "voice.m4a")), [],
     ("unsafe-path", "outside the release root")),
]


@pytest.mark.parametrize("case_id, name, setup, extra, reported", CASES, ids=[c[0] for c in CASES])
def test_public_fault(case_id, name, setup, extra, reported, source, tmp_path):
    root = tmp_path / "release"
    good = _good(name, root, source)
    setup(root, source, tmp_path)
    recs, report = _build(name, root, tmp_path)
    assert sorted(recs) == sorted([good, *extra]), report
    for rec in recs.values():  # never a clip smaller than a face: a box read wrongly is refused
        assert min(rec["width"], rec["height"]) >= MIN_CROP_SIDE, rec["clip_id"]
        assert not os.path.realpath(rec["video"]["path"]).startswith(str(tmp_path / "outside"))
    if reported is None:
        assert not [r for r in report if r.status not in ("partial", "missing")], report
        return
    status, text = reported
    hits = [r for r in report if r.status == status and (text in r.reason or text in r.file)]
    assert hits, f"no {status!r} line mentioning {text!r} in {report}"
    assert all(r.file for r in hits)  # every line names a file


def test_box_slightly_outside_gives_the_clamped_box(source, tmp_path):
    """`bottom: 1.05, left: -0.02` is the normalised box clamped to the frame, not a 6 px pixel box."""
    from facevid_datasets.parsing import enlarge_square_box

    root = tmp_path / "release"
    _good(HQ, root, source)
    _celebv_clip(_hq_box(bottom=1.05, left=-0.02))(root, source, tmp_path)
    recs, _ = _build(HQ, root, tmp_path)
    want = enlarge_square_box((0.1, 1.0, 0.0, 0.7), W, H).even()
    assert (recs[B0]["width"], recs[B0]["height"]) == (want.w, want.h) and want.w >= 100


def test_symlinked_source_is_never_cut_nor_exported(source, tmp_path):
    """A download symlinked from outside the videos folder: not cut into the cache, so not exported."""
    from facevid_datasets.hub.export import export_dataset

    root = tmp_path / "release"
    _good(HDTF, root, source)
    _link("videos/Radio2.mp4", lambda r, s, t: _outside(t, s), _hdtf_clip("00:00-00:01", "20 120 0 120", video=None))(
        root, source, tmp_path
    )
    res = export_dataset(HDTF, tmp_path / "export", data_dir=str(root), cache_dir=str(tmp_path / "cache"),
                         progress=False)  # fmt: skip
    assert sum(res.rows.values()) == 1 and res.outside == []
    assert not list((tmp_path / "cache").rglob("Radio2_0*.mp4"))
    secret = (tmp_path / "outside" / "secret.mp4").read_bytes()
    assert all(secret not in p.read_bytes() for ps in res.shards.values() for p in ps)


def _cli(args: list[str]) -> str:
    from typer.testing import CliRunner

    from facevid_datasets.cli import app

    res = CliRunner().invoke(app, args)
    text = (res.stdout or "") + (res.stderr or "")
    assert res.exit_code == 1, text
    error = text.strip().split("\n\n")[-1]  # after the dataset's licence notice (a paragraph of its own)
    assert "Traceback" not in text and len(error.splitlines()) == 1, text
    return error


@pytest.mark.parametrize(
    "name, file, data, said",
    [
        (HQ, "celebvhq_info.json", b"[1, 2]", 'expected {"meta_info"'),
        (HQ, "celebvhq_info.json", b'{"clips": {"a": ', "not valid JSON"),
        (HQ, "celebvhq_info.json", b'{"clips": [1]}', 'expected {"meta_info"'),
        (TEXT, "celebvtext_info.json", b'"text"', "top level is a str"),
    ],
    ids=["hq-info-list", "hq-info-truncated", "hq-clips-list", "text-info-string"],
)
def test_cli_unusable_official_file_is_one_line(name, file, data, said, tmp_path):
    root = tmp_path / "release"
    _write(root / file, data)
    text = _cli(["export", name, "--out", str(tmp_path / "o"), "--data-dir", str(root),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert said in text and file in text
    assert not (root / "README.md").exists()
