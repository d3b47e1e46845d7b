"""Releases as they are delivered: `.tar`, `.tar.gz`/`.tgz`, `.zip`, whole or split into parts.

DH-FaceVid-1K arrives as split gzip tar parts (`high-quality-fast.tar.gz.part.aa`, `.part.ab`,
...) that users are told to join with `cat` and extract, which needs twice the disk of a 4 TB
release. Here a folder holding such archives builds directly:

- parts are found by name (`.part.aa`, `.partaa`, `.aa`, `.001`, `.part01`, ...) and read in order
  as ONE stream through `PartsReader`, a small file-like that chains them (never joined on disk);
  a gap in the part names is reported before anything is read;
- each archive is extracted once into a managed folder: under the cache by default
  (`<cache_dir>/facevid_extracted/<folder>-<key>`), beside the data with `extract_dir="beside"`
  (`<data_dir>-extracted`), or into any folder outside the release with `extract_dir="/path"`.
  Nothing is ever written into the release folder itself;
- free space is checked first (exact for `.tar` and `.zip`, the compressed size as a lower bound
  for `.tar.gz`: video does not compress), and a tqdm bar counts archive bytes read;
- every member is written to a temporary name and renamed into place, so a member present with
  its archived size and mtime is finished: a killed extraction resumes without rewriting finished
  members (a plain `.tar` seeks over them; a `.tar.gz` must still decompress them), and a done
  marker per archive (written atomically, keyed by the parts' names, sizes and mtimes) makes
  later loads skip the archive entirely;
- members that would leave the folder (absolute paths, `..`, links pointing out, devices) are
  refused with tarfile's `filter="data"` rules (zip: the same path check, links refused); the
  rest is extracted and each refusal logged in one line;
- a missing or truncated part stops with ONE line naming the archive and the part;
- optionally (`facevid extract --remove-parts`) the parts are deleted once the extraction has
  read the whole archive without error.

Reading clips straight out of an uncompressed `.tar` by member offset was measured against
extracting (`benchmarks/bench_extract.py`): it saves the one-time copy, but reading a clip costs
the same either way and every decoder this package uses (torchcodec, decord, PyAV, ffmpeg for
cutting, the exporters) opens a path, so offsets would need a file-like through each of them for
no gain per epoch. Extraction is what is offered; the figures are in `benchmarks/README.md`.

Beside the archives only the metadata tables (and `deletions.txt`) of a folder are read: they are
copied into the extracted release so one folder holds the whole layout.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import cache_paths
from ..errors import CacheError, DatasetNotFound, UnsafePath
from .layout import METADATA_NAMES, SIDE_DIRS, safe_relpath

logger = logging.getLogger(__name__)

#: Archive names: the kind, then an optional part suffix (letters or digits, after `.part`, `.part.` or `.`).
_ARCHIVE = re.compile(
    r"^(?P<base>.+?\.(?P<kind>tar\.gz|tgz|tar|zip))(?:(?:\.part\.?|\.)(?P<part>[a-z]{2,4}|\d{2,4}))?$", re.I
)
#: Hidden folder of the extraction's own records (done markers), skipped by the layout reader.
MARKERS = ".facevid-extract"
#: Files beside the archives that belong to the release and are copied into the extracted folder.
LOOSE_FILES = (*METADATA_NAMES, "deletions.txt")
_CHUNK = 1 << 20


class ArchiveError(DatasetNotFound):
    """An archive cannot be read to its end (a part missing, truncated or damaged): one line naming
    the archive and the part."""


@dataclass(frozen=True)
class Archive:
    """One archive as delivered: its name (without part suffix), kind and parts in reading order."""

    name: str
    kind: str  # "tar", "tar.gz" or "zip"
    parts: tuple[Path, ...]

    @property
    def size(self) -> int:
        """Bytes of all parts together."""
        return sum(p.stat().st_size for p in self.parts)

    def signature(self) -> list[list]:
        """Names, sizes and mtimes of the parts: what a done marker is keyed by."""
        return [[p.name, st.st_size, st.st_mtime_ns] for p in self.parts for st in [p.stat()]]


@dataclass
class ExtractResult:
    """What one extraction did: members written, members already there, members refused."""

    archive: Archive
    dest: Path
    written: int = 0
    skipped: int = 0
    refused: list[str] = field(default_factory=list)
    already_done: bool = False


def archive_name(path: str) -> tuple[str, str, str | None] | None:
    """(archive name, kind, part suffix or None) of a file name that is an archive or a part of one."""
    m = _ARCHIVE.match(path.rsplit("/", 1)[-1])
    if m is None:
        return None
    kind = m.group("kind").lower()
    return m.group("base"), ("tar.gz" if kind == "tgz" else kind), m.group("part")


def is_archive_file(path: str) -> bool:
    """Whether a repo or folder path is an archive or one part of a split archive."""
    return archive_name(path) is not None


def _part_number(suffix: str) -> int:
    if suffix.isdigit():
        return int(suffix)
    n = 0
    for ch in suffix.lower():
        n = n * 26 + ord(ch) - ord("a")
    return n


def find_archives(folder: Path) -> list[Archive]:
    """The archives directly in `folder`, their parts in order. A joined archive beside its own parts
    is used alone. Raises ArchiveError (one line) when a part is missing from the middle or the start."""
    groups: dict[str, list[tuple[str | None, Path]]] = {}
    kinds: dict[str, str] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        parsed = archive_name(entry.name)
        if parsed is None:
            continue
        base, kind, part = parsed
        groups.setdefault(base, []).append((part, Path(entry.path)))
        kinds[base] = kind
    out = []
    for base, items in sorted(groups.items()):
        whole = [p for s, p in items if s is None]
        if whole:
            out.append(Archive(base, kinds[base], (whole[0],)))
            continue
        items.sort(key=lambda sp: (len(sp[0] or ""), _part_number(sp[0] or "")))
        numbers = [_part_number(s) for s, _ in items if s is not None]
        first = 0 if not items[0][0].isdigit() else min(numbers[0], 1)
        expected = list(range(first, first + len(numbers)))
        if numbers != expected:
            missing = next(i for i in range(first, numbers[-1] + 1) if i not in set(numbers))
            raise ArchiveError(f"{folder / base}: part {_part_name(items, missing)} is missing "
                               f"(found {', '.join(p.name for _, p in items)})")  # fmt: skip
        out.append(Archive(base, kinds[base], tuple(p for _, p in items)))
    return out


def _part_name(items: list[tuple[str | None, Path]], number: int) -> str:
    """The file name the part with `number` would have, shaped like its siblings."""
    suffix, path = items[0]
    assert suffix is not None
    if suffix.isdigit():
        text = str(number).zfill(len(suffix))
    else:
        letters = []
        for _ in suffix:
            letters.append(chr(ord("a") + number % 26))
            number //= 26
        text = "".join(reversed(letters))
    return path.name[: len(path.name) - len(suffix)] + text


class PartsReader(io.RawIOBase):
    """The parts of a split archive read as one seekable stream, in order, never joined on disk.

    `position` is the offset in the whole stream and `current_part` the part it lies in (for
    messages and the progress bar)."""

    def __init__(self, parts: tuple[Path, ...] | list[Path]):
        super().__init__()
        self.parts = list(parts)
        sizes = [p.stat().st_size for p in self.parts]
        self.starts = [0]
        for s in sizes:
            self.starts.append(self.starts[-1] + s)
        self.total = self.starts[-1]
        self.position = 0
        self._index = -1
        self._file: io.BufferedReader | None = None

    @property
    def current_part(self) -> Path:
        """The part the stream position lies in (the last part at the end)."""
        i = bisect.bisect_right(self.starts, self.position) - 1
        return self.parts[min(max(i, 0), len(self.parts) - 1)]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _open_at(self) -> io.BufferedReader | None:
        i = bisect.bisect_right(self.starts, self.position) - 1
        if i >= len(self.parts):
            return None
        if i != self._index:
            if self._file is not None:
                self._file.close()
            self._file = open(self.parts[i], "rb")  # noqa: SIM115 - closed on the next part or close()
            self._index = i
        assert self._file is not None
        self._file.seek(self.position - self.starts[i])
        return self._file

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self.position < self.total:
            f = self._open_at()
            if f is None:
                break
            end = self.starts[self._index + 1]
            want = min(len(view) - done, end - self.position)
            n = f.readinto(view[done : done + want])
            if not n:  # the part shrank after it was listed
                raise OSError(f"{self.parts[self._index]} is shorter than when it was listed")
            done += n
            self.position += n
        return done

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def _need_bytes(archive: Archive) -> int:
    """Bytes the extraction needs at least: exact for tar and zip, the compressed size for tar.gz."""
    if archive.kind == "zip":
        try:
            with PartsReader(archive.parts) as raw, zipfile.ZipFile(io.BufferedReader(raw, _CHUNK)) as zf:
                return sum(i.file_size for i in zf.infolist())
        except (zipfile.BadZipFile, OSError, EOFError):
            return archive.size  # the extraction itself reports the damage
    return archive.size


def _check_space(archive: Archive, dest: Path) -> None:
    need = _need_bytes(archive)
    free = shutil.disk_usage(dest).free
    if free < need:
        raise CacheError(f"not enough free space in {dest} to extract {archive.name}: about {need / 1e9:.1f} GB "
                         f"needed, {free / 1e9:.1f} GB free. Free space, or pass extract_dir=... (a folder with "
                         "room, outside the release).")  # fmt: skip


def _done_marker(dest: Path, archive: Archive) -> Path:
    return dest / MARKERS / f"{archive.name}.json"


def _finished(target: Path, size: int, mtime: float) -> bool:
    try:
        st = target.stat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size and int(st.st_mtime) == int(mtime)


def _write_member(src: Any, target: Path, mtime: float, tick: Callable[[], None]) -> None:
    """Copy `src` to `target` through a temporary name: a kill never leaves a partial file in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.facevid-part")
    with open(tmp, "wb") as out:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
            tick()
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, target)


def _broken(archive: Archive, reader: PartsReader, err: BaseException) -> ArchiveError:
    part = reader.current_part
    if reader.position >= reader.total or part == archive.parts[-1]:
        what = (f"ends early in its last part {part.name}: the part after it is missing or {part.name} is truncated"
                if len(archive.parts) > 1 else f"{part.name} is truncated")  # fmt: skip
    else:
        what = f"is damaged in part {part.name} (truncated or corrupt)"
    return ArchiveError(f"archive {archive.parts[0].parent / archive.name} {what} ({type(err).__name__}: {err})")


def _tar_members(tf: tarfile.TarFile, dest: Path, result: ExtractResult, tick: Callable[[], None]) -> None:
    for m in tf:
        if len(tf.members) > 1024:  # tarfile keeps every header read; 540k of them cost hundreds of MB
            del tf.members[:-1]
        try:
            safe_relpath(m.name)  # absolute names are refused, not re-rooted as tar would
            safe = tarfile.data_filter(m, str(dest))
        except UnsafePath as e:
            result.refused.append(str(e))
            continue
        except tarfile.FilterError as e:
            result.refused.append(f"{m.name}: {e}")
            continue
        target = dest / safe.name
        if safe.isdir():
            target.mkdir(parents=True, exist_ok=True)
        elif safe.isreg():
            if _finished(target, safe.size, safe.mtime):
                result.skipped += 1
                continue
            src = tf.extractfile(m)
            assert src is not None
            with src:
                _write_member(src, target, safe.mtime, tick)
            result.written += 1
        elif safe.issym() or safe.islnk():
            if not target.exists():
                tf.extract(m, dest, filter="data")
            result.written += 1
        tick()


def _zip_members(zf: zipfile.ZipFile, dest: Path, result: ExtractResult, tick: Callable[[], None]) -> None:
    import time

    for info in zf.infolist():
        try:
            rel = safe_relpath(info.filename.rstrip("/")) if info.filename.rstrip("/") else None
            if rel is None:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafePath(info.filename, "a link (links are not extracted from zip archives)")
        except UnsafePath as e:
            result.refused.append(str(e))
            continue
        target = dest / rel
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        mtime = time.mktime((*info.date_time, 0, 0, -1))
        if _finished(target, info.file_size, mtime):
            result.skipped += 1
            continue
        with zf.open(info) as src:
            _write_member(src, target, mtime, tick)
        result.written += 1


def extract_archive(archive: Archive, dest: Path, *, progress: bool = True,
                    remove_parts: bool = False) -> ExtractResult:  # fmt: skip
    """Extract `archive` into `dest` once (resumable, members that would leave `dest` refused).

    Raises ArchiveError (one line naming the archive and the part) when the parts cannot be read
    to their end, CacheError when `dest` lacks the space. With `remove_parts`, the parts are
    deleted after the whole archive was read without error.
    """
    from tqdm.auto import tqdm

    dest.mkdir(parents=True, exist_ok=True)
    marker = _done_marker(dest, archive)
    signature = archive.signature()
    result = ExtractResult(archive, dest)
    if marker.is_file():
        try:
            if json.loads(marker.read_text())["parts"] == signature:
                result.already_done = True
                return result
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an unreadable marker: extract again (finished members are skipped)
    _check_space(archive, dest)
    reader = PartsReader(archive.parts)
    bar = tqdm(total=reader.total, unit="B", unit_scale=True, desc=f"extract {archive.name}",
               disable=None if progress else True)  # fmt: skip
    seen = [0]

    def tick() -> None:
        bar.update(reader.position - seen[0])
        seen[0] = reader.position

    try:
        buffered = io.BufferedReader(reader, _CHUNK)
        if archive.kind == "zip":
            with zipfile.ZipFile(buffered) as zf:
                _zip_members(zf, dest, result, tick)
        elif archive.kind == "tar.gz":
            with gzip.GzipFile(fileobj=buffered, mode="rb") as gz:
                with tarfile.open(fileobj=gz, mode="r|", bufsize=_CHUNK) as tf:
                    _tar_members(tf, dest, result, tick)
                while gz.read(_CHUNK):  # the rest of the stream: gzip checks its CRC and its end
                    tick()
        else:
            with tarfile.open(fileobj=buffered, mode="r:") as tf:
                _tar_members(tf, dest, result, tick)
                end = tf.offset
            if reader.total - end < 2 * tarfile.BLOCKSIZE:  # no end-of-archive blocks: cut short
                reader.position = reader.total
                raise EOFError("no end-of-archive marker")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise _broken(archive, reader, e) from None
    finally:
        bar.close()
        reader.close()
    for line in result.refused:
        logger.warning("%s: member refused (it would leave %s): %s", archive.name, dest, line)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"parts": signature, "written": result.written, "refused": result.refused}))
    os.replace(tmp, marker)
    if remove_parts:
        for p in archive.parts:
            p.unlink()
    return result


def extraction_dir(data_dir: Path, cache_root: str | Path, extract_dir: str | None = None) -> Path:
    """Where the archives of `data_dir` are extracted: `extract_dir` (a path, or "beside" for
    `<data_dir>-extracted`), else a folder under the cache keyed by the data folder. Never inside
    `data_dir`."""
    data = data_dir.expanduser().resolve()
    if extract_dir == "beside":
        dest = data.with_name(data.name + "-extracted")
    elif extract_dir:
        dest = Path(extract_dir).expanduser().resolve()
    else:
        key = hashlib.sha1(str(data).encode()).hexdigest()[:12]
        dest = cache_paths.extracted_dir(Path(cache_root).expanduser().resolve(), data.name, key)
    if dest == data or data in dest.parents:
        raise CacheError(f"extract_dir {dest} lies inside the release folder {data}; nothing is written there. "
                         "Pass a folder outside it (or extract_dir='beside').")  # fmt: skip
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe = dest / f".facevid-write-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise CacheError(f"cannot extract the archives of {data} into {dest} ({e.strerror or e}). Pass "
                         "extract_dir=... a writable folder outside the release.") from None  # fmt: skip
    return dest


def _release_in(dest: Path) -> Path:
    """The release root inside an extraction: descend through a lone top folder that is not a layout folder."""
    root = dest
    while True:
        entries = [e for e in os.scandir(root) if not e.name.startswith(".")]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].name in (*SIDE_DIRS, "videos"):
            return root
        root = Path(entries[0].path)


def _copy_loose(data_dir: Path, root: Path) -> None:
    for name in LOOSE_FILES:
        src = data_dir / name
        if not src.is_file():
            continue
        dst = root / name
        st = src.stat()
        if dst.is_file() and dst.stat().st_size == st.st_size and dst.stat().st_mtime_ns == st.st_mtime_ns:
            continue
        tmp = dst.with_name(f".{name}.facevid-part")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)


def iter_extract(data_dir: Path, dest: Path, *, progress: bool = True,
                 remove_parts: bool = False) -> Iterator[ExtractResult]:  # fmt: skip
    """Extract every archive of `data_dir` into `dest`, one result per archive."""
    for archive in find_archives(data_dir):
        yield extract_archive(archive, dest, progress=progress, remove_parts=remove_parts)


def release_root(data_dir: Path, *, cache_root: str | Path, extract_dir: str | None = None,
                 progress: bool = True) -> Path:  # fmt: skip
    """The folder a builder reads for `data_dir`: `data_dir` itself, or, when it holds archives,
    their extraction (done once; loose metadata tables copied beside the extracted files)."""
    if not data_dir.is_dir() or not any(is_archive_file(e.name) for e in os.scandir(data_dir)):
        return data_dir
    dest = extraction_dir(data_dir, cache_root, extract_dir)
    results = list(iter_extract(data_dir, dest, progress=progress))
    written = sum(r.written for r in results)
    if written:
        logger.info("%s: %d archive(s) extracted into %s (%d files)", data_dir, len(results), dest, written)
    return finish_release(data_dir, dest)


def finish_release(data_dir: Path, dest: Path) -> Path:
    """The release root inside the extraction `dest` (through a lone top folder), with the loose
    metadata tables of `data_dir` copied in."""
    root = _release_in(dest)
    _copy_loose(data_dir, root)
    return root


def builder_release_root(builder: Any, data_dir: Path) -> Path:
    """`release_root` for a builder: its cache folder and its config's `extract_dir`."""
    return release_root(data_dir, cache_root=cache_paths.cache_root(builder),
                        extract_dir=getattr(builder.config, "extract_dir", None))  # fmt: skip


__all__ = [
    "Archive",
    "ArchiveError",
    "ExtractResult",
    "PartsReader",
    "archive_name",
    "builder_release_root",
    "extract_archive",
    "extraction_dir",
    "find_archives",
    "finish_release",
    "is_archive_file",
    "iter_extract",
    "release_root",
]
