"""The walk behind `forget`: every file under the scanned folders that holds a listed clip, found by
format and read with its own reader (tables by their `clip_id` rows, WebDataset tars by each sample's
json, LitData chunks through `litdata`, sqlite by key; files the ledger records as one clip's copy,
else by name) and, unless checking, rewritten without it or removed."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import cache_paths
from .deletions import LIST_NAME, DeletionList
from .files import (
    PATH_KEYS,
    TableWriter,
    arrow_batches,
    drop_empty_splits,
    lift,
    magic,
    parquet_batches,
    path_columns,
    paths_of,
    table_schema,
    update_dataset_info,
)

#: Suffix of a file name keyed by a hash (`<stem>-<12 hex>.mp4` training copies, `<clip>-<16 hex>.npz`).
_KEY_SUFFIX = re.compile(r"-[0-9a-f]{8,40}$")
_TEXT_LIMIT = 16 << 20


@dataclass
class Change:
    """One file that held a listed clip: what was (or, with `check`, would be) done to it."""

    path: Path
    kind: str  # "arrow", "parquet", "webdataset", "litdata", "jsonl", "csv", "tsv", "sqlite", "json", "file", "stats"
    action: str  # "removed", "rewritten", "present" (check), "stale" (statistics to recompute)
    size_before: int
    size_after: int | None = None
    rows: int = 0
    hits: dict[str, set[str]] = field(default_factory=dict)  # listed id -> clip ids found in this file

    def audit(self) -> dict[str, Any]:
        return {"path": str(self.path), "action": self.action, "size_before": self.size_before,
                "size_after": self.size_after, "rows": self.rows}  # fmt: skip


def wds_key(name: str) -> tuple[str | None, str]:
    """(sample key, extension) of a tar member as the `webdataset` library splits it (at the first dot
    of the file name)."""
    m = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", name)
    return (m.group(1), m.group(2)) if m else (None, "")


def is_litdata(folder: Path) -> bool:
    """A LitData dataset folder: an index.json with `chunks` and `config`."""
    index = folder / "index.json"
    if not index.is_file() or index.stat().st_size > _TEXT_LIMIT:
        return False
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return False
    return isinstance(data, dict) and "chunks" in data and "config" in data


def orphan_chunks(folder: Path, index: dict[str, Any]) -> list[Path]:
    """Chunk files of a LitData folder that its index.json does not list: what an interrupted rewrite
    left (they may hold forgotten clips, and no LitData reader sees them)."""
    listed = {str(c.get("filename")) for c in index.get("chunks") or []}
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.startswith("chunk-") and p.suffix == ".bin" and p.name not in listed)


def commit_litdata(folder: Path, new: Path, index: dict[str, Any]) -> None:
    """Replace a LitData folder's items with the chunks written in `new`, safe against a crash at any
    point: the new chunks are moved in under names no old chunk has, index.json is replaced in one
    rename (the commit), and only then the old chunks are removed. Before the commit the folder reads
    as before; after it, as rewritten; old chunks left by a crash are orphans (`orphan_chunks`),
    removed by the next rewrite and reported by `--check`. Files that are not the dataset's stay."""
    tag = os.urandom(4).hex()
    chunks = []
    for c in index.get("chunks") or []:
        name = f"{Path(c['filename']).stem}.{tag}.bin"
        os.replace(new / c["filename"], folder / name)
        chunks.append({**c, "filename": name})
    staged = folder / f".index.json.{tag}.tmp"
    staged.write_text(json.dumps({**index, "chunks": chunks}))
    try:
        os.replace(staged, folder / "index.json")
    except OSError:
        staged.unlink(missing_ok=True)
        raise
    for p in orphan_chunks(folder, {"chunks": chunks}):
        p.unlink()


def litdata_row(item: Any) -> dict[str, Any] | None:
    """The fields of a LitData item that tell its clip: the `json` field of this package's exports, or
    the item's own `clip_id` / `dataset`; None when it has neither."""
    if not isinstance(item, dict):
        return None
    raw = item.get("json")
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", errors="replace")
    fields = None
    if isinstance(raw, str):
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError:
            fields = None
    src = fields if isinstance(fields, dict) and fields.get("clip_id") not in (None, "") else item
    if src.get("clip_id") in (None, ""):
        return None
    return {k: src.get(k) for k in ("clip_id", "parent_id", "dataset", "original") if k in src}


class CopyScan:
    """One pass over the folders: finds (and unless `check`, removes) every trace of the listed clips."""

    def __init__(self, name: str, deletions: DeletionList, roots: list[Path], protected: set[Path],
                 fenced: list[Path], check: bool, cache: Path | None = None):  # fmt: skip
        self.name = name
        # In the shared `datasets` cache only this package's folders are ours to clean by name or by a
        # bare `clip_id`; another library's cache is touched only through rows whose `dataset` is ours.
        self.cache = cache.resolve() if cache is not None else None
        self.own = (name.replace("-", "_"),)
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
        #: Files the ledger records as one clip's copy (cut clips, training copies): removed whole.
        self.whole: dict[Path, dict[str, set[str]]] = {}

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

    def allowed(self, path: Path, follow: bool = True) -> bool:
        """A file (or with `follow=False`, a link itself) inside the scanned folders, not protected and
        not in a fenced folder."""
        try:
            p = path.resolve() if follow else path.parent.resolve() / path.name
        except OSError:
            return False
        if p in self.protected or any(p.is_relative_to(f) for f in self.fenced):
            return False
        return any(p.is_relative_to(r) for r in self.roots)

    def owned(self, path: Path) -> bool:
        """Outside the `datasets` cache (a folder the user named), or in this package's part of it."""
        p = path.parent.resolve() / path.name
        if self.cache is None or not p.is_relative_to(self.cache) or p.parent == self.cache:
            return True
        top = p.relative_to(self.cache).parts[0]
        return top.startswith(cache_paths.PREFIX) or top in self.own

    # -- walking ----------------------------------------------------------------------------------

    def run(self) -> None:
        for path, hits in sorted(self.whole.items()):
            if path.is_file() and path.resolve() not in self.done and self.allowed(path):
                self.record(Change(path, "file", "removed", path.stat().st_size, hits=hits), remove=True)
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
            for p in drop_empty_splits(d):  # emptied splits: the split goes, or the whole cache when none is left
                before = [c for c in self.changes if c.path == p]
                self.changes = [c for c in self.changes if c.path != p]
                size, hits = (before[0].size_before, before[0].hits) if before else (p.stat().st_size, {})
                self.record(Change(p, "cache", "removed", size, hits=hits), remove=True)
        if any(c.action in ("removed", "rewritten") for c in self.changes):
            self.changes += [Change(p, "stats", "stale", p.stat().st_size) for p in self.stats]

    def visit(self, path: Path) -> None:
        if path.is_symlink():  # a link named after a clip goes; what it points at is not this folder's to touch
            hit = self.name_hit(path.name)
            if hit is not None and self.allowed(path, follow=False) and self.owned(path):
                self.record(Change(path, "link", "removed", 0, hits={hit: {path.name.split(".")[0]}}), remove=True)
            return
        p = path.resolve()
        if p in self.done or not self.allowed(path) or not path.is_file():
            return
        if path.name == LIST_NAME or path.name.endswith((".lock", ".incomplete")) or ".forget.tmp" in path.name:
            return
        suffix = path.suffix.lower()
        kind = magic(path) if suffix == "" else None
        try:
            if (suffix == ".bin" or path.name == "index.json") and is_litdata(path.parent):
                if path.parent.resolve() not in self.done:
                    self.litdata(path.parent)
            elif suffix == ".tar":
                self.tar(path)
            elif suffix == ".arrow" or kind == "arrow":
                self.table(path, "arrow")
            elif suffix == ".parquet" or kind == "parquet":
                self.table(path, "parquet")
            elif suffix == ".jsonl":
                self.text_rows(path, "jsonl")
            elif suffix in (".csv", ".tsv"):
                self.text_rows(path, suffix[1:])
            elif (suffix in (".sqlite", ".sqlite3", ".db") or kind == "sqlite") and self.owned(path):
                self.sqlite(path)
            elif suffix == ".json" and self.owned(path) and self.name_hit(path.name) is None:
                self.json_file(path)  # a JSON named after a listed clip (a copy's done marker) goes whole below
            elif self.owned(path):
                hit = self.name_hit(path.name)
                if hit is not None:
                    hits = {hit: {_KEY_SUFFIX.sub("", path.name.split(".")[0])}}
                    self.record(Change(path, "file", "removed", path.stat().st_size, hits=hits), remove=True)
        except Exception as e:  # one unreadable file must not stop the others from being cleaned
            self.problems.append(f"{path}: could not be checked ({type(e).__name__}: {e})")

    def record(self, change: Change, *, remove: bool = False, replace: Path | None = None) -> None:
        """Note a change; unless checking, delete the file or move the rewritten `replace` over it."""
        self.done.add(change.path if change.path.is_symlink() else change.path.resolve())
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
            for key in PATH_KEYS:
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

        batches = arrow_batches if kind == "arrow" else parquet_batches
        schema, match_cols = table_schema(path, kind)
        if schema is None or not {"clip_id", "json"} & set(match_cols):
            return
        owned = self.owned(path)
        if "dataset" not in schema.names and "json" not in match_cols and not owned:  # rows cannot say whose
            return
        hits: dict[str, set[str]] = {}
        listed = 0
        for batch in batches(path, match_cols):
            for row in map(lift, batch.to_pylist()):
                hit = self.table_hit(row, owned)
                if hit is not None:
                    hits.setdefault(hit, set()).add(str(row["clip_id"]))
                    listed += 1
        if not hits:
            return
        derived = path.name.startswith("cache-") and (path.parent / "dataset_info.json").is_file()
        if derived or self.check:  # a map/filter result is recomputed on demand: delete it whole
            self.record(Change(path, kind, "removed", path.stat().st_size, rows=listed, hits=hits), remove=True)
            return
        tmp = path.with_name(f".{path.name}.forget.tmp")
        gone: list[tuple[str, dict]] = []
        keep: list[dict] = []
        try:
            removed_bytes = self._rewrite(path, kind, tmp, schema, match_cols, gone, keep, owned)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half-written copy still holds other clips' rows: never leave it
            raise
        self.record(Change(path, kind, "rewritten", path.stat().st_size, rows=len(gone), hits=hits), replace=tmp)
        if kind == "arrow":
            self.rewritten_dirs.add(path.parent)
            update_dataset_info(path, len(gone), removed_bytes)
        self.referenced(path, gone, keep)

    def table_hit(self, row: dict[str, Any], owned: bool) -> str | None:
        """`row_hit` for a table row; outside this package's folders only rows that name their dataset count."""
        if row.get("clip_id") is None or (not owned and not row.get("dataset")):
            return None
        return self.row_hit(row)

    def _rewrite(
        self, path: Path, kind: str, tmp: Path, schema: Any, match_cols: list[str], gone: list, keep: list,
        owned: bool = True,
    ) -> int:
        """Write `path`'s rows but the listed ones to `tmp`, batch by batch, noting removed rows (`gone`) and
        the files kept rows use (`keep`); returns the in-memory bytes removed."""
        import pyarrow as pa

        batches = arrow_batches if kind == "arrow" else parquet_batches
        removed_bytes = 0
        with TableWriter(tmp, schema, kind, path) as write:
            for batch in batches(path, None):
                rows = [lift(r) for r in batch.select(match_cols).to_pylist()]
                mask = []
                for row, ref in zip(rows, path_columns(batch), strict=True):
                    hit = self.table_hit(row, owned)
                    mask.append(hit is None)
                    if hit is None:
                        keep.append(ref)
                    else:
                        gone.append((hit, {"clip_id": row["clip_id"], **ref}))
                kept = batch.filter(pa.array(mask, pa.bool_()))
                removed_bytes += batch.nbytes - kept.nbytes
                write(kept)
        return removed_bytes

    def text_rows(self, path: Path, kind: str) -> None:
        """JSONL records, CSV tables (metadata, `clip_id` column) and TSV reports: drop the listed rows."""
        if not self.owned(path):  # JSONL/CSV/TSV rows carry no `dataset` to tell ours apart
            return
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
                        keep.append(paths_of(row))
                else:
                    hits.setdefault(hit, set()).add(str(row["clip_id"]))
                    gone.append((hit, {"clip_id": row["clip_id"], **paths_of(row)}))
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
                    keep.append(paths_of(row))
                else:
                    hits.setdefault(hit, set()).add(row["clip_id"])
                    gone.append((hit, {"clip_id": row["clip_id"], **paths_of(row)}))
            new = buf.getvalue()
        if not hits:
            return
        tmp = path.with_name(f".{path.name}.forget.tmp")
        tmp.write_bytes(new.encode("utf-8", errors="surrogateescape"))
        self.record(Change(path, kind, "rewritten", path.stat().st_size, rows=len(gone), hits=hits), replace=tmp)
        if kind != "tsv":  # a build report's `file` column names the source, not a copy
            self.referenced(path, gone, keep)

    def tar(self, path: Path) -> None:
        """A WebDataset tar shard: samples are matched by the `clip_id` (and `dataset`) of their json member,
        and the listed ones left out of a rewritten tar. A sample without json whose key names a listed
        clip cannot be read by content: the tar is reported unchecked."""
        import tarfile

        rows: dict[str, dict[str, Any]] = {}
        keys: set[str] = set()
        with tarfile.open(path) as t:
            for m in t:
                key, ext = wds_key(m.name)
                if not m.isfile() or key is None:
                    continue
                keys.add(key)
                if ext == "json":
                    f = t.extractfile(m)
                    try:
                        row = json.loads(f.read()) if f is not None else None
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        row = None
                    if isinstance(row, dict) and row.get("clip_id") not in (None, ""):
                        rows[key] = row
        blind = sorted(k for k in keys - set(rows) if self.name_hit(k.rsplit("/", 1)[-1]) is not None)
        if blind:
            self.problems.append(f"{path}: samples {', '.join(blind[:3])} have no json with a clip_id; not checked")
        hits: dict[str, set[str]] = {}
        gone: set[str] = set()
        owned = self.owned(path)
        for key, row in rows.items():
            hit = self.row_hit(row) if owned or row.get("dataset") else None  # a bare id elsewhere is not ours
            if hit is not None:
                hits.setdefault(hit, set()).add(str(row["clip_id"]))
                gone.add(key)
        if not hits:
            return
        if self.check:
            self.record(Change(path, "webdataset", "present", path.stat().st_size, rows=len(gone), hits=hits))
            return
        tmp = path.with_name(f".{path.name}.forget.tmp")
        try:
            with tarfile.open(path) as src, tarfile.open(tmp, "w", format=src.format) as dst:
                for m in src:
                    key, _ = wds_key(m.name)
                    if key in gone:
                        continue
                    dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.record(Change(path, "webdataset", "rewritten", path.stat().st_size, rows=len(gone), hits=hits),
                    replace=tmp)  # fmt: skip

    def litdata(self, folder: Path) -> None:
        """A LitData dataset folder (index.json + chunks), read with `litdata`: items are matched by their
        `json` field's (or own) `clip_id`, and the folder is rewritten without the listed ones."""
        import shutil

        import litdata
        from litdata.streaming.writer import BinaryWriter

        self.done.add(folder.resolve())
        index = json.loads((folder / "index.json").read_text())
        orphans = orphan_chunks(folder, index)
        if orphans and self.check:
            self.problems.append(f"{folder}: {len(orphans)} chunk file(s) not in index.json (an interrupted "
                                 "rewrite); run forget without --check to remove them")
        elif orphans:
            for p in orphans:
                p.unlink()
        ds = litdata.StreamingDataset(str(folder))
        hits: dict[str, set[str]] = {}
        keep: list[int] = []
        blind = 0
        owned = self.owned(folder / "index.json")
        for i in range(len(ds)):
            row = litdata_row(ds[i])
            hit = self.row_hit(row) if row is not None and (owned or row.get("dataset")) else None
            if row is None:
                blind += 1
                keep.append(i)
            elif hit is None:
                keep.append(i)
            else:
                hits.setdefault(hit, set()).add(str(row["clip_id"]))
        if blind:
            self.problems.append(f"{folder}: {blind} LitData items have no clip_id; not checked")
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        rows = len(ds) - len(keep)
        if not hits:
            return
        if self.check:
            self.record(Change(folder, "litdata", "present", size, rows=rows, hits=hits))
            return
        tmp = folder.with_name(f".{folder.name}.forget.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            cfg = index.get("config") or {}
            per_chunk = max((int(c.get("chunk_size") or 0) for c in index.get("chunks") or []), default=0)
            writer = BinaryWriter(str(tmp), chunk_size=per_chunk or cfg.get("chunk_size") or 1)
            for n, i in enumerate(keep):
                writer[n] = ds[i]
            writer.done()
            if keep:
                writer.merge()
                new_index = json.loads((tmp / "index.json").read_text())
            else:  # every item left: an index with no chunks, so the folder still reads as empty
                new_index = {**index, "chunks": []}
            commit_litdata(folder, tmp, new_index)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        change = Change(folder, "litdata", "rewritten", size, rows=rows, hits=hits)
        change.size_after = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        self.changes.append(change)

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
