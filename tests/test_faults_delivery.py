"""Fault suite of the delivery: a torn download memo, bad archive parts, unsafe archive members.

Each case breaks one thing and checks what a user gets: the download goes on (memo), one line
naming the archive and the part (parts), or the member refused while the rest is extracted
(members). Nothing lands outside the extraction folder, nothing is written into the release.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facevid_datasets.errors import CacheError
from facevid_datasets.hub.verify import MEMO, RemoteFile, read_memo, verify_files, write_memo
from facevid_datasets.raw.archives import ArchiveError, extract_archive, find_archives, release_root


def _remote(data: bytes) -> RemoteFile:
    import hashlib

    return RemoteFile(len(data), "sha256", hashlib.sha256(data).hexdigest())


@pytest.fixture
def download(tmp_path) -> tuple[Path, dict[str, RemoteFile]]:
    local = tmp_path / "dl"
    (local / "videos").mkdir(parents=True)
    entries = {}
    for i in range(3):
        data = os.urandom(1000 + i)
        (local / "videos" / f"{i}.mp4").write_bytes(data)
        entries[f"videos/{i}.mp4"] = _remote(data)
    return local, entries


# -- the download memo ---------------------------------------------------------------------------


def test_torn_memo_is_read_as_empty_and_rewritten(download, caplog):
    local, entries = download
    assert verify_files(local, entries, entries) == []
    memo = local / MEMO
    text = memo.read_text()
    memo.write_text(text[: len(text) // 2])  # what a kill mid-write left before writes were atomic
    with caplog.at_level(logging.WARNING):
        assert verify_files(local, entries, entries) == []
    assert "unreadable verification memo" in caplog.text and str(memo) in caplog.text
    assert set(json.loads(memo.read_text())) == set(entries)


def test_memo_of_the_wrong_shape_is_read_as_empty(download, caplog):
    local, entries = download
    (local / MEMO).parent.mkdir(parents=True)
    (local / MEMO).write_text("[1, 2]")
    with caplog.at_level(logging.WARNING):
        assert verify_files(local, entries, entries) == []
    assert "not a JSON object" in caplog.text and isinstance(read_memo(local / MEMO), dict)


def test_kill_while_writing_the_memo_keeps_the_old_one(download, monkeypatch):
    local, entries = download
    verify_files(local, entries, entries)
    before = (local / MEMO).read_text()

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_memo(local / MEMO, {"x": [1]})
    monkeypatch.undo()
    assert (local / MEMO).read_text() == before and read_memo(local / MEMO).keys() == entries.keys()


def test_changed_file_is_hashed_again_despite_the_memo(download):
    local, entries = download
    verify_files(local, entries, entries)
    p = local / "videos" / "1.mp4"
    p.write_bytes(bytes(len(p.read_bytes())))  # same size, other bytes, newer mtime
    assert verify_files(local, entries, entries) == ["videos/1.mp4"]


# -- bad parts -------------------------------------------------------------------------------------


@pytest.fixture
def targz(tmp_path) -> Path:
    src = tmp_path / "src" / "rel"
    (src / "videos").mkdir(parents=True)
    for i in range(4):
        (src / "videos" / f"{i:06d}.mp4").write_bytes(os.urandom(40_000))
    out = tmp_path / "high-quality-fast.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        tf.add(src, arcname="rel")
    return out


def _split(path: Path, folder: Path, suffixes: list[str]) -> list[Path]:
    data = path.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-len(data) // len(suffixes))
    parts = []
    for i, s in enumerate(suffixes):
        p = folder / f"{path.name}{s}"
        p.write_bytes(data[i * step : (i + 1) * step])
        parts.append(p)
    return parts


def _one_line_error(err: BaseException, *names: str) -> str:
    msg = str(err)
    assert "\n" not in msg, msg
    for n in names:
        assert n in msg, (n, msg)
    return msg


@pytest.mark.parametrize("suffixes", [[".part.aa", ".part.ab", ".part.ac"], [".001", ".002", ".003"]])
def test_missing_last_part_is_one_line_naming_archive_and_part(targz, tmp_path, suffixes):
    parts = _split(targz, tmp_path / "d", suffixes)
    parts[-1].unlink()
    (archive,) = find_archives(tmp_path / "d")
    with pytest.raises(ArchiveError) as ei:
        extract_archive(archive, tmp_path / "out", progress=False)
    msg = _one_line_error(ei.value, "high-quality-fast.tar.gz", parts[1].name)
    assert "last part" in msg and "missing" in msg


def test_missing_middle_part_is_named_before_reading(targz, tmp_path):
    parts = _split(targz, tmp_path / "d", [".part.aa", ".part.ab", ".part.ac"])
    parts[1].unlink()
    with pytest.raises(ArchiveError) as ei:
        find_archives(tmp_path / "d")
    _one_line_error(ei.value, "high-quality-fast.tar.gz", "high-quality-fast.tar.gz.part.ab is missing")


def test_missing_first_part_is_named(targz, tmp_path):
    parts = _split(targz, tmp_path / "d", [".001", ".002", ".003"])
    parts[0].unlink()
    with pytest.raises(ArchiveError) as ei:
        find_archives(tmp_path / "d")
    _one_line_error(ei.value, "high-quality-fast.tar.gz.001 is missing")


def test_truncated_middle_part_names_the_part(targz, tmp_path):
    parts = _split(targz, tmp_path / "d", [".part.aa", ".part.ab", ".part.ac"])
    parts[1].write_bytes(parts[1].read_bytes()[:-5000])
    (archive,) = find_archives(tmp_path / "d")
    with pytest.raises(ArchiveError) as ei:
        extract_archive(archive, tmp_path / "out", progress=False)
    _one_line_error(ei.value, "high-quality-fast.tar.gz")


def test_truncated_plain_tar(tmp_path):
    src = tmp_path / "a.mp4"
    src.write_bytes(os.urandom(30_000))
    (tmp_path / "d").mkdir()
    with tarfile.open(tmp_path / "d" / "rel.tar", "w") as tf:
        tf.add(src, arcname="videos/a.mp4")
    tar = tmp_path / "d" / "rel.tar"
    tar.write_bytes(tar.read_bytes()[:20_000])
    (archive,) = find_archives(tmp_path / "d")
    with pytest.raises(ArchiveError) as ei:
        extract_archive(archive, tmp_path / "out", progress=False)
    _one_line_error(ei.value, "rel.tar", "truncated")


def test_zip_missing_last_part(tmp_path):
    z = tmp_path / "rel.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("videos/a.mp4", os.urandom(30_000))
    parts = _split(z, tmp_path / "d", [".001", ".002"])
    parts[-1].unlink()
    (archive,) = find_archives(tmp_path / "d")
    with pytest.raises(ArchiveError) as ei:
        extract_archive(archive, tmp_path / "out", progress=False)
    _one_line_error(ei.value, "rel.zip", "rel.zip.001")


def test_load_with_a_missing_part_is_one_line(targz, tmp_path):
    from facevid_datasets.loading import load_builder

    parts = _split(targz, tmp_path / "d", [".part.aa", ".part.ab", ".part.ac"])
    parts[-1].unlink()
    b = load_builder("facevid-1k", "all", data_dir=str(tmp_path / "d"), cache_dir=str(tmp_path / "c"))
    with pytest.raises(ArchiveError) as ei:
        b.download_and_prepare()
    _one_line_error(ei.value, "high-quality-fast.tar.gz", "part.ab")


def test_cli_extract_with_a_missing_part_prints_one_line(targz, tmp_path):
    from facevid_datasets.cli import app

    parts = _split(targz, tmp_path / "d", [".partaa", ".partab", ".partac"])
    parts[-1].unlink()
    res = CliRunner().invoke(app, ["extract", str(tmp_path / "d")])
    text = res.output  # stdout and stderr together
    assert res.exit_code == 1 and "Traceback" not in text and len(text.strip().splitlines()) == 1
    assert "high-quality-fast.tar.gz.partab" in text


def test_cli_extract_of_a_folder_without_archives(tmp_path):
    from facevid_datasets.cli import app

    (tmp_path / "d").mkdir()
    res = CliRunner().invoke(app, ["extract", str(tmp_path / "d")])
    assert res.exit_code == 1 and "holds no archive" in res.output and "Traceback" not in res.output


def test_cli_extract_then_remove_parts(targz, tmp_path):
    from facevid_datasets.cli import app

    _split(targz, tmp_path / "d", [".part.aa", ".part.ab"])
    res = CliRunner().invoke(app, ["extract", str(tmp_path / "d"), "--remove-parts"])
    assert res.exit_code == 0, res.output
    assert not list((tmp_path / "d").iterdir())
    assert len(list((tmp_path / "d-extracted").rglob("*.mp4"))) == 4 and "data_dir=" in res.output


def test_not_enough_space_is_one_line(targz, tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    shutil.copy(targz, tmp_path / "d" / targz.name)
    (archive,) = find_archives(tmp_path / "d")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10))
    with pytest.raises(CacheError) as ei:
        extract_archive(archive, tmp_path / "out", progress=False)
    _one_line_error(ei.value, "not enough free space", "extract_dir")
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_extract_dir_inside_the_release_is_refused(targz, tmp_path):
    (tmp_path / "d").mkdir()
    shutil.copy(targz, tmp_path / "d" / targz.name)
    with pytest.raises(CacheError) as ei:
        release_root(tmp_path / "d", cache_root=tmp_path / "c", extract_dir=str(tmp_path / "d" / "x"))
    _one_line_error(ei.value, "inside the release folder")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [targz.name]


# -- unsafe members ------------------------------------------------------------------------------


def _tar_with(tmp_path: Path, members: list[tarfile.TarInfo], payload: bytes = b"x" * 100) -> Path:
    d = tmp_path / "d"
    d.mkdir(exist_ok=True)
    out = d / "rel.tar"
    import io

    with tarfile.open(out, "w") as tf:
        good = tarfile.TarInfo("rel/videos/good.mp4")
        good.size = len(payload)
        tf.addfile(good, io.BytesIO(payload))
        for m in members:
            tf.addfile(m, io.BytesIO(payload) if m.isreg() else None)
    return out


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    m = tarfile.TarInfo(name)
    m.type = kind
    m.linkname = link
    m.size = 100 if kind == tarfile.REGTYPE else 0
    return m


@pytest.mark.parametrize(
    "member",
    [
        _member("../escaped.mp4"),
        _member("rel/../../escaped.mp4"),
        _member("/tmp/facevid-absolute-escaped.mp4"),
        _member("rel/videos/link.mp4", tarfile.SYMTYPE, "../../../escaped.mp4"),
        _member("rel/videos/abs.mp4", tarfile.SYMTYPE, "/etc/passwd"),
        _member("rel/videos/hard.mp4", tarfile.LNKTYPE, "../outside.mp4"),
        _member("rel/dev", tarfile.CHRTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out", "device"],
)
def test_unsafe_tar_member_never_lands_outside(tmp_path, member, caplog):
    _tar_with(tmp_path, [member])
    dest = tmp_path / "area" / "out"
    before = set((tmp_path).rglob("*"))
    (archive,) = find_archives(tmp_path / "d")
    with caplog.at_level(logging.WARNING):
        res = extract_archive(archive, dest, progress=False)
    assert len(res.refused) == 1 and "member refused" in caplog.text
    assert (dest / "rel" / "videos" / "good.mp4").read_bytes() == b"x" * 100  # the rest is extracted
    new = {p for p in tmp_path.rglob("*") if p not in before} - {dest, dest.parent}
    assert all(dest in p.parents for p in new), sorted(map(str, new))
    assert not Path("/tmp/facevid-absolute-escaped.mp4").exists()
    assert not (dest / "rel" / "videos" / "link.mp4").is_symlink()


@pytest.mark.parametrize("name", ["../escaped.mp4", "/abs/escaped.mp4", "rel/../../escaped.mp4"])
def test_unsafe_zip_member_never_lands_outside(tmp_path, name):
    d = tmp_path / "d"
    d.mkdir()
    with zipfile.ZipFile(d / "rel.zip", "w") as zf:
        zf.writestr("rel/videos/good.mp4", b"y" * 50)
        zf.writestr(zipfile.ZipInfo(name), b"z" * 50)
    dest = tmp_path / "area" / "out"
    (archive,) = find_archives(d)
    res = extract_archive(archive, dest, progress=False)
    assert len(res.refused) == 1 and (dest / "rel" / "videos" / "good.mp4").is_file()
    assert not (tmp_path / "area" / "escaped.mp4").exists() and not (tmp_path / "escaped.mp4").exists()


def test_zip_symlink_member_is_refused(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    info = zipfile.ZipInfo("rel/videos/link.mp4")
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(d / "rel.zip", "w") as zf:
        zf.writestr(info, "../../../etc/passwd")
    (archive,) = find_archives(d)
    res = extract_archive(archive, tmp_path / "out", progress=False)
    assert len(res.refused) == 1 and not (tmp_path / "out" / "rel" / "videos" / "link.mp4").exists()


def test_hub_listing_of_parts_keeps_them_for_every_config(tmp_path):
    from facevid_datasets.hub import select_files

    listing = ["README.md", "high-quality-fast.tar.gz.part.aa", "high-quality-fast.tar.gz.part.ab"]
    for config in ("all", "collected", "public", "celebv"):
        assert select_files("facevid-1k", config, listing, tmp_path) == listing
