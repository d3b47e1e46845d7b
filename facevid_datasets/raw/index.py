"""One pass over a release folder: the clips, where their files are, and what is wrong; splits.

The index is small (one tuple per clip) so a 270k-clip release fits in memory; records are made
later by streaming the metadata again. Every file it lists is inside the release root: symlinks
are followed only where they resolve inside it, symlink loops are cut, names that are not UTF-8
are reported, and metadata paths that leave the root are reported and never opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .. import splits as splits_mod
from ..errors import AnnotationError, UnsafePath
from ..report import ReportRow, Status
from .layout import AUDIO_EXTENSIONS, SIDE_DIRS, VIDEO_EXTENSIONS, is_utf8, printable, resolve_inside, safe_relpath
from .rows import parse_row
from .tables import iter_table, metadata_tables

#: A report row of the index (clip id empty when the problem is a file or folder, not a clip).
Problem = ReportRow


class IndexEntry(NamedTuple):
    table: int  # position in ReleaseIndex.tables
    line: int
    video: str | None  # path relative to the root, None when not found
    split: str | None  # given by the metadata
    source: str | None
    language: str | None
    described: bool = False  # the row carries every probe field: the file is never opened


@dataclass
class ReleaseIndex:
    """What one pass over a release finds: the clips, where their files are, and what is wrong.

    `entries` holds one small tuple per metadata row; `orphans` the videos no row points at.
    `problems` are the build report's rows (`ReportRow`).
    """

    root: Path
    tables: list[Path]
    entries: dict[str, IndexEntry]
    orphans: dict[str, IndexEntry]  # videos without a metadata row (table -1)
    identities: dict[str, str | None]
    problems: list[Problem] = field(default_factory=list)
    side: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def listed(self) -> int:
        """Clips the release lists: metadata rows (present or not) plus videos without a row."""
        return len(self.entries) + len(self.orphans)


def walk_files(
    root: Path, problems: list[Problem], *, skip_top: tuple[str, ...] = (), top: str = ""
) -> Iterator[tuple[str, os.DirEntry]]:
    """(relative POSIX path, entry) of the regular files under `root`, hidden names skipped.

    Symlinks (files or folders) are followed only when they resolve inside the release root; a
    folder reached twice (a symlink loop) is walked once; names that are not UTF-8 are reported.
    """
    root_real = os.path.realpath(root)
    seen: set[tuple[int, int]] = set()
    start = os.path.join(root, top) if top else str(root)
    stack = [(f"{top}/" if top else "", start)]
    while stack:
        prefix, d = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in seen:
                why = "folder reached twice (symlink loop); walked once"
                problems.append(ReportRow("", Status.SKIPPED, why, printable(d)))
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            problems.append(ReportRow("", Status.SKIPPED, f"folder cannot be read ({e.strerror or e})", printable(d)))
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            rel = f"{prefix}{e.name}"
            if not is_utf8(e.name):
                problems.append(ReportRow("", Status.SKIPPED, "file name is not valid UTF-8", printable(e.path)))
                continue
            try:
                if e.is_symlink():
                    resolve_inside(root_real, rel)
                    if not os.path.exists(e.path):
                        problems.append(ReportRow("", Status.SKIPPED, "broken symlink", e.path))
                        continue
                is_dir = e.is_dir(follow_symlinks=True)
            except UnsafePath as err:
                problems.append(ReportRow("", Status.UNSAFE_PATH, f"symlink {err.reason}", e.path))
                continue
            except OSError as err:
                problems.append(ReportRow("", Status.SKIPPED, f"cannot be read ({err.strerror or err})", e.path))
                continue
            if is_dir:
                if not (prefix == "" and e.name in skip_top):
                    stack.append((rel + "/", e.path))
            else:
                yield rel, e


def scan_videos(root: Path, problems: list[Problem]) -> list[str]:
    """Relative paths (POSIX) of video files under `root`, sorted; side folders and hidden ones skipped."""
    out = [rel for rel, e in walk_files(root, problems, skip_top=SIDE_DIRS)
           if os.path.splitext(e.name)[1].lower() in VIDEO_EXTENSIONS]  # fmt: skip
    out.sort()
    return out


def scan_side(root: Path, problems: list[Problem]) -> dict[str, dict[str, str]]:
    """Side files by kind and clip id: `keypoints/<id>.npy`, `head_pose/<id>.npy`, `audio/<id>.<ext>`."""
    side: dict[str, dict[str, str]] = {}
    root_real = os.path.realpath(root)
    for name in SIDE_DIRS:
        found: dict[str, str] = {}
        side[name] = found
        try:
            resolve_inside(root_real, name)
        except UnsafePath as err:
            problems.append(ReportRow("", Status.UNSAFE_PATH, f"side folder {err.reason}", str(root / name)))
            continue
        if (root / name).is_dir():
            for rel, e in walk_files(root, problems, top=name):
                if "/" in rel[len(name) + 1 :]:
                    continue  # side files sit directly in their folder
                stem, ext = os.path.splitext(e.name)
                if ext.lower() not in (AUDIO_EXTENSIONS if name == "audio" else (".npy",)):
                    continue
                found.setdefault(stem, e.path)
    return side


def build_index(
    root: Path,
    *,
    origin: Callable[[str], str | None] = lambda cid: None,
    language: Callable[[str], str | None] = lambda rel: None,
    identity: Callable[[str], str | None] = lambda cid: None,
) -> ReleaseIndex:
    """Read a release folder once: metadata rows (checked), videos on disk, side files, problems.

    `origin(name)` recognises a clip's origin from its file name; `language(relpath)` a language
    from its folder; `identity(clip_id)` the person from the clip id (the dataset's naming rule);
    each used only when the metadata does not say.
    """
    root = Path(root)
    root_real = os.path.realpath(root)
    problems: list[Problem] = []
    videos = scan_videos(root, problems)
    by_stem: dict[str, str] = {}
    for rel in videos:
        stem = os.path.splitext(os.path.basename(rel))[0]
        if stem in by_stem:
            why = f"duplicate clip id, also at {root / by_stem[stem]}"
            problems.append(ReportRow(stem, Status.SKIPPED, why, str(root / rel)))
            continue
        by_stem[stem] = rel
    on_disk = set(videos)
    tables = metadata_tables(root)
    entries: dict[str, IndexEntry] = {}
    identities: dict[str, str | None] = {}
    referenced: set[str] = set()
    intern: dict[str, str] = {}
    for t, path in enumerate(tables):
        errors: list[AnnotationError] = []
        for line, row in iter_table(path, errors):
            try:
                m = parse_row(row, path, line)
            except AnnotationError as e:
                errors.append(e)
                continue
            if m.clip_id in entries:
                errors.append(AnnotationError(path, line, f"clip_id {m.clip_id!r} appears twice; first row kept"))
                continue
            rel = m.video
            if rel is not None:
                try:
                    rel = safe_relpath(rel)
                    if rel not in on_disk:
                        real = resolve_inside(root_real, rel)
                        if not os.path.isfile(real):
                            problems.append(ReportRow(m.clip_id, Status.MISSING, "video named in metadata not found",
                                             f"{path}:{line}"))  # fmt: skip
                            rel = None
                except UnsafePath as e:
                    problems.append(ReportRow(m.clip_id, Status.UNSAFE_PATH, f"video {e}", f"{path}:{line}"))
                    continue
                if rel is not None:
                    referenced.add(rel)
            else:
                rel = by_stem.get(m.clip_id)
                if rel is None:
                    problems.append(ReportRow(m.clip_id, Status.MISSING, "listed in metadata but no video file found",
                                     f"{path}:{line}"))  # fmt: skip
                else:
                    referenced.add(rel)
            if m.audio is not None:
                try:
                    resolve_inside(root_real, m.audio)
                except UnsafePath as e:
                    problems.append(ReportRow(m.clip_id, Status.UNSAFE_PATH, f"audio {e}", f"{path}:{line}"))
                    continue
            src = m.source or origin(m.clip_id) or (origin(Path(rel).stem) if rel else None)
            lang = m.language or (language(rel) if rel else None)
            entries[m.clip_id] = IndexEntry(
                t, line, rel, m.split, intern.setdefault(src, src) if src else None,
                intern.setdefault(lang, lang) if lang else None, m.info is not None,
            )  # fmt: skip
            ident = m.identity or identity(m.clip_id)
            identities[m.clip_id] = intern.setdefault(ident, ident) if ident else None
        for e in errors:
            problems.append(ReportRow.from_error("", e))
    orphans = {
        stem: IndexEntry(-1, 0, rel, None, origin(stem), language(rel))
        for stem, rel in by_stem.items()
        if rel not in referenced and stem not in entries
    }
    for stem in orphans:
        ident = identity(stem)
        identities[stem] = intern.setdefault(ident, ident) if ident else None
    return ReleaseIndex(root, tables, entries, orphans, identities, problems, scan_side(root, problems))


def assign_index_splits(index: ReleaseIndex, *, seed: int = 0, num_test: int | None = None) -> set[str]:
    """Clip ids of the computed test split (clips without a split in the metadata)."""
    given = {cid: e.split for cid, e in index.entries.items() if e.split}
    split_of = splits_mod.assign_splits_given(index.identities.items(), given, seed=seed, num_test=num_test)
    return {cid for cid, s in split_of.items() if s == "test" and cid not in given}


def split_counts(
    index: ReleaseIndex, test_ids: set[str], keep: Callable[[str | None, str | None], bool] = lambda s, lang: True
) -> dict[str, int]:
    """Clips present on disk per split (before probing), for the clips `keep(source, language)` selects."""
    counts: dict[str, int] = {}
    for cid, e in index.entries.items():
        if e.video is not None and keep(e.source, e.language):
            s = e.split or ("test" if cid in test_ids else "train")
            counts[s] = counts.get(s, 0) + 1
    for cid, e in index.orphans.items():
        if keep(e.source, e.language):
            s = "test" if cid in test_ids else "train"
            counts[s] = counts.get(s, 0) + 1
    return counts
