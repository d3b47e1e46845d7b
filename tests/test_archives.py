"""Releases delivered as archives (`raw/archives.py`): split `.tar.gz` parts, one `.tar`, a `.zip`
build the same records as the extracted folder; parts are read as one stream, never joined."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from facevid_datasets.loading import load_builder
from facevid_datasets.raw.archives import (
    PartsReader,
    archive_name,
    extract_archive,
    find_archives,
    is_archive_file,
    release_root,
)
from facevid_datasets.testing import make_index_video

CLIPS = ["000680", "000681", "Czb5Ml9VDsI_0"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A small release folder: three videos under a top folder, metadata, keypoints."""
    d = tmp_path_factory.mktemp("arch")
    av = make_index_video(d / "av.mp4", num_frames=10, fps=25, size=(64, 64))
    root = d / "high-quality-fast"
    (root / "videos").mkdir(parents=True)
    (root / "keypoints").mkdir()
    for i, c in enumerate(CLIPS):
        shutil.copy(av, root / "videos" / f"{c}.mp4")
        np.save(root / "keypoints" / f"{c}.npy", np.full((10, 68, 3), i, np.float32))
    rows = [{"clip_id": c, "identity": f"p{i}", "split": "train"} for i, c in enumerate(CLIPS)]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _tar(release: Path, out: Path, mode: str) -> Path:
    with tarfile.open(out, mode) as tf:
        tf.add(release, arcname=release.name)
    return out


def split(path: Path, folder: Path, names: list[str], n: int) -> list[Path]:
    """Split `path` into `n` parts named `<path.name><names[i]>` in `folder` (as `split -b` does)."""
    data = path.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-len(data) // n)
    out = []
    for i in range(n):
        p = folder / f"{path.name}{names[i]}"
        p.write_bytes(data[i * step : (i + 1) * step])
        out.append(p)
    return out


def _records(root: Path, cache: Path) -> dict[str, dict]:
    b = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    b.download_and_prepare()
    dsd = b.as_dataset()
    return {r["clip_id"]: r for s in dsd for r in dsd[s]}


def _comparable(recs: dict[str, dict]) -> dict[str, dict]:
    """Records without the fields that name the folder the files were read from."""

    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in ("path", "video", "audio_path", "bytes")}
        return v

    return {k: strip(v) for k, v in recs.items()}


@pytest.fixture(scope="module")
def expected(release, tmp_path_factory) -> dict[str, dict]:
    recs = _comparable(_records(release, tmp_path_factory.mktemp("c0")))
    assert sorted(recs) == sorted(CLIPS) and recs["000681"]["keypoints"]["points"][0][0] == [1.0, 1.0, 1.0]
    return recs


def test_archive_names():
    assert archive_name("high-quality-fast.tar.gz.part.aa") == ("high-quality-fast.tar.gz", "tar.gz", "aa")
    assert archive_name("x.tar.gz.partab") == ("x.tar.gz", "tar.gz", "ab")
    assert archive_name("x.tgz.003") == ("x.tgz", "tar.gz", "003")
    assert archive_name("x.zip") == ("x.zip", "zip", None) and archive_name("x.tar")[1] == "tar"
    assert not is_archive_file("videos/000680.mp4") and is_archive_file("data/x.tar.gz.part.ac")


def test_parts_reader_is_one_seekable_stream(tmp_path):
    data = bytes(range(256)) * 40
    src = tmp_path / "blob.tar"
    src.write_bytes(data)
    parts = split(src, tmp_path / "p", [".part.aa", ".part.ab", ".part.ac"], 3)
    with PartsReader(parts) as r:
        assert r.read() == data
        r.seek(3000)
        assert r.read(10) == data[3000:3010] and r.current_part == parts[0]
        r.seek(-5, io.SEEK_END)
        assert r.read() == data[-5:] and r.current_part == parts[2]


@pytest.mark.slow
@pytest.mark.parametrize("names", [[".part.aa", ".part.ab", ".part.ac"], [".001", ".002", ".003"], [".partaa", ".partab", ".partac"]])  # noqa: E501
def test_split_targz_builds_same_records(release, expected, tmp_path, names):
    whole = _tar(release, tmp_path / "high-quality-fast.tar.gz", "w:gz")
    delivered = tmp_path / "delivered"
    split(whole, delivered, names, 3)
    whole.unlink()
    assert _comparable(_records(delivered, tmp_path / "cache")) == expected
    assert sorted(p.name for p in delivered.iterdir()) == [f"high-quality-fast.tar.gz{n}" for n in names]
    # a second load reads the done marker: nothing is extracted again
    extracted = next((tmp_path / "cache" / "facevid_extracted").iterdir())
    clip = next(extracted.rglob("000680.mp4"))
    mtime = clip.stat().st_mtime_ns
    assert _comparable(_records(delivered, tmp_path / "cache2")) == expected
    assert clip.stat().st_mtime_ns == mtime


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_tar_and_zip_build_same_records(release, expected, tmp_path, kind):
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    if kind == "tar":
        _tar(release, delivered / "release.tar", "w")
    else:
        with zipfile.ZipFile(delivered / "release.zip", "w") as zf:
            for p in sorted(release.rglob("*")):
                zf.write(p, p.relative_to(release.parent).as_posix())
    assert _comparable(_records(delivered, tmp_path / "cache")) == expected


@pytest.mark.slow
def test_extract_beside_the_data(release, expected, tmp_path):
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    _tar(release, delivered / "release.tar", "w")
    b = load_builder("facevid-1k", "all", data_dir=str(delivered), cache_dir=str(tmp_path / "c"), extract_dir="beside")
    b.download_and_prepare()
    assert (tmp_path / "delivered-extracted" / "high-quality-fast" / "metadata.jsonl").is_file()
    assert sorted(p.name for p in delivered.iterdir()) == ["release.tar"]  # nothing written into the release


def test_killed_extraction_resumes_without_redoing_members(release, tmp_path, monkeypatch):
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    _tar(release, delivered / "release.tar", "w")
    dest = tmp_path / "out"
    import facevid_datasets.raw.archives as archives

    real = archives._write_member
    calls: list[Path] = []

    def dies_on_third(src, target, mtime, tick):
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands for the kill
        calls.append(target)
        real(src, target, mtime, tick)

    monkeypatch.setattr(archives, "_write_member", dies_on_third)
    (archive,) = find_archives(delivered)
    with pytest.raises(KeyboardInterrupt):
        extract_archive(archive, dest, progress=False)
    assert not list(dest.rglob("*.facevid-part")) or all(p.stat().st_size == 0 for p in dest.rglob("*.facevid-part"))
    first = {p: p.stat().st_mtime_ns for p in calls}
    monkeypatch.setattr(archives, "_write_member", real)
    res = extract_archive(archive, dest, progress=False)
    assert res.skipped == 2 and res.written == sum(1 for p in release.rglob("*") if p.is_file()) - 2
    assert {p: p.stat().st_mtime_ns for p in calls} == first  # finished members were not written again
    again = extract_archive(archive, dest, progress=False)
    assert again.already_done and again.written == 0


def test_release_root_copies_loose_metadata(release, tmp_path):
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    tmp = tmp_path / "videos-only"
    shutil.copytree(release / "videos", tmp / "videos")
    _tar(tmp / "videos", delivered / "videos.tar", "w")
    shutil.copy(release / "metadata.jsonl", delivered / "metadata.jsonl")
    root = release_root(delivered, cache_root=tmp_path / "cache", progress=False)
    assert (root / "metadata.jsonl").read_bytes() == (release / "metadata.jsonl").read_bytes()
    assert sorted(p.name for p in (root / "videos").iterdir()) == sorted(f"{c}.mp4" for c in CLIPS)
