"""Reading and rewriting the files copies of a clip live in, for `forget`: Arrow and Parquet tables
streamed batch by batch with pyarrow (schema and metadata kept, video bytes never turned into Python
objects), the `dataset_info.json` of a `datasets` cache, and the file paths a row points at."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Columns of a row that name a file the row's clip owns.
PATH_KEYS = ("video", "audio", "measurement", "file")
#: Columns read to decide whether a row is a listed clip.
MATCH_COLUMNS = ("clip_id", "parent_id", "dataset", "original")
_ARROW_SHARD = re.compile(r"^(?P<name>.+?)-(?P<split>[^-]+?)(?:-(?P<shard>\d{5})-of-\d{5})?\.arrow$")


def paths_of(row: dict[str, Any]) -> dict[str, str]:
    """The file paths a row names (`video`/`audio` as a path or {path}, `measurement`, `file`)."""
    out = {}
    for key in PATH_KEYS:
        v = row.get(key)
        v = v.get("path") if isinstance(v, dict) else v
        if isinstance(v, str) and v:
            out[key] = v
    return out


def path_columns(batch: Any) -> list[dict[str, str]]:
    """`paths_of` for each row of an Arrow batch, reading only the `path` field of media structs."""
    import pyarrow as pa

    cols: dict[str, list] = {}
    for key in PATH_KEYS:
        if key not in batch.schema.names:
            continue
        col = batch.column(key)
        if pa.types.is_struct(col.type) and col.type.get_field_index("path") >= 0:
            cols[key] = col.field("path").to_pylist()
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            cols[key] = col.to_pylist()
    return [{k: v[i] for k, v in cols.items() if v[i]} for i in range(batch.num_rows)]


def magic(path: Path) -> str | None:
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


def table_schema(path: Path, kind: str) -> tuple[Any, list[str]]:
    """(schema, columns needed to match rows) of an Arrow or Parquet file; pyarrow's error for a file
    that is not one (the caller reports it as unchecked: it may still hold a listed clip)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "parquet":
        schema = pq.read_schema(path)
    else:
        with pa.memory_map(str(path)) as src:
            try:
                schema = pa.ipc.open_stream(src).schema
            except pa.ArrowInvalid:
                src.seek(0)
                schema = pa.ipc.open_file(src).schema
    cols = [c for c in MATCH_COLUMNS if c in schema.names]
    if "clip_id" not in cols and "json" in schema.names:  # plain `datasets` cache of a WebDataset export
        t = schema.field("json").type
        if pa.types.is_struct(t) and t.get_field_index("clip_id") >= 0:
            cols.append("json")
    return schema, cols


def lift(row: dict[str, Any]) -> dict[str, Any]:
    """A table row with the match fields of its `json` struct (a WebDataset sample read by `datasets`)
    moved to the top, so it is matched like a record."""
    inner = row.pop("json", None)
    if isinstance(inner, dict):
        for k in MATCH_COLUMNS:
            row.setdefault(k, inner.get(k))
    return row


def arrow_batches(path: Path, columns: list[str] | None) -> Iterator[Any]:
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


def parquet_batches(path: Path, columns: list[str] | None) -> Iterator[Any]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for i in range(pf.num_row_groups):
        yield from pf.read_row_group(i, columns=columns).to_batches()


class TableWriter:
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


def update_dataset_info(arrow: Path, removed_rows: int, removed_bytes: int) -> None:
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


def drop_empty_splits(folder: Path) -> list[Path]:
    """Files of a `datasets` cache folder to delete once `forget` emptied some of its splits.

    `as_dataset` refuses a split with no rows, so an emptied split leaves `dataset_info.json` (and
    its Arrow files go); when no split is left the whole folder's files go, and the next load rebuilds.
    """
    info_path = folder / "dataset_info.json"
    if not info_path.is_file():
        return []
    info = json.loads(info_path.read_text())
    splits = info.get("splits") or {}
    empty = {name for name, s in splits.items() if not s.get("num_examples")}
    if not empty:
        return []
    if len(empty) == len(splits):
        return sorted(p for p in folder.iterdir() if p.is_file())
    info["splits"] = {k: v for k, v in splits.items() if k not in empty}
    tmp = info_path.with_name(".dataset_info.json.forget.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, info_path)
    out = []
    for p in folder.glob("*.arrow"):
        m = _ARROW_SHARD.match(p.name)
        if m and m.group("split") in empty:
            out.append(p)
    return sorted(out)
