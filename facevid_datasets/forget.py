"""Carry a deletion request into every copy this package made of a clip, and keep an audit trail.

`forget(name, ids)` walks the `datasets` cache (or `cache_dir`) and any folders given in
`extra_dirs`, and removes the listed clips (a listed source video covers all its clips) from:

- Arrow files of `datasets` build caches (this package's builders and plain `load_dataset` of an
  export): rewritten without the rows, `dataset_info.json` split sizes updated so the cache still
  loads without a rebuild; derived `cache-*.arrow` files (`map`/`filter` results) of a rewritten
  folder are deleted, since their rows or indices refer to the old table;
- Parquet files with a `clip_id` column: exports (`data/<config>/<split>-*.parquet`, still loadable by
  plain `datasets.load_dataset`), `decisions.parquet` of a curation (segments by `parent_id` too),
  training copies' `records.parquet`; JSONL records (`records.jsonl`), CSV tables, TSV build reports;
- sqlite files (the probe cache, keyed by path): rows of a listed clip's file, then VACUUM so no
  freed page keeps them;
- files named after a listed clip: training copies (`<stem>-<key>.mp4`), curation measurements
  (`<clip>-<key>.npz`), cut clips and keypoints, segments (`<clip>_s001.mp4`), clips cut by the
  builders, the Hub download of a release; and files a removed row pointed at inside these folders.

Rows are filtered by the `dataset` column where a table has one, so another dataset's clip with the
same id is left alone. Files are rewritten with pyarrow, csv and sqlite3 (nothing is unpickled) into a
temporary file that replaces the original. The release folder itself is touched only with
`delete_source=True` and `release_root`. Statistics folders (`summary.json` + PNGs) hold counts only:
they are listed as stale, to be recomputed with `facevid stats`.

Audit log: one JSON line per listed id and run, appended to `<cache_dir>/facevid_forget/audit.jsonl`
(or `audit_log=`): the id, the UTC time, the dataset, the clip ids found and each file removed or
rewritten (path, sizes before and after, rows removed); never any content.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .deletions import LIST_NAME, DeletionList

#: Suffix of a file name keyed by a hash (`<stem>-<12 hex>.mp4` training copies, `<clip>-<16 hex>.npz`).
_KEY_SUFFIX = re.compile(r"-[0-9a-f]{8,40}$")
_ARROW_SHARD = re.compile(r"^(?P<name>.+?)-(?P<split>[^-]+?)(?:-(?P<shard>\d{5})-of-\d{5})?\.arrow$")
_PATH_KEYS = ("video", "audio", "measurement", "file")
_TEXT_LIMIT = 16 << 20


@dataclass
class Change:
    """One file that held a listed clip: what was (or, with `check`, would be) done to it."""

    path: Path
    kind: str  # "arrow", "parquet", "jsonl", "csv", "tsv", "sqlite", "json", "file", "stats"
    action: str  # "removed", "rewritten", "present" (check), "stale" (statistics to recompute)
    size_before: int
    size_after: int | None = None
    rows: int = 0
    hits: dict[str, set[str]] = field(default_factory=dict)  # listed id -> clip ids found in this file

    def audit(self) -> dict[str, Any]:
        return {"path": str(self.path), "action": self.action, "size_before": self.size_before,
                "size_after": self.size_after, "rows": self.rows}  # fmt: skip


@dataclass
class ForgetResult:
    """What `forget` changed (or, with `check=True`, found), the problems it could not fix, the audit log."""

    name: str
    deletions: DeletionList
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    audit_log: Path | None = None
    check: bool = False

    @property
    def present(self) -> list[Change]:
        """Copies still holding a listed clip (what `--check` reports)."""
        return [c for c in self.changes if c.action == "present"]

    def clips(self) -> dict[str, set[str]]:
        """Listed id -> clip ids found under it."""
        out: dict[str, set[str]] = {i: set() for i in self.deletions.ids}
        for c in self.changes:
            for ident, cids in c.hits.items():
                out.setdefault(ident, set()).update(cids)
        return out

    def summary(self) -> str:
        acted = [c for c in self.changes if c.action in ("removed", "rewritten")]
        if self.check:
            head = (
                f"{self.name}: {len(self.present)} copies still hold listed clips"
                if self.present
                else (f"{self.name}: no copy of the {len(self.deletions)} listed ids found")
            )
        else:
            rows = sum(c.rows for c in acted)
            head = (f"{self.name}: {len(self.deletions)} listed ids; {sum(c.action == 'removed' for c in acted)} files "
                    f"removed, {sum(c.action == 'rewritten' for c in acted)} rewritten ({rows} rows)")  # fmt: skip
        lines = [head]
        lines += [f"  {c.action:9s} {c.path} ({c.rows} rows)" if c.rows else f"  {c.action:9s} {c.path}"
                  for c in self.changes]  # fmt: skip
        lines += [f"  problem: {p}" for p in self.problems]
        if self.audit_log is not None and not self.check:
            lines.append(f"audit log: {self.audit_log}")
        return "\n".join(lines)


def default_cache_dir() -> Path:
    """The `datasets` cache this package's builders use when no `cache_dir` is given."""
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE)


def default_audit_log(cache_dir: str | Path | None = None) -> Path:
    """Where `forget` appends its audit lines: `<cache_dir>/facevid_forget/audit.jsonl`."""
    return Path(cache_dir or default_cache_dir()) / "facevid_forget" / "audit.jsonl"


class _Scan:
    """One pass over the folders: finds (and unless `check`, removes) every trace of the listed clips."""

    def __init__(self, name: str, deletions: DeletionList, roots: list[Path], protected: set[Path],
                 fenced: list[Path], check: bool):  # fmt: skip
        self.name = name
        self.deletions = deletions
        self.roots = [r.resolve() for r in roots]
        self.protected = {p.resolve() for p in protected}
        self.fenced = [f.resolve() for f in fenced]  # folders never touched (the release, unless delete_source)
        self.check = check
        self.changes: list[Change] = []
        self.problems: list[str] = []
        self.done: set[Path] = set()
        self.rewritten_dirs: set[Path] = set()
        self.stats: list[Path] = []

    # -- matching ---------------------------------------------------------------------------------

    def name_hit(self, filename: str) -> str | None:
        """The listed id a file is named after (`000680.mp4`, `000680-3fa2c1d9e0b7.mp4`, `Czb5Ml9VDsI_0_s001.mp4`)."""
        base = filename.split(".")[0]
        for cand in dict.fromkeys((base, _KEY_SUFFIX.sub("", base))):
            if cand:
                hit = self.deletions.match(cand)
                if hit is not None:
                    return hit
        return None

    def row_hit(self, row: dict[str, Any]) -> str | None:
        """The listed id covering a table row (by clip id, parent clip, or the source video it names)."""
        ds = row.get("dataset")
        if ds not in (None, "", self.name):
            return None
        for key in ("clip_id", "parent_id"):
            cid = row.get(key)
            if cid not in (None, ""):
                hit = self.deletions.match(str(cid), record=row if key == "clip_id" else None)
                if hit is not None:
                    return hit
        return None

    def allowed(self, path: Path) -> bool:
        """A file inside the scanned folders, not protected and not in a fenced folder."""
        try:
            p = path.resolve()
        except OSError:
            return False
        if p in self.protected or any(p.is_relative_to(f) for f in self.fenced):
            return False
        return any(p.is_relative_to(r) for r in self.roots)

    # -- walking ----------------------------------------------------------------------------------

    def run(self) -> None:
        for root in self.roots:
            if root.is_file():
                self.visit(root)
                continue
            for dirpath, dirnames, filenames in os.walk(root):
                d = Path(dirpath)
                if any(d.resolve().is_relative_to(f) for f in self.fenced):
                    dirnames[:] = []
                    continue
                dirnames[:] = sorted(n for n in dirnames if n not in (".git", "__pycache__"))
                for fn in sorted(filenames):
                    self.visit(d / fn)
        for d in sorted(self.rewritten_dirs):  # map/filter results of a rewritten cache: rows or indices are stale
            for p in sorted(d.glob("cache-*.arrow")):
                if p.resolve() not in self.done:
                    self.record(Change(p, "arrow", "removed", p.stat().st_size), remove=True)
        if any(c.action in ("removed", "rewritten") for c in self.changes):
            self.changes += [Change(p, "stats", "stale", p.stat().st_size) for p in self.stats]

    def visit(self, path: Path) -> None:
        p = path.resolve()
        if p in self.done or not self.allowed(path) or not path.is_file():
            return
        if path.name == LIST_NAME or path.name.endswith((".lock", ".incomplete")) or ".forget.tmp" in path.name:
            return
        suffix = path.suffix.lower()
        magic = _magic(path) if suffix == "" else None
        try:
            if suffix == ".arrow" or magic == "arrow":
                self.table(path, "arrow")
            elif suffix == ".parquet" or magic == "parquet":
                self.table(path, "parquet")
            elif suffix == ".jsonl":
                self.text_rows(path, "jsonl")
            elif suffix in (".csv", ".tsv"):
                self.text_rows(path, suffix[1:])
            elif suffix in (".sqlite", ".sqlite3", ".db") or magic == "sqlite":
                self.sqlite(path)
            elif suffix == ".json":
                self.json_file(path)
            else:
                hit = self.name_hit(path.name)
                if hit is not None:
                    hits = {hit: {path.name.split(".")[0]}}
                    self.record(Change(path, "file", "removed", path.stat().st_size, hits=hits), remove=True)
        except Exception as e:  # one unreadable file must not stop the others from being cleaned
            self.problems.append(f"{path}: could not be checked ({type(e).__name__}: {e})")

    def record(self, change: Change, *, remove: bool = False, replace: Path | None = None) -> None:
        """Note a change; unless checking, delete the file or move the rewritten `replace` over it."""
        self.done.add(change.path.resolve())
        if self.check:
            change.action = "present"
            if replace is not None:
                replace.unlink(missing_ok=True)
        elif remove:
            change.path.unlink(missing_ok=True)
            change.size_after = 0
        elif replace is not None:
            os.replace(replace, change.path)
            change.size_after = change.path.stat().st_size
        self.changes.append(change)

    def referenced(self, table_path: Path, gone: list[tuple[str, dict]], keep: list[dict]) -> None:
        """Delete files the removed rows point at (inside the scanned folders) unless a kept row shares them.

        `gone`: (listed id, {clip_id, path columns}) of each removed row; `keep`: path columns of kept rows.
        """

        def paths(row: dict[str, Any]) -> Iterator[Path]:
            for key in _PATH_KEYS:
                v = row.get(key)
                if isinstance(v, str) and v:
                    p = Path(v)
                    yield p if p.is_absolute() else table_path.parent / p

        shared = {p.resolve() for row in keep for p in paths(row)}
        for hit, row in gone:
            for p in paths(row):
                r = p.resolve()
                if r not in shared and r not in self.done and p.is_file() and self.allowed(p):
                    hits = {hit: {str(row.get("clip_id"))}}
                    self.record(Change(p, "file", "removed", p.stat().st_size, hits=hits), remove=True)

    # -- formats ----------------------------------------------------------------------------------

    def table(self, path: Path, kind: str) -> None:
        """Arrow (IPC stream or file) or Parquet with a `clip_id` column: rewrite without the listed rows.

        Rows are matched on a few small columns; video bytes are never turned into Python objects."""
        import pyarrow as pa

        batches = _arrow_batches if kind == "arrow" else _parquet_batches
        schema, match_cols = _table_schema(path, kind)
        if schema is None or "clip_id" not in schema.names:
            return
        hits: dict[str, set[str]] = {}
        for batch in batches(path, match_cols):
            for row in batch.to_pylist():
                hit = self.row_hit(row)
                if hit is not None:
                    hits.setdefault(hit, set()).add(str(row["clip_id"]))
        if not hits:
            return
        derived = path.name.startswith("cache-") and (path.parent / "dataset_info.json").is_file()
        if derived or self.check:  # a map/filter result is recomputed on demand: delete it whole
            self.record(Change(path, kind, "removed", path.stat().st_size, hits=hits), remove=True)
            return
        tmp = path.with_name(f".{path.name}.forget.tmp")
        gone: list[tuple[str, dict]] = []
        keep: list[dict] = []
        removed_rows = removed_bytes = 0
        with _writer(tmp, schema, kind, path) as write:
            for batch in batches(path, None):
                rows = batch.select(match_cols).to_pylist()
                refs = _path_columns(batch)
                mask = []
                for row, ref in zip(rows, refs, strict=True):
                    hit = self.row_hit(row)
                    mask.append(hit is None)
                    if hit is None:
                        keep.append(ref)
                    else:
                        gone.append((hit, {"clip_id": row["clip_id"], **ref}))
                kept = batch.filter(pa.array(mask, pa.bool_()))
                removed_rows += batch.num_rows - kept.num_rows
                removed_bytes += batch.nbytes - kept.nbytes
                write(kept)
        self.record(Change(path, kind, "rewritten", path.stat().st_size, rows=removed_rows, hits=hits), replace=tmp)
        if kind == "arrow":
            self.rewritten_dirs.add(path.parent)
            _update_dataset_info(path, removed_rows, removed_bytes)
        self.referenced(path, gone, keep)

    def text_rows(self, path: Path, kind: str) -> None:
        """JSONL records, CSV tables (metadata, `clip_id` column) and TSV reports: drop the listed rows."""
        if path.stat().st_size > _TEXT_LIMIT * 64:
            self.problems.append(f"{path}: too large to rewrite as text; not checked")
            return
        text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
        hits: dict[str, set[str]] = {}
        gone: list[tuple[str, dict]] = []
        keep: list[dict] = []
        if kind == "jsonl":
            out: list[str] = []
            for line in text.splitlines(keepends=True):
                try:
                    row = json.loads(line) if line.strip() else None
                except json.JSONDecodeError:
                    row = None
                hit = self.row_hit(row) if isinstance(row, dict) else None
                if hit is None:
                    out.append(line)
                    if isinstance(row, dict):
                        keep.append(_paths_of(row))
                else:
                    hits.setdefault(hit, set()).add(str(row["clip_id"]))
                    gone.append((hit, {"clip_id": row["clip_id"], **_paths_of(row)}))
            new = "".join(out)
        else:
            delim = "\t" if kind == "tsv" else ","
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
            if not rows or "clip_id" not in rows[0]:
                return
            header = rows[0]
            buf = io.StringIO()
            w = csv.writer(buf, delimiter=delim, lineterminator="\n")
            w.writerow(header)
            for r in rows[1:]:
                row = dict(zip(header, r, strict=False))
                hit = self.row_hit(row) if row.get("clip_id") else None
                if hit is None:
                    w.writerow(r)
                    keep.append(_paths_of(row))
                else:
                    hits.setdefault(hit, set()).add(row["clip_id"])
                    gone.append((hit, {"clip_id": row["clip_id"], **_paths_of(row)}))
            new = buf.getvalue()
        if not hits:
            return
        tmp = path.with_name(f".{path.name}.forget.tmp")
        tmp.write_bytes(new.encode("utf-8", errors="surrogateescape"))
        self.record(Change(path, kind, "rewritten", path.stat().st_size, rows=len(gone), hits=hits), replace=tmp)
        if kind != "tsv":  # a build report's `file` column names the source, not a copy
            self.referenced(path, gone, keep)

    def sqlite(self, path: Path) -> None:
        """Tables keyed by `clip_id` or by file `path` (the probe cache): delete the listed rows, then VACUUM."""
        con = sqlite3.connect(f"file:{path}?mode={'ro' if self.check else 'rw'}", uri=True, timeout=30)
        size = path.stat().st_size
        hits: dict[str, set[str]] = {}
        doomed: dict[str, list[int]] = {}
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for t in tables:
                cols = {r[1] for r in con.execute(f'PRAGMA table_info("{t}")')}
                key = "clip_id" if "clip_id" in cols else "path" if "path" in cols else None
                if key is None:
                    continue
                for rowid, value in con.execute(f'SELECT rowid, "{key}" FROM "{t}"'):
                    if value is None:
                        continue
                    name = str(value) if key == "clip_id" else Path(str(value)).name
                    hit = self.deletions.match(name) if key == "clip_id" else self.name_hit(name)
                    if hit is not None:
                        hits.setdefault(hit, set()).add(name.split(".")[0])
                        doomed.setdefault(t, []).append(rowid)
            if hits and not self.check:
                for t, rowids in doomed.items():
                    con.executemany(f'DELETE FROM "{t}" WHERE rowid=?', [(r,) for r in rowids])
                con.commit()
                con.execute("VACUUM")
        finally:
            con.close()
        if hits:
            n = sum(len(v) for v in doomed.values())
            self.done.add(path.resolve())
            change = Change(path, "sqlite", "present" if self.check else "rewritten", size, rows=n, hits=hits)
            change.size_after = None if self.check else path.stat().st_size
            self.changes.append(change)

    def json_file(self, path: Path) -> None:
        """Objects keyed by file path (the Hub download's `verified.json`): drop listed keys. A statistics
        summary (counts only) is listed as stale once something was removed."""
        if path.stat().st_size > _TEXT_LIMIT:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if not isinstance(data, dict):
            return
        if path.name == "summary.json" and {"clips", "hours"} <= set(data) and (path.parent / "overview.png").exists():
            self.stats.append(path)
            return
        hits: dict[str, set[str]] = {}
        drop = set()
        for k in data:
            hit = self.name_hit(Path(k).name)
            if hit is not None:
                hits.setdefault(hit, set()).add(Path(k).name.split(".")[0])
                drop.add(k)
        if not hits:
            return
        tmp = path.with_name(f".{path.name}.forget.tmp")
        tmp.write_text(json.dumps({k: v for k, v in data.items() if k not in drop}))
        self.record(Change(path, "json", "rewritten", path.stat().st_size, rows=len(drop), hits=hits), replace=tmp)


def _paths_of(row: dict[str, Any]) -> dict[str, str]:
    """The file paths a row names (`video`/`audio` as a path or {path}, `measurement`, `file`)."""
    out = {}
    for key in _PATH_KEYS:
        v = row.get(key)
        v = v.get("path") if isinstance(v, dict) else v
        if isinstance(v, str) and v:
            out[key] = v
    return out


def _path_columns(batch: Any) -> list[dict[str, str]]:
    """`_paths_of` for each row of an Arrow batch, reading only the `path` field of media structs."""
    import pyarrow as pa

    cols: dict[str, list] = {}
    for key in _PATH_KEYS:
        if key not in batch.schema.names:
            continue
        col = batch.column(key)
        if pa.types.is_struct(col.type) and col.type.get_field_index("path") >= 0:
            cols[key] = col.field("path").to_pylist()
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            cols[key] = col.to_pylist()
    return [{k: v[i] for k, v in cols.items() if v[i]} for i in range(batch.num_rows)]


# -- pyarrow helpers ------------------------------------------------------------------------------------


def _magic(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow"
    if head.startswith(b"PAR1"):  # e.g. a Hub cache blob, named by its hash
        return "parquet"
    return None


def _table_schema(path: Path, kind: str) -> tuple[Any, list[str]]:
    """(schema, columns needed to match rows) of an Arrow or Parquet file; (None, []) if not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            schema = pq.read_schema(path)
        else:
            with pa.memory_map(str(path)) as src:
                try:
                    schema = pa.ipc.open_stream(src).schema
                except pa.ArrowInvalid:
                    schema = pa.ipc.open_file(src).schema
    except (pa.ArrowInvalid, OSError):
        return None, []
    cols = [c for c in ("clip_id", "parent_id", "dataset", "original") if c in schema.names]
    return schema, cols


def _arrow_batches(path: Path, columns: list[str] | None) -> Iterator[Any]:
    import pyarrow as pa

    with pa.memory_map(str(path)) as src:
        try:
            reader: Any = pa.ipc.open_stream(src)
            batches = iter(reader)
        except pa.ArrowInvalid:
            src.seek(0)
            f = pa.ipc.open_file(src)
            batches = (f.get_batch(i) for i in range(f.num_record_batches))
        for b in batches:
            yield b.select(columns) if columns is not None else b


def _parquet_batches(path: Path, columns: list[str] | None) -> Iterator[Any]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for i in range(pf.num_row_groups):
        yield from pf.read_row_group(i, columns=columns).to_batches()


class _writer:
    """Context manager writing filtered batches as the source file's format (schema and metadata kept)."""

    def __init__(self, tmp: Path, schema: Any, kind: str, source: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.kind = kind
        if kind == "parquet":
            md = pq.ParquetFile(source).metadata
            self.rg = max(1, md.row_group(0).num_rows) if md.num_row_groups else None
            self.w: Any = pq.ParquetWriter(tmp, schema)
        else:
            with pa.memory_map(str(source)) as src:
                is_stream = True
                try:
                    pa.ipc.open_stream(src)
                except pa.ArrowInvalid:
                    is_stream = False
            self.sink = pa.OSFile(str(tmp), "wb")
            self.w = (pa.ipc.new_stream if is_stream else pa.ipc.new_file)(self.sink, schema)

    def __enter__(self):
        def write(batch: Any) -> None:
            if batch.num_rows == 0:
                return
            if self.kind == "parquet":
                import pyarrow as pa

                self.w.write_table(pa.Table.from_batches([batch]), row_group_size=self.rg)
            else:
                self.w.write_batch(batch)

        return write

    def __exit__(self, *exc: Any) -> None:
        self.w.close()
        if self.kind != "parquet":
            self.sink.close()


def _update_dataset_info(arrow: Path, removed_rows: int, removed_bytes: int) -> None:
    """Shrink the split sizes in the cache folder's `dataset_info.json` so `as_dataset` reads the new files."""
    info_path = arrow.parent / "dataset_info.json"
    m = _ARROW_SHARD.match(arrow.name)
    if not m or not info_path.is_file() or not removed_rows:
        return
    info = json.loads(info_path.read_text())
    split = (info.get("splits") or {}).get(m.group("split"))
    if not split:
        return
    split["num_examples"] = max(0, split.get("num_examples", 0) - removed_rows)
    split["num_bytes"] = max(0, split.get("num_bytes", 0) - removed_bytes)
    if m.group("shard") is not None and split.get("shard_lengths"):
        i = int(m.group("shard"))
        split["shard_lengths"][i] = max(0, split["shard_lengths"][i] - removed_rows)
    for key in ("dataset_size", "size_in_bytes"):
        if isinstance(info.get(key), int):
            info[key] = max(0, info[key] - removed_bytes)
    tmp = info_path.with_name(".dataset_info.json.forget.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, info_path)


# -- the entry point ------------------------------------------------------------------------------------


def forget(
    name: str,
    ids: DeletionList | str | Path | Iterable[str],
    *,
    cache_dir: str | Path | None = None,
    extra_dirs: Iterable[str | Path] = (),
    delete_source: bool = False,
    release_root: str | Path | None = None,
    check: bool = False,
    audit_log: str | Path | None = None,
) -> ForgetResult:
    """Remove the listed clips of dataset `name` from every copy this package made (see the module docstring).

    `ids`: a DeletionList, a list file, or ids. `cache_dir`: the `datasets` cache used for builds
    (default: HF_DATASETS_CACHE). `extra_dirs`: curated folders, training copies, exports, anything
    else to clean. `delete_source=True` with `release_root` also deletes the clips from the release
    folder itself (metadata rows, videos, side files). `check=True` changes nothing and reports
    every copy still present.
    """
    from .builders import builder_class

    name = builder_class(name).NAME  # a clear KeyError for an unknown dataset
    deletions = DeletionList.of(ids)
    if delete_source and release_root is None:
        raise ValueError("forget: delete_source=True needs release_root (the release folder to delete from)")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    log = Path(audit_log) if audit_log is not None else default_audit_log(cache)
    roots = [cache, *(Path(d) for d in extra_dirs)]
    fenced: list[Path] = []
    if release_root is not None:
        if delete_source or check:
            roots.append(Path(release_root))
        else:
            fenced.append(Path(release_root))
    roots = [r for r in roots if r.exists()]
    protected = {log, *(Path(s) for s in deletions.sources if not s.startswith("<"))}
    result = ForgetResult(name, deletions, audit_log=log, check=check)
    result.problems += deletions.problems
    if not deletions:
        return result
    scan = _Scan(name, deletions, roots, protected, fenced, check)
    scan.run()
    result.changes, result.problems = scan.changes, result.problems + scan.problems
    if not check:
        _append_audit(log, name, result)
    return result


def _append_audit(log: Path, name: str, result: ForgetResult) -> None:
    """One JSON line per listed id: when, what was found, which files were removed or rewritten."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    log.parent.mkdir(parents=True, exist_ok=True)
    found = result.clips()
    with open(log, "a", encoding="utf-8") as f:
        for ident, origin in result.deletions.ids.items():
            files = [c.audit() for c in result.changes if ident in c.hits]
            clips = sorted(found.get(ident, ()))
            matched = "none found" if not clips else "clip" if clips == [ident] else "source video"
            entry = {"id": ident, "time": now, "dataset": name, "list": origin, "matched": matched,
                     "clips": clips, "files": files}  # fmt: skip
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


__all__ = ["Change", "ForgetResult", "default_audit_log", "default_cache_dir", "forget"]
