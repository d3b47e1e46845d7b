"""The raw release: what a release folder holds and how it is read, before any record is made.

The layout is the one read by the FaceVid-1K and TalkingFace-Wild builders (and the embedded
sample). No annotation format has been published for these datasets, so this package defines
one; every part but the videos is optional, and a folder of bare video files loads:

    <root>/
      **/*.mp4 (.mkv .webm .mov .avi)   videos, any depth; a clip's id is its file stem unless a
                                        metadata row names its file in `video` (or `file`)
      metadata.jsonl | metadata.csv | metadata.parquet
                                        one row per clip keyed by `clip_id`, any subset of the
                                        record's fields (nested objects, or dotted CSV columns
                                        such as `attributes.ethnicity`; lists as JSON or `;`), plus
                                        `video` (file path relative to the root; several rows may
                                        share one file), probe fields (`fps`, `num_frames`, `width`,
                                        `height`, `duration` and `audio_source` or `has_audio`: when
                                        all are given the file is not probed) and `audio` (a
                                        separate audio file, relative path)
      keypoints/<clip_id>.npy           float32 (frames, K, 3): x, y, confidence in video pixels
      head_pose/<clip_id>.npy           float32 (frames, 3): yaw, pitch, roll in degrees
      audio/<clip_id>.wav|.flac|.m4a|.mp3|.aac   separate audio, when not in the video

Modules, in the order data passes through them; imports run one way only (each module imports
only those above it, never `builders`, `hub` or `training`):

    layout   names and extensions of the layout, clip origins, path containment
    tables   metadata tables read row by row (JSONL, CSV, Parquet), malformed rows reported
    rows     one metadata row checked (types, ranges) into a `MetaRow`
    index    one pass over a release: clips, their files, side files, problems; splits
    records  the typed record of one clip (the schema's `FEATURES`) from its row and side files

Every path a release names (metadata `video`/`audio`, side files, symlinks) must resolve inside
the release root; anything else is reported and skipped, never read.
"""

from .index import IndexEntry, ReleaseIndex, assign_index_splits, build_index, split_counts
from .layout import (
    AUDIO_EXTENSIONS,
    METADATA_NAMES,
    PROBE_FIELDS,
    SIDE_DIRS,
    SOURCE_ALIASES,
    VIDEO_EXTENSIONS,
    UnsafePath,
    normalize_source,
    safe_relpath,
)
from .records import make_record
from .rows import MetaRow, config_keeps, parse_row
from .tables import iter_table, metadata_tables

__all__ = [
    "AUDIO_EXTENSIONS",
    "METADATA_NAMES",
    "PROBE_FIELDS",
    "SIDE_DIRS",
    "SOURCE_ALIASES",
    "VIDEO_EXTENSIONS",
    "IndexEntry",
    "MetaRow",
    "ReleaseIndex",
    "UnsafePath",
    "assign_index_splits",
    "build_index",
    "config_keeps",
    "iter_table",
    "make_record",
    "metadata_tables",
    "normalize_source",
    "parse_row",
    "safe_relpath",
    "split_counts",
]
