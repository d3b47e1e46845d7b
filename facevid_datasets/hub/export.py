"""Write a built dataset as Hub-ready Parquet shards (video and audio bytes embedded) plus its card.

Format: Parquet, because it keeps the record's typed schema (the `datasets.Features`, nested
structs and lists, `Video`/`Audio` columns) in the file itself, so plain
`datasets.load_dataset(DIR)` gives back the builder's records with no package code; it is what
`push_to_hub` writes, what the Hub viewer and streaming read, and its columns can be read
without the video bytes (metadata-only scans for statistics and filtering). WebDataset tars keep
bytes but lose the schema: every field comes back as an untyped per-extension blob.

Layout written to `out`:

    README.md                              the dataset card with YAML `configs:` for these shards
    data/<config>/<split>-00000-of-0000N.parquet

Licence note: DH-FaceVid-1K and the CelebV sets forbid redistribution; an export is for the
user's own storage or a private/gated repo that the licence holders allow.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
from datasets.table import embed_table_storage
from huggingface_hub import DatasetCard, DatasetCardData

#: Rows per Parquet row group: few, since each row carries a whole video.
ROW_GROUP_ROWS = 16


@dataclass
class ExportResult:
    """Where the export went and what it holds."""

    out: Path
    config: str
    shards: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    card: Path | None = None


def parse_size(text: str | int) -> int:
    """Bytes from '500MB' / '2GB' / 1000000."""
    if isinstance(text, int):
        return text
    t = text.strip().upper().replace("IB", "B")
    for unit, mult in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)):
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * mult)
    return int(t)


def _media_bytes(ds: datasets.Dataset) -> int:
    """Sum of the sizes of the files the dataset's video/audio columns point at."""
    total = 0
    for col in ("video", "audio"):
        if col not in ds.column_names:
            continue
        for batch in ds.data.table.column(col).chunks:
            for path in batch.field("path").to_pylist():
                if path and os.path.isfile(path):
                    total += os.path.getsize(path)
    return total


def card_for(name: str, config: str, splits: list[str]) -> DatasetCard:
    """The dataset's card from `dataset_cards/<name>.md` with `configs:` pointing at the exported shards."""
    configs = [
        {
            "config_name": config,
            "default": True,
            "data_files": [{"split": s, "path": f"data/{config}/{s}-*.parquet"} for s in splits],
        }
    ]
    src = Path(str(files("facevid_datasets.dataset_cards") / f"{name}.md"))
    if src.is_file():
        card = DatasetCard.load(src)
        card.data.configs = configs
        return card
    data = DatasetCardData(configs=configs, pretty_name=name)
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n# {name}\n")


def write_parquet_shards(ds: datasets.Dataset, out_dir: Path, split: str, max_shard_size: int) -> list[Path]:
    """Write `ds` as Parquet shards of about `max_shard_size` bytes, media files embedded as bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = max(1, math.ceil((_media_bytes(ds) + ds.data.nbytes) / max_shard_size))
    n = min(n, max(1, len(ds)))
    schema = ds.features.arrow_schema
    paths = []
    for i in range(n):
        shard = ds.shard(num_shards=n, index=i, contiguous=True)
        path = out_dir / f"{split}-{i:05d}-of-{n:05d}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        with pq.ParquetWriter(tmp, schema=schema) as writer:
            for start in range(0, len(shard), ROW_GROUP_ROWS):
                table = shard.with_format("arrow")[start : start + ROW_GROUP_ROWS]
                writer.write_table(embed_table_storage(table).cast(schema), row_group_size=ROW_GROUP_ROWS)
        tmp.replace(path)
        paths.append(path)
    return paths


def export_dataset(
    name: str,
    out: str | Path,
    *,
    config: str | None = None,
    data_dir: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | None = None,
    max_shard_size: str | int = "500MB",
    **config_kwargs: Any,
) -> ExportResult:
    """Build dataset `name` (config `config`) and write it to `out` as Parquet shards plus README.md."""
    from ..loading import load_builder

    builder = load_builder(name, config, data_dir=data_dir, token=token, cache_dir=cache_dir, **config_kwargs)
    builder.download_and_prepare()
    dsd = builder.as_dataset()
    out = Path(out)
    res = ExportResult(out=out, config=builder.config.name)
    limit = parse_size(max_shard_size)
    for split, ds in dsd.items():
        for old in (out / "data" / res.config).glob(f"{split}-*.parquet"):
            old.unlink()
        res.shards[split] = write_parquet_shards(ds, out / "data" / res.config, split, limit)
        res.rows[split] = len(ds)
    card = card_for(builder.NAME, res.config, list(dsd))
    res.card = out / "README.md"
    card.save(res.card)
    return res
