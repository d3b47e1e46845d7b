"""facevid-1k and talkingface-wild builders on generated releases."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facevid_datasets.loading import load_builder, load_dataset
from facevid_datasets.schema import validate_record
from facevid_datasets.testing import make_index_video

COLLECTED = ["000680", "000681", "RS127258_segment_049_7350_0"]
CELEBV = ["Czb5Ml9VDsI_0", "M2Ohb0FAaJU_1"]
TH1KH = ["WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507"]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "av": make_index_video(d / "av.mp4", num_frames=10, fps=25, size=(64, 64)),
        "v": make_index_video(d / "v.mp4", num_frames=12, fps=30, size=(96, 64), audio=False),
    }


def _put(root: Path, rel: str, src: Path) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, p)


def _jsonl(path: Path, rows: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def _load(name, config, root, tmp_path, **kw):
    builder = load_builder(name, config, data_dir=str(root), cache_dir=str(tmp_path / "cache"), **kw)
    builder.download_and_prepare()
    return builder.as_dataset(), builder.report.rows()


def _records(dsd) -> dict[str, dict]:
    return {r["clip_id"]: r for s in dsd for r in dsd[s]}


def test_full_metadata(tmp_path, media):
    root = tmp_path / "rel"
    _put(root, "videos/000680.mp4", media["av"])
    _put(root, "videos/000681.mp4", media["v"])
    (root / "keypoints").mkdir()
    np.save(root / "keypoints" / "000680.npy", np.random.rand(10, 68, 3).astype(np.float32))
    (root / "head_pose").mkdir()
    np.save(root / "head_pose" / "000680.npy", np.tile(np.float32([10, -5, 2]), (10, 1)))
    (root / "audio").mkdir()
    sf.write(root / "audio" / "000681.wav", np.zeros(16000, np.float32), 16000)
    full = {
        "clip_id": "000680", "source": "collected", "identity": "p1", "caption": "A woman talks.", "language": "zh",
        "split": "test",
        "attributes": {"ethnicity": "asian", "gender": "female", "age_group": "adult", "appearance": ["Long hair"],
                       "emotion": "happy", "action": ["Talk"], "light": ["Bright"], "environment": "studio"},
        "head_pose": {"label": "frontal"}, "keypoints": {"format": "ibug68"},
        "quality": {"brisque": 21.5, "sync_confidence": 7.5, "sync_offset": -1, "face_size": 300},
    }  # fmt: skip
    _jsonl(root / "metadata.jsonl", [full, {"clip_id": "000681", "identity": "p2", "split": "train"}])
    dsd, report = _load("facevid-1k", "all", root, tmp_path)
    recs = _records(dsd)
    r = recs["000680"]
    assert not validate_record(r) and r["split"] == "test" and dsd["test"][0]["clip_id"] == "000680"
    assert r["source"] == "facevid-1k" and r["dataset"] == "facevid-1k" and r["identity"] == "p1"
    assert r["attributes"]["ethnicity"] == "Asian" and r["attributes"]["emotion"] == "Happy"
    assert (r["fps"], r["num_frames"], r["width"], r["height"]) == (25.0, 10, 64, 64)
    assert np.array(r["keypoints"]["points"]).shape == (10, 68, 3) and r["keypoints"]["format"] == "ibug68"
    assert r["head_pose"]["label"] == "frontal" and r["head_pose"]["yaw"] == [10.0] * 10
    assert r["quality"]["sync_offset"] == -1 and r["audio_source"] == "video"
    assert json.loads(r["original"])["caption"] == "A woman talks."
    r2 = recs["000681"]
    assert r2["audio_source"] == "file" and r2["audio"]["path"].endswith("000681.wav")
    assert report == []


def test_mp4_only_release(tmp_path, media):
    root = tmp_path / "bare"
    names = COLLECTED + CELEBV + TH1KH
    for i, n in enumerate(names):
        _put(root, f"part{i % 2}/{n}.mp4", media["av"] if i % 2 else media["v"])
    dsd, report = _load("facevid-1k", "all", root, tmp_path)
    recs = _records(dsd)
    assert set(recs) == set(names) and report == []
    assert set(dsd) == {"train", "test"} and len(dsd["test"]) == 1  # 10% of 6, at least one
    assert {recs[n]["source"] for n in COLLECTED} == {"facevid-1k"}
    assert {recs[n]["source"] for n in CELEBV} == {"celebv"}
    assert recs[TH1KH[0]]["source"] == "talkinghead-1kh"
    for r in recs.values():
        assert not validate_record(r)
        assert r["fps"] in (25.0, 30.0) and r["num_frames"] in (10, 12) and r["duration"] > 0
        assert r["identity"] is None and r["caption"] is None and r["keypoints"] is None
        assert r["attributes"]["ethnicity"] is None and r["original"] is None
    assert recs["000680"]["audio_source"] == "none" and recs["000681"]["audio_source"] == "video"


def test_mixed_origins_configs_share_splits(tmp_path, media):
    root = tmp_path / "mixed"
    for n in COLLECTED + CELEBV + TH1KH:
        _put(root, f"{n}.mp4", media["v"])
    _put(root, "other/zz_clip.mp4", media["v"])
    rows = [{"clip_id": n, "identity": f"id_{n}"} for n in COLLECTED + TH1KH]
    rows.append({"clip_id": "M2Ohb0FAaJU_1", "source": "CelebV-Text", "identity": "id_m"})
    rows.append({"clip_id": "zz_clip", "source": "celebv-hq", "identity": "id_z"})
    _jsonl(root / "metadata.jsonl", rows)
    split_of = {}
    expect = {
        "all": set(COLLECTED + CELEBV + TH1KH + ["zz_clip"]),
        "collected": set(COLLECTED),
        "public": set(CELEBV + TH1KH + ["zz_clip"]),
        "celebv": set(CELEBV + ["zz_clip"]),
        "talkinghead-1kh": set(TH1KH),
    }
    for config, want in expect.items():
        dsd, _ = _load("facevid-1k", config, root, tmp_path)
        recs = _records(dsd)
        assert set(recs) == want, config
        for cid, r in recs.items():
            assert split_of.setdefault(cid, r["split"]) == r["split"], f"{cid} changes split in {config}"
    recs = _records(_load("facevid-1k", "all", root, tmp_path)[0])
    assert recs["M2Ohb0FAaJU_1"]["source"] == "celebv-text" and recs["Czb5Ml9VDsI_0"]["source"] == "celebv"


def test_malformed_rows_reported_with_file_and_line(tmp_path, media):
    root = tmp_path / "bad"
    for n in ("000001", "000002", "000003", "000004"):
        _put(root, f"{n}.mp4", media["v"])
    _jsonl(root / "metadata.jsonl", [
        {"clip_id": "000001", "caption": "ok"},
        '{"clip_id": "000002", "caption": ',
        {"clip_id": "000003", "fps": "twenty"},
        [1, 2],
        {"clip_id": "000004", "caption": "also ok", "quality": {"sync_offset": "x"}},
    ])  # fmt: skip
    dsd, report = _load("facevid-1k", "all", root, tmp_path)
    bad = sorted((r.file.rsplit(":", 1)[1], r.reason) for r in report if r.status == "bad-metadata")
    assert [b[0] for b in bad] == ["2", "3", "4", "5"]
    assert all(r.file.startswith(str(root / "metadata.jsonl")) for r in report)
    assert "fps must be a number" in dict(bad)["3"] and "JSON" in dict(bad)["2"]
    recs = _records(dsd)
    assert recs["000001"]["caption"] == "ok"  # the good row is kept
    assert set(recs) == {"000001", "000002", "000003", "000004"}  # videos of bad rows load without metadata
    assert recs["000004"]["caption"] is None


def test_missing_clips_reported_and_counted(tmp_path, media):
    root = tmp_path / "missing"
    _put(root, "000001.mp4", media["v"])
    _put(root, "clips/one.mp4", media["av"])
    rows = [{"clip_id": "000001"}, {"clip_id": "000002"}, {"clip_id": "000003"},
            {"clip_id": "x1", "video": "clips/one.mp4"}, {"clip_id": "x2", "video": "clips/two.mp4"}]  # fmt: skip
    _jsonl(root / "metadata.jsonl", rows)
    dsd, report = _load("facevid-1k", "all", root, tmp_path)
    missing = {r.clip_id: r.file for r in report if r.status == "missing"}
    assert set(missing) == {"000002", "000003", "x2"}
    assert missing["000002"].endswith("metadata.jsonl:2")
    kept = sum(len(d) for d in dsd.values())
    assert kept == 2 and kept + len(missing) == len(rows)


def test_videos_without_metadata_and_broken_video(tmp_path, media):
    root = tmp_path / "orphans"
    _put(root, "a/000010.mp4", media["av"])
    _put(root, "b/000011.mp4", media["v"])
    (root / "c").mkdir()
    (root / "c" / "000012.mp4").write_bytes(b"\x00" * 100)
    _jsonl(root / "metadata.jsonl", [{"clip_id": "000010", "identity": "p"}])
    dsd, report = _load("facevid-1k", "all", root, tmp_path)
    recs = _records(dsd)
    assert set(recs) == {"000010", "000011"}
    assert recs["000011"]["height"] == 96 and recs["000011"]["identity"] is None
    (err,) = report
    assert err.clip_id == "000012" and err.status == "error" and "000012.mp4" in err.reason


def test_shared_files_with_probe_fields_are_not_probed(tmp_path, media, monkeypatch):
    probe_mod = importlib.import_module("facevid_datasets.media.probe")

    root = tmp_path / "shared"
    _put(root, "pool/a.mp4", media["v"])
    rows = [{"clip_id": f"{i:06d}", "video": "pool/a.mp4", "fps": 30, "num_frames": 12, "width": 96, "height": 64,
             "duration": 0.4, "audio_source": "none", "identity": f"p{i % 7}"} for i in range(40)]  # fmt: skip
    _jsonl(root / "metadata.jsonl", rows)

    def no_probe(path):
        raise AssertionError(f"probed {path}")

    monkeypatch.setattr(probe_mod, "probe", no_probe)
    dsd, report = _load("facevid-1k", "all", root, tmp_path)
    assert sum(len(d) for d in dsd.values()) == 40 and report == []
    test_ids, train_ids = set(dsd["test"]["identity"]), set(dsd["train"]["identity"])
    assert len(dsd["test"]) == 6 and not test_ids & train_ids  # 4 wanted; the smallest whole identity is 5-6


def test_talkingface_wild_language(tmp_path, media):
    root = tmp_path / "tfw"
    for lang in ("en", "zh", "ar"):
        for k in range(2):
            _put(root, f"videos/{lang}/{lang}_{k}.mp4", media["av"])
    _put(root, "loose.mp4", media["v"])
    _jsonl(root / "metadata.jsonl", [{"clip_id": "en_0", "language": "english", "identity": "s1"},
                                     {"clip_id": "loose", "language": "ja"}])  # fmt: skip
    dsd, _ = _load("talkingface-wild", "all", root, tmp_path)
    recs = _records(dsd)
    assert recs["en_0"]["language"] == "english" and recs["en_1"]["language"] == "en"
    assert recs["zh_0"]["language"] == "zh" and recs["loose"]["language"] == "ja"
    assert {r["source"] for r in recs.values()} == {"talkingface-wild"}
    dsd, _ = _load("talkingface-wild", "all", root, tmp_path, languages=("zh", "ar"))
    assert {r["language"] for r in _records(dsd).values()} == {"zh", "ar"}


def test_sample_loads_offline():
    ds = load_dataset("facevid-1k", "sample")
    n = sum(len(d) for d in ds.values())
    assert n > 0 and set(ds) <= {"train", "validation", "test"}
    row = ds["train"][0]
    assert row["dataset"] == "facevid-1k" and Path(row["video"]["path"]).is_file()


def test_missing_clips_of_other_configs_not_reported(tmp_path, media):
    root = tmp_path / "partial"
    _put(root, "000001.mp4", media["v"])
    _jsonl(root / "metadata.jsonl", [{"clip_id": "000001"}, {"clip_id": "000002"}, {"clip_id": "Czb5Ml9VDsI_0"}])
    _, report = _load("facevid-1k", "collected", root, tmp_path)
    assert [(r.clip_id, r.status) for r in report] == [("000002", "missing")]
