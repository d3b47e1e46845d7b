"""The repo files a config needs: metadata and card, then the videos and side files of its clips."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from ..raw import (
    AUDIO_EXTENSIONS,
    METADATA_NAMES,
    SIDE_DIRS,
    VIDEO_EXTENSIONS,
    config_keeps,
    iter_table,
    normalize_source,
)
from ..raw.archives import is_archive_file


def _stem_suffix(path: str) -> tuple[str, str]:
    """(stem, lower-case suffix) of a POSIX path, as `PurePosixPath` gives them, without building one."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:].lower()


class _Routing(NamedTuple):
    """The fields of a metadata row that decide which files a config needs (a NamedTuple: 270k of
    them are made per plan, and a frozen dataclass costs three times as much to build)."""

    clip_id: str
    video: str | None
    source: str | None
    language: str | None
    audio: str | None


def _path_value(row: dict, *keys: str) -> str | None:
    v = next((row[k] for k in keys if row.get(k) not in (None, "")), None)
    if isinstance(v, dict):
        v = v.get("path")
    return v if isinstance(v, str) and v else None


def _routing(row: dict) -> _Routing | None:
    """Clip id, video, source, language and audio of a row, read without the builder's full checks
    (`raw.parse_row` costs most of a 270k-row plan): a row the build would reject at worst costs the
    download of its files, and the build reports it."""
    cid = row.get("clip_id")
    if cid in (None, "") or isinstance(cid, bool) or not isinstance(cid, str | int):
        return None
    language = row.get("language")
    return _Routing(str(cid), _path_value(row, "video", "file"), normalize_source(row.get("source")),
                    None if language in (None, "") else str(language), _path_value(row, "audio"))  # fmt: skip


def select_files(name: str, config: str | Any, repo_files: Iterable[str], local_dir: Path) -> list[str]:
    """Repo paths a config needs: metadata, card, and the videos and side files of the clips it keeps.

    `config` is a config name or a builder config object (with its `origins` / `languages`). Reads
    the metadata tables already downloaded to `local_dir`. Archives and their parts (a release
    delivered as `.tar.gz.part.aa`, ...) are kept for every config: which clips they hold is only
    known once they are read. One pass over the listing and one over the metadata.
    """
    from ..builders import builder_class

    cls = builder_class(name)
    cfg = config if not isinstance(config, str) else next((c for c in cls.BUILDER_CONFIGS if c.name == config), None)
    if cfg is None:
        raise KeyError(f"{name} has no config {config!r}; configs: {[c.name for c in cls.BUILDER_CONFIGS]}")
    files = list(repo_files)
    base: list[str] = []
    videos: list[str] = []
    all_side: list[str] = []
    side: dict[tuple[str, str], str] = {}
    for p in files:  # one pass, string operations only (pathlib costs seconds at 540k paths)
        top, _, _ = p.partition("/")
        stem, suffix = _stem_suffix(p)
        if p in METADATA_NAMES or p in ("README.md", "deletions.txt") or is_archive_file(p):
            base.append(p)
        elif top in SIDE_DIRS:
            side[(top, stem)] = p
            if suffix == ".npy" or suffix in AUDIO_EXTENSIONS:
                all_side.append(p)
        elif suffix in VIDEO_EXTENSIONS:
            videos.append(p)
    if getattr(cfg, "origins", None) is None and getattr(cfg, "languages", None) is None:
        return base + videos + all_side
    by_stem = {_stem_suffix(p)[0]: p for p in videos}
    chosen: set[str] = set()
    referenced: set[str] = set()
    for table in (local_dir / n for n in METADATA_NAMES):
        if not table.is_file():
            continue
        for _, row in iter_table(table, []):
            m = _routing(row)
            if m is None:
                continue
            rel = m.video or by_stem.get(m.clip_id)
            if rel is None:
                continue
            referenced.add(rel)
            src = m.source or cls.origin_of(m.clip_id) or cls.origin_of(_stem_suffix(rel)[0])
            if not config_keeps(cfg, cls.NAME, src, m.language or cls.language_of(rel)):
                continue
            chosen.add(rel)
            if m.audio:
                chosen.add(m.audio)
            for kind in SIDE_DIRS:
                if (kind, m.clip_id) in side:
                    chosen.add(side[(kind, m.clip_id)])
    for stem, rel in by_stem.items():
        if rel not in referenced and config_keeps(cfg, cls.NAME, cls.origin_of(stem), cls.language_of(rel)):
            chosen.add(rel)
            chosen.update(side[(k, stem)] for k in SIDE_DIRS if (k, stem) in side)
    listed = set(files)
    return base + sorted(p for p in chosen if p in listed)
