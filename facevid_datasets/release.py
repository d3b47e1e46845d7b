"""Former home of the release layout reader, split by stage in this version; these names stay
importable from here for existing code.

- layout, tables, rows, index, records: `facevid_datasets.raw`
- the probe cache: `facevid_datasets.media.probe_cache`
- the builder base (`LayoutBuilder`, `LayoutConfig`): `facevid_datasets.builders._layout`
"""

from __future__ import annotations

from .media.probe_cache import ProbeCache
from .raw import (
    AUDIO_EXTENSIONS,
    METADATA_NAMES,
    PROBE_FIELDS,
    SIDE_DIRS,
    SOURCE_ALIASES,
    VIDEO_EXTENSIONS,
    IndexEntry,
    MetaRow,
    ReleaseIndex,
    assign_index_splits,
    build_index,
    config_keeps,
    make_record,
    metadata_tables,
    normalize_source,
    origin_from_name,
    parse_row,
    split_counts,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "METADATA_NAMES",
    "PROBE_FIELDS",
    "SIDE_DIRS",
    "SOURCE_ALIASES",
    "VIDEO_EXTENSIONS",
    "IndexEntry",
    "MetaRow",
    "ProbeCache",
    "ReleaseIndex",
    "assign_index_splits",
    "build_index",
    "config_keeps",
    "make_record",
    "metadata_tables",
    "normalize_source",
    "origin_from_name",
    "parse_row",
    "split_counts",
]
