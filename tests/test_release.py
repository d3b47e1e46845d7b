"""Release layout reader (`raw/`), probe cache, in-process probe and identity-disjoint splits."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from facevid_datasets.builders.facevid_1k import origin_from_name

from facevid_datasets import splits
from facevid_datasets.errors import AnnotationError, MediaError
from facevid_datasets.media.probe_cache import ProbeCache
from facevid_datasets.raw import (
    assign_index_splits,
    build_index,
    normalize_source,
    parse_row,
    split_counts,
)
from facevid_datasets.report import ReportRow, Status
from facevid_datasets.testing import make_index_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("v") / "c.mp4", num_frames=8, fps=25, size=(64, 64))


@pytest.mark.parametrize(
    "name, origin",
    [
        ("000680", "facevid-1k"),
        ("RS127258_segment_049_7350_0", "facevid-1k"),
        ("Czb5Ml9VDsI_0", "celebv"),
        ("hDf4PjXl64Q_35_2", "celebv"),
        ("WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507", "talkinghead-1kh"),
        ("some_clip", None),
    ],
)
def test_origin_from_name(name, origin):
    assert origin_from_name(name) == origin


def test_normalize_source():
    assert normalize_source("CelebV-HQ") == "celebv-hq"
    assert normalize_source("collected") == "facevid-1k"
    assert normalize_source("TalkingHead-1KH") == "talkinghead-1kh"
    assert normalize_source("youtube") == "youtube"
    assert normalize_source("") is None


def test_parse_row_types_and_probe_fields(tmp_path):
    p = tmp_path / "metadata.jsonl"
    m = parse_row({"clip_id": 7, "video": "v/a.mp4", "fps": "25", "num_frames": 50, "width": 512, "height": 512,
                   "duration": 2.0, "has_audio": "false", "split": "val"}, p, 3)  # fmt: skip
    assert m.clip_id == "7" and m.video == "v/a.mp4" and m.split == "validation"
    assert m.info is not None and m.info.num_frames == 50 and m.info.has_audio is False
    assert parse_row({"clip_id": "a", "fps": 25}, p, 1).info is None  # incomplete: the file will be probed
    with pytest.raises(AnnotationError, match=r"metadata.jsonl:4: fps must be a number"):
        parse_row({"clip_id": "a", "fps": "fast"}, p, 4)
    with pytest.raises(AnnotationError, match=r":5: split 'dev'"):
        parse_row({"clip_id": "a", "split": "dev"}, p, 5)
    with pytest.raises(AnnotationError, match=r":6: row has no clip_id"):
        parse_row({"identity": "x"}, p, 6)
    with pytest.raises(AnnotationError, match=r":7: attributes must be an object"):
        parse_row({"clip_id": "a", "attributes": "Asian"}, p, 7)


def test_build_index_reports_and_orphans(tmp_path, clip):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    shutil.copy(clip, tmp_path / "deep" / "er" / "000001.mp4")
    shutil.copy(clip, tmp_path / "000002.mp4")
    shutil.copy(clip, tmp_path / "shared.mp4")
    (tmp_path / "keypoints").mkdir()
    shutil.copy(clip, tmp_path / "keypoints" / "not_a_clip.mp4")  # side folders hold no clips
    rows = [
        '{"clip_id": "000001", "identity": "p1"}',
        "{oops",
        '{"clip_id": "gone", "identity": "p2"}',
        '{"clip_id": "r1", "video": "shared.mp4", "source": "CelebV-Text"}',
        '{"clip_id": "r2", "video": "./shared.mp4"}',
        '{"clip_id": "000001", "identity": "p9"}',
        '{"clip_id": "r3", "video": "nowhere.mp4"}',
    ]
    (tmp_path / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    idx = build_index(tmp_path, origin=origin_from_name)
    assert set(idx.entries) == {"000001", "gone", "r1", "r2", "r3"}
    assert idx.entries["000001"].video == "deep/er/000001.mp4"
    assert idx.entries["r1"].source == "celebv-text" and idx.entries["r2"].video == "shared.mp4"
    assert set(idx.orphans) == {"000002"}  # shared.mp4 is referenced, so it is no orphan
    assert all(isinstance(p, ReportRow) for p in idx.problems)
    by_file = {(p.status, p.file.rsplit(":", 1)[-1]) for p in idx.problems}
    assert (Status.BAD_METADATA, "2") in by_file and (Status.BAD_METADATA, "6") in by_file
    missing = {p.clip_id for p in idx.problems if p.status is Status.MISSING}
    assert missing == {"gone", "r3"}
    assert idx.listed == 6
    test_ids = assign_index_splits(idx)
    counts = split_counts(idx, test_ids)
    assert sum(counts.values()) == 4  # present clips: 000001, r1, r2, 000002


def test_csv_and_parquet_tables(tmp_path, clip):
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copy(clip, tmp_path / "a.mp4")
    shutil.copy(clip, tmp_path / "b.mp4")
    (tmp_path / "metadata.csv").write_text(
        "clip_id,identity,attributes.ethnicity,attributes.action\na,p1,Asian,Talk;Smile\nb,p2\n"
    )
    pq.write_table(pa.table({"clip_id": ["b"], "identity": ["p3"]}), tmp_path / "metadata.parquet")
    idx = build_index(tmp_path)
    assert set(idx.entries) == {"a", "b"}
    assert idx.identities["b"] == "p3"  # the CSV row of b is malformed, the Parquet one is kept
    (bad,) = [p for p in idx.problems if p.status is Status.BAD_METADATA]
    assert bad.file.endswith("metadata.csv:3") and "columns" in bad.reason


def test_probe_cache_persists_and_notices_changes(tmp_path, clip):
    video = tmp_path / "x.mp4"
    shutil.copy(clip, video)
    db = tmp_path / "cache" / "probe.sqlite"
    c1 = ProbeCache(db)
    info = c1.get(video)
    c1.get(video)
    assert info.num_frames == 8 and c1.probes == 1
    c1.close()
    c2 = ProbeCache(db)
    assert c2.get(video) == info and c2.probes == 0  # from the sqlite file
    os.utime(video, ns=(1, 1))
    c2.get(video)
    assert c2.probes == 1  # new mtime: probed again
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    for _ in range(3):
        with pytest.raises(MediaError, match="broken.mp4"):
            c2.get(broken)
    assert c2.probes == 2  # failures are cached too


def _clips(n_ids: int, per: int) -> list[tuple[str, str]]:
    return [(f"{i}_{k}", f"id{i}") for i in range(n_ids) for k in range(per)]


def test_splits_paper_protocol_exact_and_identity_disjoint():
    clips = _clips(7000, 3) + [(f"solo{i}", None) for i in range(500)]
    split = splits.assign_splits(clips)
    test = [c for c, s in split.items() if s == "test"]
    assert len(test) == splits.PAPER_TEST_CLIPS
    ident = dict(clips)
    test_ids = {ident[c] or c for c in test}
    assert not test_ids & {ident[c] or c for c, s in split.items() if s == "train"}
    shuffled = clips[:]
    random.Random(1).shuffle(shuffled)
    assert splits.assign_splits(shuffled) == split  # independent of order
    assert splits.assign_splits(clips, seed=1) != split


def test_splits_small_release_fraction_and_given():
    assert splits.test_size(100) == 10 and splits.test_size(20_480) == 2048 and splits.test_size(1) == 0
    clips = _clips(30, 2)
    split = splits.assign_splits(clips)
    assert sum(s == "test" for s in split.values()) == 6
    given = {"0_0": "test", "1_0": "train"}
    out = splits.assign_splits_given(clips, given)
    assert out["0_0"] == "test" and out["0_1"] == "test"  # the identity follows its given clip
    assert out["1_1"] == "train"
    assert sum(s == "test" for s in out.values()) == 6


def test_sample_metadata_splits_respected():
    from facevid_datasets.loading import load_dataset

    meta = Path(__file__).resolve().parents[1] / "facevid_datasets" / "sample_data" / "metadata.jsonl"
    if not meta.exists():
        pytest.skip("sample release not generated yet")
    want = {}
    for line in meta.read_text().splitlines():
        row = json.loads(line)
        if row.get("split"):
            want[row["clip_id"]] = row["split"]
    ds = load_dataset("facevid-1k", "sample")
    got = {r["clip_id"]: s for s in ds for r in ds[s].select_columns(["clip_id"])}
    assert want and all(got[c] == s for c, s in want.items() if c in got)


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, clip) -> dict[str, Path]:
    import subprocess

    d = tmp_path_factory.mktemp("odd")
    src = make_index_video(d / "src.mp4", num_frames=60, fps=25, size=(96, 64))
    out = {"plain": src}

    def ff(name: str, *args: str) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(d / name)], check=True)
        out[name.split(".")[0]] = d / name

    ff("rotated.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90")
    ff("vfr.mp4", "-vf", "setpts='if(lt(N,30),N/25/TB,(30+(N-30)*2)/25/TB)'", "-vsync", "vfr", "-an")
    ff("faststart.mp4", "-c", "copy", "-movflags", "+faststart")
    ff("clip.webm", "-c:v", "libvpx-vp9", "-b:v", "100k", "-an")
    data = out["faststart"].read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) * 6 // 10])
    data = out["clip"].read_bytes()
    (d / "truncated.webm").write_bytes(data[: len(data) * 6 // 10])
    out["truncated"], out["truncated_webm"] = d / "truncated.mp4", d / "truncated.webm"
    return out


@pytest.mark.parametrize("name", ["plain", "rotated", "vfr", "clip"])
def test_in_process_probe_agrees_with_ffprobe(odd_files, name):
    import importlib

    pm = importlib.import_module("facevid_datasets.media.probe")
    old, new = pm.probe_ffprobe(odd_files[name]), pm.probe(odd_files[name])
    for field in ("num_frames", "width", "height", "rotation", "variable_frame_rate", "has_audio"):
        assert getattr(new, field) == getattr(old, field), field
    assert new.fps == pytest.approx(old.fps, rel=1e-3) and new.duration == pytest.approx(old.duration, abs=0.05)
    assert new.warning is None


@pytest.mark.parametrize("name", ["truncated", "truncated_webm"])
def test_probe_catches_header_that_disagrees_with_packets(odd_files, name):
    import importlib

    pm = importlib.import_module("facevid_datasets.media.probe")
    info = pm.probe(odd_files[name])
    assert 0 < info.num_frames < 60 and "truncated" in (info.warning or "")
    assert info.duration == pytest.approx(info.num_frames / info.fps)
