"""The ledger of copies: every file this package writes that holds clip data, with the clip ids it holds.

A deletion request must reach every copy of a clip, wherever the user put it. Each writer (the
Arrow build cache, clips cut by a builder, the probe cache, curation outputs, training copies,
every export format, statistics) calls `record_copy(kind, path, ids)` once per file or folder it
wrote; `facevid forget` reads the ledger back and rewrites (or, with `--check`, reads back) each
listed copy with the reader of its kind.

Storage: one JSON line per copy, appended to `<cache_dir>/facevid_ledger/copies.jsonl` (the
`datasets` cache of the build, HF_DATASETS_CACHE by default). An append is one `write` of whole
lines under an exclusive `flock`, then `fsync`, so two writers never interleave and a kill leaves
at most one torn last line. A torn line is skipped on reading and counted (`Ledger.torn`), and the
next append starts on a fresh line, so one crash never hides the copies recorded after it.
`forget_ids` rewrites the ledger without the forgotten ids (a temporary file renamed over it).

    {"kind": "webdataset", "path": "/exports/webdataset/all/train-00000-of-00008.tar",
     "ids": ["000680", "000681"], "dataset": "facevid-1k", "time": "2026-11-24T10:00:00+00:00"}
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from .. import cache_paths
from ..errors import CacheError


class CopyKind(StrEnum):
    """What a ledger entry's file is, so `forget` knows its reader and writer."""

    ARROW_CACHE = "arrow-cache"  # an Arrow file of a `datasets` build cache
    CUT_CLIP = "cut-clip"  # one clip cut by a builder into the cache
    PROBE_CACHE = "probe-cache"  # the sqlite probe cache (rows keyed by file path)
    CURATION = "curation"  # a `facevid curate` output folder
    TRAINING_COPY = "training-copy"  # one re-encoded training copy (or its done marker)
    PARQUET = "parquet"  # a Parquet export shard
    WEBDATASET = "webdataset"  # a WebDataset tar shard
    LITDATA = "litdata"  # a LitData chunk (its folder's index.json tells how to read it)
    STATS = "stats"  # a statistics folder (counts only: listed as stale)


#: Kinds whose file holds exactly the clips recorded: removed whole when one of them is forgotten.
WHOLE_FILE_KINDS = frozenset({CopyKind.CUT_CLIP, CopyKind.TRAINING_COPY})


@dataclass(frozen=True)
class CopyEntry:
    """One recorded copy: its kind (a `CopyKind` value, or a kind this version does not know), the
    file or folder, the clip ids it held when written, the dataset, and the ledger line."""

    kind: str
    path: Path
    ids: tuple[str, ...]
    dataset: str | None = None
    time: str = ""
    line: int = 0

    @property
    def known(self) -> bool:
        """Whether `forget` has a reader and writer for this kind."""
        return self.kind in CopyKind.__members__.values()

    def as_json(self) -> dict[str, object]:
        """The entry as its ledger line's object (the line number is where it is, not what it says)."""
        out: dict[str, object] = {"kind": self.kind, "path": str(self.path), "ids": list(self.ids)}
        if self.dataset:
            out["dataset"] = self.dataset
        out["time"] = self.time
        return out


@dataclass
class Ledger:
    """A ledger read back: its entries in order, and the line numbers that could not be read (torn)."""

    path: Path
    entries: list[CopyEntry] = field(default_factory=list)
    torn: list[int] = field(default_factory=list)

    def holding(self, ids: Iterable[str]) -> list[CopyEntry]:
        """Entries that recorded any of `ids`."""
        want = set(ids)
        return [e for e in self.entries if want.intersection(e.ids)]


def ledger_path(cache_dir: str | Path | None = None) -> Path:
    """`<cache_dir>/facevid_ledger/copies.jsonl` (default cache: HF_DATASETS_CACHE)."""
    return cache_paths.ledger_file(cache_dir if cache_dir is not None else cache_paths.default_cache_dir())


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The ledger opened for appending under an exclusive lock; reopened when `forget_ids` renamed a
    new ledger over the one this process was waiting on (its lines would go to an unlinked file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)


def record_copies(
    kind: CopyKind | str,
    copies: Iterable[tuple[str | Path, Iterable[str]]],
    *,
    dataset: str | None = None,
    cache_dir: str | Path | None = None,
) -> None:
    """Record several (path, clip ids) copies of one kind in one append (see `record_copy`)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    kind = str(kind.value if isinstance(kind, CopyKind) else kind)
    lines = []
    for path, ids in copies:
        entry = CopyEntry(kind, Path(os.path.abspath(path)), tuple(dict.fromkeys(str(i) for i in ids)), dataset, now)
        lines.append(json.dumps(entry.as_json(), ensure_ascii=False) + "\n")
    if not lines:
        return
    target = ledger_path(cache_dir)
    try:
        with _locked(target) as fd:
            size = os.fstat(fd).st_size
            torn_tail = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            data = ("\n" if torn_tail else "") + "".join(lines)  # a torn last line stays alone on its line
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
    except OSError as e:
        raise CacheError(f"{target}: cannot record the copy in the ledger ({e.strerror or e}); a later "
                         f"`facevid forget` would miss it. Make the cache folder writable.") from None  # fmt: skip


def record_copy(
    kind: CopyKind | str,
    path: str | Path,
    ids: Iterable[str],
    *,
    dataset: str | None = None,
    cache_dir: str | Path | None = None,
) -> None:
    """Record that `path` (a file, or a folder for curation outputs and statistics) holds clips `ids`.

    Called once from the place each writer lives, after the file is in place. `cache_dir`: the
    `datasets` cache whose ledger gets the line (default HF_DATASETS_CACHE); `forget` reads the
    ledger of the cache it is given and the default one. Raises CacheError when the ledger cannot
    be written: a copy missing from the ledger would be missed by a deletion request.
    """
    record_copies(kind, [(path, ids)], dataset=dataset, cache_dir=cache_dir)


def dataset_ids(data: Any) -> list[str]:
    """The clip ids of a `datasets.Dataset`, a `DatasetDict` or a list of records (only the `clip_id`
    column is read), for writers whose output counts or holds every clip of what they were given."""
    if hasattr(data, "column_names") and isinstance(data.column_names, dict):  # a DatasetDict
        return [i for split in data.values() for i in dataset_ids(split)]
    if hasattr(data, "column_names"):
        return [str(i) for i in data["clip_id"]] if "clip_id" in data.column_names else []
    return [str(r["clip_id"]) for r in data if isinstance(r, dict) and r.get("clip_id") is not None]


def arrow_ids(folder: str | Path) -> list[tuple[Path, list[str]]]:
    """(Arrow file, its clip ids) for each Arrow file of a `datasets` cache folder (a build's output)."""
    import pyarrow as pa

    out = []
    for path in sorted(Path(folder).glob("*.arrow")):
        with pa.memory_map(str(path)) as src:
            table = pa.ipc.open_stream(src).read_all()
            ids = table.column("clip_id").to_pylist() if "clip_id" in table.column_names else []
        out.append((path, [str(i) for i in ids]))
    return out


def read_ledger(cache_dir: str | Path | None = None) -> Ledger:
    """The ledger of `cache_dir` (empty when there is none); torn lines are skipped and counted."""
    path = ledger_path(cache_dir)
    out = Ledger(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return out
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            entry = CopyEntry(str(d["kind"]), Path(d["path"]), tuple(str(i) for i in d["ids"]), d.get("dataset"),
                              str(d.get("time") or ""), n)  # fmt: skip
        except (ValueError, KeyError, TypeError):
            out.torn.append(n)
            continue
        out.entries.append(entry)
    return out


def forget_ids(cache_dir: str | Path | None, gone: set[str], *, dataset: str | None = None,
               unchecked: Iterable[str] = ()) -> None:  # fmt: skip
    """Rewrite the ledger without the clip ids in `gone` (entries of `dataset`, or of no dataset), and
    without entries whose file is gone; torn lines are dropped. An entry whose path starts one of the
    `unchecked` problem lines keeps its ids (that copy may still hold them). Atomic: a temporary file
    renamed over it."""
    unchecked = tuple(unchecked)
    path = ledger_path(cache_dir)
    if not path.is_file() or not gone:
        return
    with _locked(path):
        ledger = read_ledger(cache_dir)
        lines = []
        for e in ledger.entries:
            ids = e.ids
            if e.dataset in (None, dataset) and not any(u.startswith(str(e.path)) for u in unchecked):
                ids = tuple(i for i in e.ids if i not in gone)
            if not os.path.lexists(e.path) or (e.ids and not ids):
                continue
            kept = CopyEntry(e.kind, e.path, ids, e.dataset, e.time)
            lines.append(json.dumps(kept.as_json(), ensure_ascii=False) + "\n")
        tmp = path.with_name(f".{path.name}.forget.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


__all__ = ["CopyEntry", "CopyKind", "Ledger", "arrow_ids", "dataset_ids", "forget_ids", "ledger_path", "read_ledger",
           "record_copies", "record_copy"]  # fmt: skip
