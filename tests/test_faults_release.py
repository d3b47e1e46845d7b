"""Fault suite of the release-layout builders: bad inputs a real download holds, one case each.

Every case starts from a small good release (three clips, metadata, side files), breaks one
thing, builds `facevid-1k/all`, and checks the documented outcome: the good clips are built, and
the bad input is one report line naming the file (and line) with its reason, or the clip is built
with the field left empty and a `partial` line. Kill -9 cases live in `test_faults_kill.py`.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from facevid_datasets.loading import load_builder
from facevid_datasets.testing import make_index_video

GOOD = ["000001", "000002", "000003"]
FRAMES = 10


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("faultmedia")
    av = make_index_video(d / "av.mp4", num_frames=FRAMES, fps=25, size=(64, 64))
    data = av.read_bytes()
    (d / "trunc.mp4").write_bytes(data[: len(data) * 6 // 10])
    os.system(f"ffmpeg -v error -y -i {av} -vn -c copy {d / 'audio_only.m4a'}")
    shutil.copy(d / "audio_only.m4a", d / "audio_only.mp4")
    return {"av": av, "trunc": d / "trunc.mp4", "audio_only": d / "audio_only.mp4"}


def _rows() -> list[dict]:
    return [{"clip_id": c, "identity": f"p{i}", "split": "train"} for i, c in enumerate(GOOD)]


def _jsonl(root: Path, rows: list, name: str = "metadata.jsonl") -> None:
    (root / name).write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


@pytest.fixture
def release(tmp_path, media) -> Path:
    root = tmp_path / "rel"
    (root / "videos").mkdir(parents=True)
    for c in GOOD:
        shutil.copy(media["av"], root / "videos" / f"{c}.mp4")
    _jsonl(root, _rows())
    return root


def _build(root: Path, tmp_path: Path, **kw):
    b = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(tmp_path / "cache"), **kw)
    b.download_and_prepare()
    dsd = b.as_dataset()
    recs = {r["clip_id"]: r for s in dsd for r in dsd[s]}
    return recs, b.report.rows(), b


def _outside(tmp_path: Path, name: str = "secret.mp4", src: Path | None = None) -> Path:
    p = tmp_path / "outside" / name
    p.parent.mkdir(exist_ok=True)
    if src is not None:
        shutil.copy(src, p)
    else:
        p.write_bytes(b"top secret")
    return p


# -- cases: (id, setup(root, media, tmp_path), clips built, (status, text in reason or file)) ------

Setup = Callable[[Path, dict, Path], None]


def _meta_line(line: str | dict) -> Setup:
    """Append one extra metadata line (bad in some way) to the good release."""
    return lambda root, media, tmp: _jsonl(root, [*_rows(), line])


def _row(**fields) -> Setup:
    return _meta_line({"clip_id": "000009", **fields})


def _with_video(setup: Setup, cid: str = "000009") -> Setup:
    def run(root, media, tmp):
        shutil.copy(media["av"], root / "videos" / f"{cid}.mp4")
        setup(root, media, tmp)

    return run


def _raw_meta(data: bytes) -> Setup:
    def run(root, media, tmp):
        with (root / "metadata.jsonl").open("ab") as f:
            f.write(data)

    return run


PROBE = {"fps": 25, "num_frames": FRAMES, "width": 64, "height": 64, "duration": 0.4, "has_audio": True}

METADATA_CASES = [
    ("bad-json", _meta_line("{oops"), GOOD, ("bad-metadata", "not valid JSON")),
    ("json-array", _meta_line("[1, 2]"), GOOD, ("bad-metadata", "expected a JSON object")),
    ("json-string", _meta_line('"hello"'), GOOD, ("bad-metadata", "expected a JSON object")),
    ("non-utf8-line", _raw_meta(b'{"clip_id": "\xff\xfe"}\n'), GOOD, ("bad-metadata", "not valid UTF-8")),
    ("deep-json", _meta_line("[" * 100_000 + "]" * 100_000), GOOD, ("bad-metadata", "nested too deeply")),
    ("no-clip-id", _meta_line({"identity": "x"}), GOOD, ("bad-metadata", "no clip_id")),
    ("clip-id-list", _meta_line({"clip_id": [1]}), GOOD, ("bad-metadata", "clip_id must be a string")),
    ("clip-id-bool", _meta_line({"clip_id": True}), GOOD, ("bad-metadata", "clip_id must be a string")),
    ("clip-id-slash", _meta_line({"clip_id": "a/b"}), GOOD, ("bad-metadata", "not a valid file stem")),
    ("duplicate-row", _meta_line({"clip_id": "000001", "identity": "zz"}), GOOD, ("bad-metadata", "appears twice")),
    ("fps-text", _row(fps="fast"), GOOD, ("bad-metadata", "fps must be a number")),
    ("fps-nan", _meta_line('{"clip_id": "000009", "fps": NaN}'), GOOD, ("bad-metadata", "finite")),
    ("fps-inf", _meta_line('{"clip_id": "000009", "fps": Infinity}'), GOOD, ("bad-metadata", "finite")),
    ("frames-overflow", _meta_line('{"clip_id": "000009", "num_frames": 1e400}'), GOOD, ("bad-metadata", "finite")),
    ("frames-absurd", _row(num_frames=2**40), GOOD, ("bad-metadata", "implausible")),
    ("width-negative", _row(width=-5), GOOD, ("bad-metadata", "non-negative")),
    ("duration-absurd", _row(duration=1e12), GOOD, ("bad-metadata", "implausible")),
    ("fps-zero-probe-fields", _row(**{**PROBE, "fps": 0}), GOOD, ("bad-metadata", "must be positive")),
    ("split-unknown", _row(split="dev"), GOOD, ("bad-metadata", "split 'dev'")),
    ("attributes-string", _row(attributes="Asian"), GOOD, ("bad-metadata", "attributes must be an object")),
    ("head-pose-number", _row(head_pose=3), GOOD, ("bad-metadata", "head_pose must be")),
    ("brisque-text", _row(quality={"brisque": "x"}), GOOD, ("bad-metadata", "brisque must be a number")),
    ("sync-offset-huge", _row(quality={"sync_offset": 10**20}), GOOD, ("bad-metadata", "sync_offset")),
    ("video-not-string", _row(video=123), GOOD, ("bad-metadata", "video must be a relative file path")),
    ("video-dotdot", _row(video="../../etc/passwd"), GOOD, ("unsafe-path", "leaves the release root")),
    ("video-absolute", _row(video="/etc/passwd"), GOOD, ("unsafe-path", "absolute path")),
    ("video-windows-absolute", _row(video="C:\\Windows\\x.mp4"), GOOD, ("unsafe-path", "absolute path")),
    ("video-nul", _row(video="a\x00.mp4"), GOOD, ("unsafe-path", "NUL")),
    ("audio-dotdot", _with_video(_row(audio="../secret.wav")), GOOD, ("unsafe-path", "leaves the release root")),
    ("audio-absolute", _with_video(_row(audio="/etc/hostname")), GOOD, ("unsafe-path", "absolute path")),
    ("video-missing", _row(video="videos/nowhere.mp4"), GOOD, ("missing", "not found")),
    ("listed-no-file", _row(identity="p9"), GOOD, ("missing", "no video file found")),
    ("audio-missing", _with_video(_row(audio="audio/none.wav")), [*GOOD, "000009"], ("partial", "not found")),
    ("bom-and-blank-lines", lambda r, m, t: (r / "metadata.jsonl").write_text(
        "\ufeff" + "\n\n".join(json.dumps(x) for x in _rows()) + "\n   \n"), GOOD, None),
]


def _video_link(target: Callable[[Path, dict, Path], Path], name: str = "000009.mp4") -> Setup:
    def run(root, media, tmp):
        (root / "videos" / name).symlink_to(target(root, media, tmp))

    return run


def _write(rel: str, data: bytes | Callable[[dict], bytes]) -> Setup:
    def run(root, media, tmp):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data(media) if callable(data) else data)

    return run


def _metadata_link(root, media, tmp):
    secret = _outside(tmp, "evil.mp4", media["av"])
    (root / "inside_link.mp4").symlink_to(secret)
    _jsonl(root, [*_rows(), {"clip_id": "000009", "video": "inside_link.mp4"}])


def _non_utf8_name(root, media, tmp):
    shutil.copy(media["av"], os.path.join(os.fsencode(root / "videos"), b"caf\xe9.mp4"))


def _loop(root, media, tmp):
    (root / "videos" / "loop").symlink_to(root / "videos", target_is_directory=True)


def _dup_on_disk(root, media, tmp):
    (root / "more").mkdir()
    shutil.copy(media["av"], root / "more" / "000001.mp4")


def _audio_only(root, media, tmp):
    shutil.copy(media["audio_only"], root / "videos" / "000009.mp4")


def _outside_dir_link(root, media, tmp):
    d = tmp / "outside_dir"
    d.mkdir()
    shutil.copy(media["av"], d / "000009.mp4")
    (root / "videos" / "ext").symlink_to(d, target_is_directory=True)


FILE_CASES = [
    ("video-empty", _write("videos/000009.mp4", b""), GOOD, ("error", "empty")),
    ("video-garbage", _write("videos/000009.mp4", b"\x00garbage" * 100), GOOD, ("error", "000009.mp4")),
    ("video-no-video-stream", _audio_only, GOOD, ("error", "no video stream")),
    ("video-truncated-index-full", _write("videos/000009.mp4", lambda m: m["trunc"].read_bytes()),
     [*GOOD, "000009"], ("partial", "truncated")),
    ("video-symlink-outside", _video_link(lambda r, m, t: _outside(t, "x.mp4", m["av"])), GOOD,
     ("unsafe-path", "outside the release root")),
    ("video-symlink-broken", _video_link(lambda r, m, t: r / "gone.mp4"), GOOD, ("skipped", "broken symlink")),
    ("video-symlink-inside", _video_link(lambda r, m, t: r / "videos" / "000001.mp4"), [*GOOD, "000009"], None),
    ("metadata-path-symlink-outside", _metadata_link, GOOD, ("unsafe-path", "outside the release root")),
    ("folder-symlink-outside", _outside_dir_link, GOOD, ("unsafe-path", "outside the release root")),
    ("symlink-loop", _loop, GOOD, ("skipped", "symlink loop")),
    ("non-utf8-file-name", _non_utf8_name, GOOD, ("skipped", "not valid UTF-8")),
    ("duplicate-stem-on-disk", _dup_on_disk, GOOD, ("skipped", "duplicate clip id")),
    ("hidden-file-ignored", _write("videos/.000009.mp4", b"junk"), GOOD, None),
]


def _npy(kind: str, arr: np.ndarray | None = None, raw: bytes | None = None, cid: str = "000001") -> Setup:
    def run(root, media, tmp):
        (root / kind).mkdir(exist_ok=True)
        p = root / kind / f"{cid}.npy"
        if raw is not None:
            p.write_bytes(raw)
        else:
            np.save(p, arr, allow_pickle=True)

    return run


def _npy_truncated(root, media, tmp):
    (root / "keypoints").mkdir()
    np.save(root / "keypoints" / "000001.npy", np.zeros((FRAMES, 68, 3), np.float32))
    data = (root / "keypoints" / "000001.npy").read_bytes()
    (root / "keypoints" / "000001.npy").write_bytes(data[:200])


def _npz_as_npy(root, media, tmp):
    (root / "keypoints").mkdir()
    with open(root / "keypoints" / "000001.npy", "wb") as f:
        np.savez(f, a=np.zeros(3))


def _side_link_outside(root, media, tmp):
    (root / "keypoints").mkdir()
    secret = tmp / "secret.npy"
    np.save(secret, np.zeros((FRAMES, 68, 3), np.float32))
    (root / "keypoints" / "000001.npy").symlink_to(secret)


def _side_dir_outside(root, media, tmp):
    d = tmp / "kp_outside"
    d.mkdir()
    np.save(d / "000001.npy", np.zeros((FRAMES, 68, 3), np.float32))
    (root / "keypoints").symlink_to(d, target_is_directory=True)


KP = np.random.default_rng(0).random((FRAMES, 68, 3)).astype(np.float32)
SOME_NAN = KP.copy()
SOME_NAN[2, 5] = np.nan
SOME_INF = KP.copy()
SOME_INF[0, 0, 0] = np.inf

SIDE_CASES = [
    ("kp-object-array", _npy("keypoints", np.array([{"a": 1}], dtype=object)), GOOD, ("partial", "pickled")),
    ("kp-pickle-file", _npy("keypoints", raw=pickle.dumps({"evil": 1})), GOOD, ("partial", "pickled")),
    ("kp-string-array", _npy("keypoints", np.array(["a", "b"])), GOOD, ("partial", "expected numbers")),
    ("kp-wrong-frames", _npy("keypoints", np.zeros((3, 68, 3), np.float32)), GOOD, ("partial", "does not fit")),
    ("kp-wrong-rank", _npy("keypoints", np.zeros((FRAMES, 68), np.float32)), GOOD, ("partial", "does not fit")),
    ("kp-truncated", _npy_truncated, GOOD, ("partial", "keypoints")),
    ("kp-empty-file", _npy("keypoints", raw=b""), GOOD, ("partial", "keypoints")),
    ("kp-npz-archive", _npz_as_npy, GOOD, ("partial", "archive")),
    ("kp-all-nan", _npy("keypoints", np.full((FRAMES, 68, 3), np.nan, np.float32)), GOOD,
     ("partial", "every keypoint")),
    ("kp-some-nan", _npy("keypoints", SOME_NAN), GOOD, ("partial", "confidence 0")),
    ("kp-some-inf", _npy("keypoints", SOME_INF), GOOD, ("partial", "confidence 0")),
    ("kp-symlink-outside", _side_link_outside, GOOD, ("unsafe-path", "outside the release root")),
    ("kp-folder-outside", _side_dir_outside, GOOD, ("unsafe-path", "outside the release root")),
    ("pose-wrong-shape", _npy("head_pose", np.zeros((FRAMES, 2), np.float32)), GOOD, ("partial", "head pose shape")),
    ("pose-nan", _npy("head_pose", np.full((FRAMES, 3), np.nan, np.float32)), GOOD, ("partial", "NaN")),
    ("pose-object", _npy("head_pose", np.array([None], dtype=object)), GOOD, ("partial", "pickled")),
    ("kp-int-array-ok", _npy("keypoints", np.ones((FRAMES, 68, 3), np.int16)), GOOD, None),
]


def _csv(text: bytes) -> Setup:
    def run(root, media, tmp):
        (root / "metadata.jsonl").unlink()
        (root / "metadata.csv").write_bytes(b"clip_id,identity,attributes.action\n" + text)

    return run


GOOD_CSV = b"".join(f"{c},p{i},Talk\n".encode() for i, c in enumerate(GOOD))


def _parquet(write: Callable[[Path], None]) -> Setup:
    def run(root, media, tmp):
        write(root / "metadata.parquet")

    return run


def _parquet_truncated(p: Path) -> None:
    pq.write_table(pa.table({"clip_id": ["000001"] * 5000, "identity": ["x"] * 5000}), p)
    p.write_bytes(p.read_bytes()[:300])


TABLE_CASES = [
    ("csv-wrong-columns", _csv(GOOD_CSV + b"000009,p9,Talk,extra\n"), GOOD,
     ("bad-metadata", "wrong number of columns")),
    ("csv-non-utf8", _csv(GOOD_CSV + b"000009,\xff\xfe,Talk\n"), GOOD, ("bad-metadata", "not valid UTF-8")),
    ("csv-nul-byte", _csv(GOOD_CSV + b"000009,p\x009,Talk\n"), GOOD, ("missing", "metadata.csv:5")),
    ("csv-bad-json-list", _csv(GOOD_CSV + b'000009,p9,"[oops"\n'), GOOD, ("bad-metadata", "not valid JSON")),
    ("csv-unterminated-quote", _csv(GOOD_CSV + b'000009,"p9,Talk\n'), GOOD, ("bad-metadata", "metadata.csv")),
    ("parquet-garbage", _parquet(lambda p: p.write_bytes(b"PAR1 nonsense")), GOOD,
     ("bad-metadata", "not a readable Parquet file")),
    ("parquet-truncated", _parquet(_parquet_truncated), GOOD, ("bad-metadata", "metadata.parquet")),
    ("parquet-int-ids", _parquet(lambda p: pq.write_table(pa.table({"clip_id": [9], "identity": ["q"]}), p)), GOOD,
     ("missing", "no video file found")),
]

def _table(name: str, data: bytes) -> Setup:
    """Replace metadata.jsonl by table `name` holding `data` (bytes as a user's tool wrote them)."""

    def run(root, media, tmp):
        (root / "metadata.jsonl").unlink()
        (root / name).write_bytes(data)

    return run


GOOD_JSONL = "".join(json.dumps(r) + "\n" for r in _rows())
GOOD_CSV_TEXT = "clip_id,identity,split\n" + "".join(f"{c},p{i},train\n" for i, c in enumerate(GOOD))

# Types, encodings and spellings a user's metadata holds: rejected with a line naming the file,
# line and field (the clip built with that field empty where it is only a label), or accepted.
# A row whose identity is not a name is dropped (it drives the split); its video is then built
# from its file alone, as a video without a row is.
TYPE_CASES = [
    ("jsonl-utf16-bom", _table("metadata.jsonl", GOOD_JSONL.encode("utf-16")), GOOD, ("bad-metadata", "UTF-16 LE")),
    ("jsonl-utf16-no-bom", _table("metadata.jsonl", GOOD_JSONL.encode("utf-16-be")), GOOD,
     ("bad-metadata", "UTF-16 BE")),
    ("jsonl-utf32", _table("metadata.jsonl", GOOD_JSONL.encode("utf-32")), GOOD, ("bad-metadata", "UTF-32")),
    ("csv-utf16", _table("metadata.csv", GOOD_CSV_TEXT.encode("utf-16")), GOOD, ("bad-metadata", "UTF-16")),
    ("csv-semicolons", _table("metadata.csv", GOOD_CSV_TEXT.replace(",", ";").encode()), GOOD,
     ("bad-metadata", "separated by ';'")),
    ("csv-tabs", _table("metadata.csv", GOOD_CSV_TEXT.replace(",", "\t").encode()), GOOD,
     ("bad-metadata", "separated by '\\t'")),
    ("fps-rational", _with_video(_row(**{**PROBE, "fps": "30000/1001"})), [*GOOD, "000009"], None),
    ("fps-rational-zero", _row(**{**PROBE, "fps": "30/0"}), GOOD, ("bad-metadata", "fps must be a number")),
    ("split-upper-case", _with_video(_row(split="TRAIN")), [*GOOD, "000009"], None),
    ("split-val-spaced", _with_video(_row(split=" Val ")), [*GOOD, "000009"], None),
    ("split-list", _row(split=["train"]), GOOD, ("bad-metadata", "split")),
    ("video-drive-relative", _row(video="C:x.mp4"), GOOD, ("unsafe-path", "names a drive")),
    ("audio-drive-relative", _with_video(_row(audio="d:voice.wav")), GOOD, ("unsafe-path", "names a drive")),
    *[(f"identity-{kind}", _with_video(_row(identity=value)), [*GOOD, "000009"], ("bad-metadata", "identity must be"))
      for kind, value in [("object", {"name": "x"}), ("list", ["a", "b"]), ("serialised", "{'name': 'x'}"),
                          ("bool", True)]],
    ("gender-list", _with_video(_row(attributes={"gender": ["male"]})), [*GOOD, "000009"],
     ("partial", "attributes.gender must be text")),
    ("gender-serialised", _with_video(_row(attributes={"gender": "['male']"})), [*GOOD, "000009"],
     ("partial", "attributes.gender must be one label")),
    ("emotion-object", _with_video(_row(attributes={"emotion": {"label": "happy"}})), [*GOOD, "000009"],
     ("partial", "attributes.emotion")),
    ("age-number", _with_video(_row(attributes={"age_group": 42})), [*GOOD, "000009"], ("partial", "age_group")),
    ("action-list-of-lists", _with_video(_row(attributes={"action": [["Talk"]]})), [*GOOD, "000009"],
     ("partial", "attributes.action must be a list of labels")),
    ("appearance-object", _with_video(_row(attributes={"appearance": {"Male": 1}})), [*GOOD, "000009"],
     ("partial", "attributes.appearance")),
    ("caption-list", _with_video(_row(caption=["a", "b"])), [*GOOD, "000009"], ("partial", "caption must be text")),
    ("caption-serialised", _with_video(_row(caption="['a', 'b']")), [*GOOD, "000009"],
     ("partial", "caption must be one label")),
    ("language-number", _with_video(_row(language=5)), [*GOOD, "000009"], ("partial", "language")),
    ("source-list", _with_video(_row(source=["hdtf"])), [*GOOD, "000009"], ("partial", "source")),
    ("head-pose-label-list", _with_video(_row(head_pose={"label": ["frontal"]})), [*GOOD, "000009"],
     ("partial", "head_pose.label")),
    ("csv-gender-serialised", _table("metadata.csv", (GOOD_CSV_TEXT.replace("split\n", "split,attributes.gender\n", 1)
                                                      .replace("train\n", 'train,"[\'male\']"\n')).encode()),
     GOOD, ("partial", "metadata.csv:2: attributes.gender")),
]

CASES = METADATA_CASES + FILE_CASES + SIDE_CASES + TABLE_CASES + TYPE_CASES


@pytest.mark.parametrize("case_id, setup, built, reported", CASES, ids=[c[0] for c in CASES])
def test_fault(case_id, setup, built, reported, release, media, tmp_path):
    setup(release, media, tmp_path)
    recs, report, _ = _build(release, tmp_path)
    assert sorted(recs) == sorted(built), report
    if reported is None:
        assert not [r for r in report if r.status != "partial"], report
        return
    status, text = reported
    hits = [r for r in report if r.status == status and (text in r.reason or text in r.file)]
    assert hits, f"no {status!r} line mentioning {text!r} in {report}"
    assert all(r.file for r in hits)  # every line names a file


def test_fault_count():
    assert len(CASES) + len(SPLIT_AND_CACHE_CASES) >= 60


# -- outcomes that are not one report line -------------------------------------------------------

SPLIT_AND_CACHE_CASES = [
    "all-nan-keypoints-masked",
    "some-nan-keypoints-invalid",
    "truncated-counts-from-data",
    "empty-split",
    "nothing-buildable",
    "add-video",
    "delete-video",
    "replace-video",
    "force-redownload",
    "unsafe-hub-listing",
    "offline-mode",
    "cache-folder-read-only",
    "cache-folder-full",
    "export-outside-root",
    "kill-9-while-probing",
    "kill-9-while-making-records",
    "kill-9-after-first-table",
    "kill-9-before-state-saved",
    "cli-read-only-cache",
    "cli-offline",
    "cli-unsafe-listing",
    "public-builder-follows-downloads",
    "head-pose-label-from-angles",
    "cut-clip-as-readme-writes-it",
    "cut-clip-nan-span",
    "unsafe-hub-listing-drive-relative",
]


def test_nan_keypoints_are_masked_not_nan(release, tmp_path):
    (release / "keypoints").mkdir()
    np.save(release / "keypoints" / "000001.npy", np.full((FRAMES, 68, 3), np.nan, np.float32))
    np.save(release / "keypoints" / "000002.npy", SOME_NAN)
    recs, _, _ = _build(release, tmp_path)
    assert recs["000001"]["keypoints"] is None
    pts = np.array(recs["000002"]["keypoints"]["points"])
    assert np.isfinite(pts).all() and pts[2, 5, 2] == 0 and (pts[0, :, 2] > 0).any()


def test_head_pose_label_derived_from_angles(release, tmp_path):
    """Angles from head_pose/*.npy without a label in the metadata: the label is the dominant class
    of 5 uniformly sampled frames (3 of the 5 turned far right here), as a labelled release has it."""
    (release / "head_pose").mkdir()
    angles = np.zeros((FRAMES, 3), np.float32)
    angles[FRAMES // 3 :, 0] = 40.0  # frames 3..9 turned right: samples 0, 2, 4, 7, 9 -> 3 of 5 profile_right
    np.save(release / "head_pose" / "000001.npy", angles)
    np.save(release / "head_pose" / "000002.npy", np.zeros((FRAMES, 3), np.float32))
    _jsonl(release, [*_rows()[:2], {**_rows()[2], "head_pose": {"label": "extreme"}}])
    np.save(release / "head_pose" / "000003.npy", np.zeros((FRAMES, 3), np.float32))
    recs, _, _ = _build(release, tmp_path)
    assert recs["000001"]["head_pose"]["label"] == "profile_right"
    assert recs["000002"]["head_pose"]["label"] == "frontal"
    assert recs["000003"]["head_pose"]["label"] == "extreme"  # a label given by the release is kept


def test_cut_clip_as_the_readme_writes_it(media, tmp_path):
    from facevid_datasets.errors import MediaError
    from facevid_datasets.media import cut_clip, probe

    src = make_index_video(tmp_path / "src.mp4", num_frames=50, fps=10, size=(64, 64), audio=False)
    out = cut_clip(src, tmp_path / "c.mp4", 1, 4)  # seconds 1 to 4, positional as README.md writes it
    assert probe(out).num_frames == 30
    with pytest.raises(MediaError, match="start = nan is not a finite number"):
        cut_clip(src, tmp_path / "n.mp4", float("nan"), 4)
    with pytest.raises(MediaError, match="end = inf"):
        cut_clip(src, tmp_path / "n.mp4", 0, float("inf"))


def test_truncated_file_counts_come_from_the_data(release, media, tmp_path):
    shutil.copy(media["trunc"], release / "videos" / "000009.mp4")
    recs, _, _ = _build(release, tmp_path)
    assert 0 < recs["000009"]["num_frames"] < FRAMES == recs["000001"]["num_frames"]


def test_split_emptied_by_dropped_clips(release, tmp_path):
    (release / "videos" / "000004.mp4").write_bytes(b"broken")
    _jsonl(release, [*_rows(), {"clip_id": "000004", "split": "test"}])
    recs, report, b = _build(release, tmp_path)
    assert sorted(recs) == GOOD and list(b.info.splits) == ["train"]
    assert [r.clip_id for r in report if r.status == "error"] == ["000004"]


def test_nothing_buildable_is_one_clear_error(tmp_path):
    from facevid_datasets.errors import DatasetNotFound

    root = tmp_path / "rel"
    root.mkdir()
    (root / "a.mp4").write_bytes(b"x")
    with pytest.raises(DatasetNotFound, match="no clip could be built"):
        _build(root, tmp_path)


def test_cache_follows_added_deleted_replaced_files(release, media, tmp_path, caplog):
    recs, _, _ = _build(release, tmp_path)
    assert sorted(recs) == GOOD
    shutil.copy(media["av"], release / "videos" / "000004.mp4")  # add
    with caplog.at_level("WARNING"):
        recs, _, b = _build(release, tmp_path)
    assert sorted(recs) == [*GOOD, "000004"]
    assert "1 added, 0 removed, 0 changed" in caplog.text
    (release / "videos" / "000002.mp4").unlink()  # delete
    recs, _, _ = _build(release, tmp_path)
    assert sorted(recs) == ["000001", "000003", "000004"]
    make_index_video(release / "videos" / "000003.mp4", num_frames=6, fps=25, size=(64, 64))  # replace
    recs, _, _ = _build(release, tmp_path)
    assert recs["000003"]["num_frames"] == 6
    # unchanged files are not probed again: the probe cache follows file versions, not builds
    from facevid_datasets.media.probe_cache import ProbeCache

    with ProbeCache(tmp_path / "cache" / "facevid_probe_cache.sqlite") as cache:
        cache.get(release / "videos" / "000001.mp4")
        assert cache.probes == 0


def test_force_redownload_rebuilds(release, tmp_path):
    _build(release, tmp_path)
    b = load_builder("facevid-1k", "all", data_dir=str(release), cache_dir=str(tmp_path / "cache"))
    b.download_and_prepare(download_mode="force_redownload")
    assert b.as_dataset()["train"].num_rows == 3


def test_unsafe_hub_listing_refused():
    from facevid_datasets.hub import UnsafeListing, check_listing

    check_listing("facevid-1k", "o/r", ["metadata.jsonl", "videos/a.mp4"])
    for bad in ("../x.mp4", "/etc/passwd", "videos/../../x", "a\\..\\..\\b"):
        with pytest.raises(UnsafeListing, match="unsafe path"):
            check_listing("facevid-1k", "o/r", ["metadata.jsonl", bad])


def test_unsafe_hub_listing_drive_relative():
    from facevid_datasets.hub import UnsafeListing, check_listing

    for bad in ("C:x.mp4", "c:\\videos\\x.mp4", "Z:/x.mp4"):
        with pytest.raises(UnsafeListing, match="unsafe path"):
            check_listing("facevid-1k", "o/r", ["metadata.jsonl", bad])


def test_offline_mode_is_named(offline, tmp_path):
    from facevid_datasets.errors import OfflineError
    from facevid_datasets.hub import download

    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE"):
        download("facevid-1k", tmp_path / "dl", repo_id="org/repo")


@pytest.mark.parametrize("code, text", [("EROFS", "Read-only file system"), ("ENOSPC", "No space left on device")])
def test_cache_folder_read_only_or_full_is_one_line(code, text, release, tmp_path, monkeypatch):
    import errno

    from facevid_datasets.errors import CacheError

    real = os.makedirs

    def unwritable(path, *a, **k):
        if str(path).startswith(str(tmp_path / "cache")):
            raise OSError(getattr(errno, code), text, str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "makedirs", unwritable)
    with pytest.raises(CacheError, match=rf"cache folder .*cache.* cannot be written \({text}"):
        _build(release, tmp_path)


def test_export_never_embeds_outside_files(tmp_path, media):
    import datasets

    from facevid_datasets.hub.export import contained

    inside = tmp_path / "rel" / "a.mp4"
    inside.parent.mkdir()
    shutil.copy(media["av"], inside)
    secret = _outside(tmp_path)
    videos = [{"path": str(inside), "bytes": None}, {"path": str(secret), "bytes": None}]
    ds = datasets.Dataset.from_dict({"clip_id": ["a", "b"], "video": videos})
    kept, outside = contained(ds, [os.path.realpath(tmp_path / "rel")])
    assert kept["clip_id"] == ["a"] and outside == [("b", str(secret))]


# -- the command line: known failures are one line on stderr, exit 1, no traceback ---------------


def _cli(args: list[str]):
    from typer.testing import CliRunner

    from facevid_datasets.cli import app

    res = CliRunner().invoke(app, args)
    text = (res.stdout or "") + (res.stderr or "")
    assert res.exit_code == 1, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    return text


def test_cli_read_only_cache(release, tmp_path, monkeypatch):
    import errno

    real = os.makedirs

    def read_only(path, *a, **k):
        if str(path).startswith(str(tmp_path / "cache")):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "makedirs", read_only)
    text = _cli(["export", "facevid-1k", "--out", str(tmp_path / "o"), "--data-dir", str(release),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert "cannot be written" in text and str(tmp_path / "cache") in text


def test_cli_offline(offline, tmp_path):
    text = _cli(["download", "facevid-1k", "--out", str(tmp_path / "dl"), "--repo-id", "org/repo"])
    assert "HF_HUB_OFFLINE" in text


def test_cli_unsafe_listing(tmp_path, monkeypatch):
    import importlib

    from huggingface_hub.hf_api import RepoFile

    hub = importlib.import_module("facevid_datasets.hub.fetch")

    class Api:
        def __init__(self, **kw):
            pass

        def dataset_info(self, repo, revision=None):
            return type("Info", (), {"sha": "0" * 40})()

        def list_repo_tree(self, *a, **k):
            return [RepoFile(path="../../etc/cron.d/x", size=1, oid="0" * 40)]

    monkeypatch.setattr(hub, "HfApi", Api)
    text = _cli(["download", "facevid-1k", "--out", str(tmp_path / "dl"), "--repo-id", "org/repo"])
    assert "unsafe path" in text and "../../etc/cron.d/x" in text


# -- public builders share the base: their cache follows the downloaded sources too ---------------


def test_public_builder_cache_follows_downloads_and_force_redownload(tmp_path):
    import facevid_datasets as fd

    root = tmp_path / "hdtf"
    meta = root / "HDTF_dataset"
    meta.mkdir(parents=True)
    (meta / "RD_annotion_time.txt").write_text("Radio1.mp4 00:00-00:02\nRadio2.mp4 00:00-00:02\n")
    (meta / "RD_resolution.txt").write_text("Radio1.mp4 120\nRadio2.mp4 120\n")
    (meta / "RD_crop_wh.txt").write_text("Radio1_0.mp4 20 120 0 120\nRadio2_0.mp4 20 120 0 120\n")
    make_index_video(root / "videos" / "Radio1.mp4", 30, 10.0, (120, 160), audio=False)
    cache = str(tmp_path / "cache")

    def ids(**kw):
        ds = fd.load_dataset("hdtf", data_dir=str(root), cache_dir=cache, **kw)
        return sorted(r["clip_id"] for s in ds.values() for r in s)

    assert ids() == ["Radio1_0"]
    make_index_video(root / "videos" / "Radio2.mp4", 30, 10.0, (120, 160), audio=False)  # the download goes on
    assert ids() == ["Radio1_0", "Radio2_0"]
    assert ids(download_mode="force_redownload") == ["Radio1_0", "Radio2_0"]
    assert ids(verification_mode="no_checks", keep_in_memory=True) == ["Radio1_0", "Radio2_0"]
