"""Write a built dataset as Hub-ready Parquet shards (video and audio bytes embedded) plus its card.

Format: Parquet, because it keeps the record's typed schema (the `datasets.Features`, nested
structs and lists, `Video`/`Audio` columns) in the file itself, so plain
`datasets.load_dataset(DIR)` gives back the builder's records with no package code; it is what
`push_to_hub` writes, what the Hub viewer and streaming read, and its columns can be read
without the video bytes (metadata-only scans for statistics and filtering). WebDataset tars keep
bytes but lose the schema: every field comes back as an untyped per-extension blob.

Layout written to `out` (one writer interface, `EXPORT_WRITERS`, for the three formats):

    README.md                              the dataset card with YAML `configs:` for these shards
    data/<config>/<split>-00000-of-0000N.parquet       --format parquet (default)
    webdataset/<config>/<split>-00000-of-0000N.tar     --format webdataset
    litdata/<config>/<split>/index.json, chunk-*.bin   --format litdata (no card)

Every format embeds every file a record points at: the video, a separate audio file (e.g. a
release's `audio/<id>.wav`, kept under its bare name `<id>.wav`: readers use the bytes) and the
side arrays (keypoints, head pose, face boxes: columns of the record). Each written file is
recorded with its clip ids on the ledger of copies, so `facevid forget` reaches it.

Licence note: DH-FaceVid-1K and the CelebV sets forbid redistribution; an export is for the
user's own storage or a private/gated repo that the licence holders allow.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
from datasets.table import embed_table_storage
from datasets.utils.py_utils import convert_file_size_to_int
from huggingface_hub import DatasetCard, DatasetCardData

from .. import cache_paths
from ..errors import refuse_output_inside
from ..licence.ledger import CopyKind, record_copies
from .stream_formats import Shard, progress_bar, write_litdata, write_webdataset_shards

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
    outside: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, file) left out: outside the release


#: Fewest shards an export is cut into (when it has rows enough), so that ranks x DataLoader
#: workers can each stream whole shards.
MIN_SHARDS = 16
#: Rows a shard should hold at least before MIN_SHARDS applies.
MIN_SHARD_ROWS = 1


def parse_size(text: str | int) -> int:
    """Bytes from '500MB' (decimal, 500 * 10**6), '2GiB' (binary) or 1000000, as `datasets` reads them."""
    try:
        return convert_file_size_to_int(text.strip() if isinstance(text, str) else text)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (e.g. 500MB, 2GiB, 1000000)") from None


def shard_count(num_rows: int, num_bytes: int, max_shard_size: int, num_shards: int | None = None) -> int:
    """Shards for a split: `num_shards` if given, else enough for `max_shard_size` and at least
    MIN_SHARDS when every shard still gets MIN_SHARD_ROWS rows; never more than rows."""
    if num_shards is not None:
        n = num_shards
    else:
        by_size = math.ceil(num_bytes / max_shard_size) if max_shard_size > 0 else 1
        n = max(by_size, min(MIN_SHARDS, num_rows // MIN_SHARD_ROWS))
    return max(1, min(n, num_rows))


def allowed_roots(builder: datasets.DatasetBuilder) -> list[str]:
    """Folders an export may read media from: the release folder and the build's own clip cache."""
    roots = []
    data_dir = builder.config.data_dir
    sample = getattr(builder, "SAMPLE_DIR", None)
    if data_dir:
        roots.append(Path(os.path.expanduser(data_dir)))
    elif builder.config.name == "sample" and sample is not None:
        roots.append(Path(sample))
    cache = cache_paths.cache_root(builder)
    roots += [cache_paths.clips_root(cache), cache_paths.hub_root(cache)]
    return [os.path.realpath(r) for r in roots]


def _inside(path: str | None, roots: list[str]) -> bool:
    if not path:
        return True
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def contained(ds: datasets.Dataset, roots: list[str]) -> tuple[datasets.Dataset, list[tuple[str, str]]]:
    """`ds` without the rows whose video or audio file lies outside `roots`, and those (clip_id, path)."""
    cols = [c for c in ("video", "audio") if c in ds.column_names]
    table = ds.with_format("arrow").select_columns(["clip_id", *cols])[:]
    keep, outside = [], []
    ids = table.column("clip_id").to_pylist()
    paths = {c: table.column(c).combine_chunks().field("path").to_pylist() for c in cols}
    for i, cid in enumerate(ids):
        bad = next((paths[c][i] for c in cols if not _inside(paths[c][i], roots)), None)
        if bad is None:
            keep.append(i)
        else:
            outside.append((cid, bad))
    return (ds.select(keep) if outside else ds), outside


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


def card_for(name: str, config: str, splits: list[str],
             pattern: str = "data/{config}/{split}-*.parquet") -> DatasetCard:  # fmt: skip
    """The dataset's card from `dataset_cards/<name>.md` with `configs:` pointing at the exported shards
    (`pattern`: the writer's path pattern, with {config} and {split})."""
    configs = [
        {
            "config_name": config,
            "default": True,
            "data_files": [{"split": s, "path": pattern.format(config=config, split=s)} for s in splits],
        }
    ]
    from ..builders import description, is_known

    src = description(name).card_path if is_known(name) else None
    if src is not None and src.is_file():
        card = DatasetCard.load(src)
        card.data.configs = configs
        return card
    data = DatasetCardData(configs=configs, pretty_name=name)
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n# {name}\n")


def write_parquet_shards(ds: datasets.Dataset, out_dir: Path, split: str, num_shards: int,
                         progress: bool = True) -> list[Shard]:  # fmt: skip
    """Write `ds` as `num_shards` Parquet shards `<split>-0000i-of-0000n.parquet`, every file a record
    points at (video, separate audio) embedded as bytes under its bare file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{split}-*.parquet"):  # an earlier export's shards of this split
        old.unlink()
    n = max(1, min(num_shards, len(ds)))
    schema = ds.features.arrow_schema
    shards = []
    with progress_bar(len(ds), "parquet", split, progress) as bar:
        for i in range(n):
            part = ds.shard(num_shards=n, index=i, contiguous=True)
            path = out_dir / f"{split}-{i:05d}-of-{n:05d}.parquet"
            tmp = path.with_suffix(".parquet.tmp")
            with pq.ParquetWriter(tmp, schema=schema) as writer:
                for start in range(0, len(part), ROW_GROUP_ROWS):
                    table = part.with_format("arrow")[start : start + ROW_GROUP_ROWS]
                    writer.write_table(embed_table_storage(table).cast(schema), row_group_size=ROW_GROUP_ROWS)
                    bar.update(table.num_rows)
            tmp.replace(path)
            shards.append(Shard(path, tuple(str(c) for c in part["clip_id"])))
    return shards


@dataclass(frozen=True)
class ExportWriter:
    """One export format: the folder its shards go to under `out` (`<folder>/<config>/`), the function
    writing a split, `(ds, folder, split, num_shards, progress) -> [Shard]`, the ledger kind of its
    files, and the card's `configs:` path pattern (None: no card, LitData reads its own index)."""

    folder: str
    write: Callable[[datasets.Dataset, Path, str, int, bool], list[Shard]]
    kind: CopyKind
    card_pattern: str | None


#: The export formats `facevid export --format` writes, all through one interface.
EXPORT_WRITERS: dict[str, ExportWriter] = {
    "parquet": ExportWriter("data", write_parquet_shards, CopyKind.PARQUET, "data/{config}/{split}-*.parquet"),
    "webdataset": ExportWriter("webdataset", write_webdataset_shards, CopyKind.WEBDATASET,
                               "webdataset/{config}/{split}-*.tar"),  # fmt: skip
    "litdata": ExportWriter("litdata", write_litdata, CopyKind.LITDATA, None),
}


def export_dataset(
    name: str,
    out: str | Path,
    *,
    config: str | None = None,
    data_dir: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | None = None,
    max_shard_size: str | int = "500MB",
    num_shards: int | None = None,
    fmt: str = "parquet",
    progress: bool = True,
    **config_kwargs: Any,
) -> ExportResult:
    """Build dataset `name` (config `config`) and write it to `out` as Parquet shards plus README.md.

    `fmt="webdataset"` writes tar shards (`webdataset/<config>/<split>-*.tar`, per clip its video,
    separate audio and json; the card's `configs:` point at them) and `fmt="litdata"` LitData chunks
    (`litdata/<config>/<split>/`), for trainers that stream from object storage (see
    `hub.stream_formats`). Every format is cut into `shard_count` shards (at least `MIN_SHARDS`
    when the split has rows enough, so ranks x DataLoader workers each stream whole shards), shows a
    progress bar, and records each file with its clip ids on the ledger of copies (`licence.ledger`),
    so `facevid forget` reaches it.

    Only media inside the release folder (or the build's own clip cache) are embedded: a row whose
    file lies elsewhere is left out and listed in `ExportResult.outside`. An `out` inside the
    release folder is refused (OutputInsideInput) before anything is built or written.
    """
    from ..loading import load_builder

    writer = EXPORT_WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(EXPORT_WRITERS)}")
    out = Path(out)
    if data_dir:
        refuse_output_inside(out, [os.path.expanduser(data_dir)], "release folder")
    builder = load_builder(name, config, data_dir=data_dir, token=token, cache_dir=cache_dir, **config_kwargs)
    roots = allowed_roots(builder)
    refuse_output_inside(out, roots, "release (input) folder")  # the release, the sample, the clip cache
    builder.download_and_prepare()
    dsd = builder.as_dataset()
    res = ExportResult(out=out, config=builder.config.name)
    limit = parse_size(max_shard_size)
    for split, ds in dsd.items():
        ds, outside = contained(ds, roots)
        res.outside += outside
        res.rows[split] = len(ds)
        folder = out / writer.folder / res.config
        n = shard_count(len(ds), _media_bytes(ds) + ds.data.nbytes, limit, num_shards)
        shards = writer.write(ds, folder, split, n, progress)
        record_copies(writer.kind, [(s.path, s.ids) for s in shards], dataset=builder.NAME,
                      cache_dir=cache_paths.cache_root(builder))  # fmt: skip
        res.shards[split] = [s.path for s in shards]
    if writer.card_pattern is not None:  # configs: point at the shards, so plain datasets.load_dataset reads them
        card = card_for(builder.NAME, res.config, list(dsd), writer.card_pattern)
        res.card = out / "README.md"
        card.save(res.card)
    return res
