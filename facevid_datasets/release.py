"""The release layout read by the FaceVid-1K and TalkingFace-Wild builders (and the embedded sample).

No annotation format has been published for these datasets, so this package defines one; every
part but the videos is optional, and a folder of bare video files loads:

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

Reading is streamed: a first pass over the metadata keeps a small index (clip id, line, file,
identity, split, origin, language) and reports malformed rows with file and line; each split's
pass re-reads the table row by row, so memory does not grow with the number of clips beyond
that index. Probes are cached on disk by (path, size, mtime), so a rebuild or many rows sharing
one file cost one ffprobe call per file.
"""

from __future__ import annotations

import csv
import json
import os
import posixpath
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import datasets
import numpy as np
import pyarrow as pa

from . import splits as splits_mod
from . import vocab
from .builder import FaceVidBuilder, FaceVidConfig
from .errors import AnnotationError, DatasetNotFound, MediaError
from .media.probe import VideoInfo, probe
from .schema import ATTRIBUTES, FEATURES, HEAD_POSE, QUALITY, SPLITS, empty_record, original_json

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi")
AUDIO_EXTENSIONS = (".wav", ".flac", ".m4a", ".mp3", ".aac")
METADATA_NAMES = ("metadata.jsonl", "metadata.csv", "metadata.parquet")
SIDE_DIRS = ("keypoints", "head_pose", "audio")
#: Metadata columns that carry what a probe would measure; with all of them (and the audio
#: presence) the video file is not opened.
PROBE_FIELDS = ("fps", "num_frames", "width", "height", "duration")

_LIST_FIELDS = {"attributes.appearance", "attributes.action", "attributes.light"}
_TH1KH = re.compile(r"^[\w-]{11}_\d{4}_S\d+_E\d+_L\d+_T\d+_R\d+_B\d+$")
_CELEBV = re.compile(r"^[\w-]{11}_\d+(_\d+)?$")
# `000680` and `RS127258_segment_049_7350_0`: neither follows a public set's naming (those start
# with an 11-character YouTube id), so both are read as the authors' own collected clips.
_COLLECTED = re.compile(r"^(\d+|RS\d+_segment_\d+_\d+_\d+)$")

#: Origin spellings accepted in a metadata `source` column, mapped to this package's names.
SOURCE_ALIASES = {
    "collected": "facevid-1k",
    "facevid": "facevid-1k",
    "facevid1k": "facevid-1k",
    "dhfacevid1k": "facevid-1k",
    "celebv": "celebv",
    "celebvhq": "celebv-hq",
    "celebvtext": "celebv-text",
    "talkinghead1kh": "talkinghead-1kh",
    "th1kh": "talkinghead-1kh",
    "talkingfacewild": "talkingface-wild",
}


def origin_from_name(clip_id: str) -> str | None:
    """Origin dataset recognised from a FaceVid-1K file name (DOMAIN.md section 1), else None.

    CelebV-HQ and CelebV-Text share one naming scheme, so their clips are `celebv` unless the
    metadata says which.
    """
    if _TH1KH.match(clip_id):
        return "talkinghead-1kh"
    if _COLLECTED.match(clip_id):
        return "facevid-1k"
    if _CELEBV.match(clip_id):
        return "celebv"
    return None


def normalize_source(value: Any) -> str | None:
    """A metadata `source` value in this package's spelling (`CelebV-HQ` -> `celebv-hq`); unknown kept."""
    if value in (None, ""):
        return None
    key = re.sub(r"[^a-z0-9]", "", str(value).lower())
    return SOURCE_ALIASES.get(key, str(value).strip())


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _scan_videos(root: Path) -> list[str]:
    """Relative paths (POSIX) of video files under `root`, sorted; side folders and hidden ones skipped."""
    out: list[str] = []
    stack = [("", str(root))]
    while stack:
        prefix, d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if _is_hidden(e.name):
                continue
            rel = f"{prefix}{e.name}"
            if e.is_dir(follow_symlinks=True):
                if not (prefix == "" and e.name in SIDE_DIRS):
                    stack.append((rel + "/", e.path))
            elif os.path.splitext(e.name)[1].lower() in VIDEO_EXTENSIONS:
                out.append(rel)
    out.sort()
    return out


def _set_dotted(row: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = row
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _csv_value(key: str, text: str) -> Any:
    if text == "":
        return None
    if key in _LIST_FIELDS:
        if text.startswith("["):
            return json.loads(text)
        return [t.strip() for t in text.split(";") if t.strip()]
    return text


def metadata_tables(root: Path) -> list[Path]:
    """The metadata tables present in a release folder, in reading order."""
    return [root / n for n in METADATA_NAMES if (root / n).is_file()]


def _iter_table(path: Path, errors: list[AnnotationError]) -> Iterator[tuple[int, dict]]:
    """(line, row) of a JSONL / CSV / Parquet table; malformed rows go to `errors` and are skipped."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8-sig") as f:
            for i, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as e:
                    errors.append(AnnotationError(path, i, f"not valid JSON ({e.msg} at column {e.colno})"))
                    continue
                if not isinstance(row, dict):
                    errors.append(AnnotationError(path, i, f"expected a JSON object, got {type(row).__name__}"))
                    continue
                yield i, row
    elif path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            for raw in reader:
                i = reader.line_num
                if None in raw or any(v is None for v in raw.values()):
                    errors.append(AnnotationError(path, i, "wrong number of columns"))
                    continue
                row: dict[str, Any] = {}
                try:
                    for k, v in raw.items():
                        _set_dotted(row, k, _csv_value(k, v))
                except json.JSONDecodeError as e:
                    errors.append(AnnotationError(path, i, f"list column is not valid JSON ({e.msg})"))
                    continue
                yield i, row
    else:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        i = 0
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                i += 1
                yield i, row


# -- row normalisation ----------------------------------------------------------------------------


def _clip_id(row: dict, path: Path, line: int) -> str:
    cid = row.get("clip_id")
    if cid in (None, ""):
        raise AnnotationError(path, line, "row has no clip_id")
    if not isinstance(cid, str | int):
        raise AnnotationError(path, line, f"clip_id must be a string, got {type(cid).__name__}")
    return str(cid)


def _number(row: dict, key: str, kind: type, path: Path, line: int) -> float | int | None:
    v = row.get(key)
    if v is None or v == "":
        return None
    try:
        x = kind(float(v)) if kind is int else float(v)
    except (TypeError, ValueError):
        raise AnnotationError(path, line, f"{key} must be a number, got {v!r}") from None
    if x < 0 or (kind is float and not np.isfinite(x)):
        raise AnnotationError(path, line, f"{key} must be a finite non-negative number, got {v!r}")
    return x


def _bool(v: Any) -> bool | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("1", "true", "yes", "y")


@dataclass(frozen=True)
class MetaRow:
    """A metadata row checked for type errors: the clip's id, file, split, origin and the raw fields."""

    clip_id: str
    video: str | None
    identity: str | None
    split: str | None
    source: str | None
    language: str | None
    info: VideoInfo | None
    audio: str | None
    raw: dict


def parse_row(row: dict, path: Path, line: int) -> MetaRow:
    """Check one metadata row and pull out what the index and the record need.

    Raises AnnotationError naming the file and line for a value of the wrong type.
    """
    cid = _clip_id(row, path, line)
    video = row.get("video", row.get("file"))
    if isinstance(video, dict):
        video = video.get("path")
    if video is not None and not isinstance(video, str):
        raise AnnotationError(path, line, f"video must be a relative file path, got {video!r}")
    split = row.get("split")
    if split in ("", None):
        split = None
    elif split == "val":
        split = "validation"
    if split is not None and split not in SPLITS:
        raise AnnotationError(path, line, f"split {split!r} is not one of {SPLITS}")
    for key in ("attributes", "quality", "keypoints"):
        if row.get(key) is not None and not isinstance(row[key], dict):
            raise AnnotationError(path, line, f"{key} must be an object, got {type(row[key]).__name__}")
    hp = row.get("head_pose")
    if hp is not None and not isinstance(hp, dict | str):
        raise AnnotationError(path, line, f"head_pose must be a label or an object, got {hp!r}")
    quality = row.get("quality") or {}
    for k in QUALITY:
        if k == "sync_offset":
            v = quality.get(k)
            if v not in (None, "") and not re.fullmatch(r"-?\d+(\.0*)?", str(v).strip()):
                raise AnnotationError(path, line, f"quality.sync_offset must be an integer, got {v!r}")
        else:
            _number(quality, k, float, path, line)
    nums = {
        "fps": _number(row, "fps", float, path, line),
        "num_frames": _number(row, "num_frames", int, path, line),
        "width": _number(row, "width", int, path, line),
        "height": _number(row, "height", int, path, line),
        "duration": _number(row, "duration", float, path, line),
    }
    audio_source = row.get("audio_source")
    has_audio = _bool(row.get("has_audio"))
    if audio_source not in (None, "") and audio_source not in ("video", "file", "none"):
        raise AnnotationError(path, line, f"audio_source {audio_source!r} is not video, file or none")
    if has_audio is None and audio_source in ("video", "none"):
        has_audio = audio_source == "video"
    info = None
    if all(v is not None for v in nums.values()) and has_audio is not None:
        info = VideoInfo(path=video or "", width=int(nums["width"]), height=int(nums["height"]), fps=nums["fps"],
                         num_frames=int(nums["num_frames"]), duration=nums["duration"], codec="unknown",
                         pixel_format=None, rotation=0, variable_frame_rate=False, has_audio=has_audio)  # fmt: skip
    audio = row.get("audio")
    if isinstance(audio, dict):
        audio = audio.get("path")
    identity = row.get("identity")
    language = row.get("language")
    return MetaRow(
        clip_id=cid,
        video=video or None,
        identity=None if identity in (None, "") else str(identity),
        split=split,
        source=normalize_source(row.get("source")),
        language=None if language in (None, "") else str(language),
        info=info,
        audio=audio if isinstance(audio, str) and audio else None,
        raw=row,
    )


# -- probe cache ----------------------------------------------------------------------------------


class ProbeCache:
    """`probe()` results kept in memory and in a small sqlite file, keyed by (path, size, mtime).

    Failures are cached too, so a broken file shared by many rows is probed once.
    """

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._mem: dict[tuple[str, int, int], VideoInfo | str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.probes = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS probe (path TEXT, size INTEGER, mtime_ns INTEGER, info TEXT,"
                " PRIMARY KEY (path, size, mtime_ns))"
            )
            self._db.commit()

    def get(self, path: str | Path) -> VideoInfo:
        """The probe of `path`, computed once per file version; raises MediaError as `probe` does."""
        p = str(path)
        try:
            st = os.stat(p)
        except OSError:
            raise MediaError(p, "file not found") from None
        key = (p, st.st_size, st.st_mtime_ns)
        hit = self._mem.get(key)
        if hit is None and self._db is not None:
            with self._lock:
                row = self._db.execute(
                    "SELECT info FROM probe WHERE path=? AND size=? AND mtime_ns=?", key
                ).fetchone()
            if row is not None:
                data = json.loads(row[0])
                hit = data["error"] if "error" in data else VideoInfo(**data)
                self._mem[key] = hit
        if hit is None:
            self.probes += 1
            try:
                hit = probe(p)
            except MediaError as e:
                hit = e.reason
            self._mem[key] = hit
            if self._db is not None:
                text = json.dumps({"error": hit} if isinstance(hit, str) else hit.to_dict())
                with self._lock:
                    self._db.execute("INSERT OR REPLACE INTO probe VALUES (?, ?, ?, ?)", (*key, text))
                    self._db.commit()
        if isinstance(hit, str):
            raise MediaError(p, hit)
        return hit

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# -- the index ------------------------------------------------------------------------------------


class IndexEntry(NamedTuple):
    table: int  # position in ReleaseIndex.tables
    line: int
    video: str | None  # path relative to the root (or absolute), None when not found
    split: str | None  # given by the metadata
    source: str | None
    language: str | None


@dataclass
class ReleaseIndex:
    """What one pass over a release finds: the clips, where their files are, and what is wrong.

    `entries` holds one small tuple per metadata row; `orphans` the videos no row points at.
    `problems` are (clip_id, status, reason, file) rows for the build report.
    """

    root: Path
    tables: list[Path]
    entries: dict[str, IndexEntry]
    orphans: dict[str, IndexEntry]  # videos without a metadata row (table -1)
    identities: dict[str, str | None]
    problems: list[tuple[str, str, str, str]] = field(default_factory=list)
    side: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def listed(self) -> int:
        """Clips the release lists: metadata rows (present or not) plus videos without a row."""
        return len(self.entries) + len(self.orphans)


def _scan_side(root: Path) -> dict[str, dict[str, str]]:
    side: dict[str, dict[str, str]] = {}
    for name in SIDE_DIRS:
        d = root / name
        found: dict[str, str] = {}
        if d.is_dir():
            for e in os.scandir(d):
                stem, ext = os.path.splitext(e.name)
                if name == "audio" and ext.lower() not in AUDIO_EXTENSIONS:
                    continue
                if name != "audio" and ext.lower() != ".npy":
                    continue
                found.setdefault(stem, e.path)
        side[name] = found
    return side


def build_index(
    root: Path,
    *,
    origin: Callable[[str], str | None] = lambda cid: None,
    language: Callable[[str], str | None] = lambda rel: None,
) -> ReleaseIndex:
    """Read a release folder once: metadata rows (checked), videos on disk, side files, problems.

    `origin(name)` recognises a clip's origin from its file name; `language(relpath)` a language
    from its folder; each used only when the metadata does not say.
    """
    root = Path(root)
    videos = _scan_videos(root)
    by_stem: dict[str, str] = {}
    problems: list[tuple[str, str, str, str]] = []
    for rel in videos:
        stem = os.path.splitext(os.path.basename(rel))[0]
        if stem in by_stem:
            problems.append((stem, "skipped", f"duplicate clip id, also at {root / by_stem[stem]}", str(root / rel)))
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
        for line, row in _iter_table(path, errors):
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
                rel = rel if os.path.isabs(rel) else posixpath.normpath(rel.replace("\\", "/"))
                if rel not in on_disk and not os.path.isfile(rel if os.path.isabs(rel) else root / rel):
                    problems.append((m.clip_id, "missing", "video named in metadata not found", f"{path}:{line}"))
                    rel = None
                else:
                    referenced.add(rel)
            else:
                rel = by_stem.get(m.clip_id)
                if rel is None:
                    problems.append((m.clip_id, "missing", "listed in metadata but no video file found",
                                     f"{path}:{line}"))  # fmt: skip
                else:
                    referenced.add(rel)
            src = m.source or origin(m.clip_id) or (origin(Path(rel).stem) if rel else None)
            lang = m.language or (language(rel) if rel else None)
            entries[m.clip_id] = IndexEntry(
                t, line, rel, m.split, intern.setdefault(src, src) if src else None,
                intern.setdefault(lang, lang) if lang else None,
            )  # fmt: skip
            ident = m.identity
            identities[m.clip_id] = intern.setdefault(ident, ident) if ident else None
        for e in errors:
            problems.append(("", "bad-metadata", e.reason, f"{e.path}:{e.line}"))
    orphans = {
        stem: IndexEntry(-1, 0, rel, None, origin(stem), language(rel))
        for stem, rel in by_stem.items()
        if rel not in referenced and stem not in entries
    }
    for stem in orphans:
        identities[stem] = None
    return ReleaseIndex(root, tables, entries, orphans, identities, problems, _scan_side(root))


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


# -- records --------------------------------------------------------------------------------------


def _float(v: Any) -> float | None:
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _as_list(v: Any) -> list | None:
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            return list(json.loads(s))
        return [t.strip() for t in s.split(";") if t.strip()]
    return list(v) if isinstance(v, list | tuple | np.ndarray) else [v]


def make_record(
    clip_id: str,
    video: Path,
    info: VideoInfo | None,
    meta: dict | None,
    *,
    dataset: str,
    root: Path,
    side: dict[str, dict[str, str]] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """A typed record from a release's video, its probe, its metadata row and side files.

    `side` (from `build_index`) saves looking for side files one stat at a time; `source` is the
    origin already worked out by the index. Raises AnnotationError (naming the file) for side
    arrays that do not fit the video.
    """
    meta = dict(meta or {})
    rec = empty_record()
    rec.update(clip_id=clip_id, dataset=dataset, video={"path": str(video), "bytes": None})
    rec["source"] = source or normalize_source(meta.get("source")) or origin_from_name(clip_id) or dataset
    for key in ("identity", "caption", "language", "split"):
        if meta.get(key) not in (None, ""):
            rec[key] = str(meta[key])
    if info is not None:
        rec.update(fps=info.fps, num_frames=info.num_frames, duration=info.duration,
                   width=info.width, height=info.height)  # fmt: skip
        rec["audio_source"] = "video" if info.has_audio else "none"
    attrs = meta.get("attributes") or {}
    for k in ATTRIBUTES:
        v = attrs.get(k)
        if k in ("appearance", "action", "light"):
            rec["attributes"][k] = vocab.map_labels(k, _as_list(v))
        elif k == "environment":
            rec["attributes"][k] = None if v in (None, "") else str(v)
        else:
            rec["attributes"][k] = vocab.map_label(k, None if v in (None, "") else str(v))
    q = meta.get("quality") or {}
    rec["quality"] = {k: _float(q.get(k)) for k in QUALITY}
    if rec["quality"]["sync_offset"] is not None:
        rec["quality"]["sync_offset"] = int(rec["quality"]["sync_offset"])
    hp = meta.get("head_pose") or {}
    if isinstance(hp, str):
        hp = {"label": hp}
    rec["head_pose"] = {k: hp.get(k) for k in HEAD_POSE}
    rec["head_pose"]["label"] = vocab.map_label("head_pose", rec["head_pose"]["label"])

    def side_file(kind: str, exts: tuple[str, ...]) -> Path | None:
        if side is not None:
            found = side.get(kind, {}).get(clip_id)
            return Path(found) if found else None
        for ext in exts:
            p = root / kind / f"{clip_id}{ext}"
            if p.exists():
                return p
        return None

    n = rec["num_frames"]
    kp_path = side_file("keypoints", (".npy",))
    if kp_path is not None:
        pts = np.load(kp_path)
        if pts.ndim != 3 or pts.shape[2] != 3 or (n is not None and pts.shape[0] != n):
            raise AnnotationError(kp_path, None, f"keypoints shape {pts.shape} does not fit {n} frames x K x 3")
        kp_meta = meta.get("keypoints") or {}
        fmt = kp_meta.get("format") if isinstance(kp_meta, dict) else None
        rec["keypoints"] = {"format": fmt or meta.get("keypoints_format") or f"points{pts.shape[1]}",
                            "points": pts.astype(np.float32, copy=False).tolist()}  # fmt: skip
    pose_path = side_file("head_pose", (".npy",))
    if pose_path is not None:
        ang = np.load(pose_path)
        if ang.ndim != 2 or ang.shape[1] != 3 or (n is not None and ang.shape[0] != n):
            raise AnnotationError(pose_path, None, f"head pose shape {ang.shape} does not fit {n} frames x 3")
        for j, k in enumerate(("yaw", "pitch", "roll")):
            rec["head_pose"][k] = ang[:, j].astype(np.float32).tolist()
    audio_rel = meta.get("audio")
    if isinstance(audio_rel, dict):
        audio_rel = audio_rel.get("path")
    if isinstance(audio_rel, str) and audio_rel:
        audio_path: Path | None = root / audio_rel
    else:
        audio_path = side_file("audio", AUDIO_EXTENSIONS)
    if audio_path is not None:
        if not Path(audio_path).is_file():
            raise AnnotationError(audio_path, None, "audio file named in metadata not found")
        rec["audio"] = {"path": str(audio_path), "bytes": None}
        rec["audio_source"] = "file"
    rec["original"] = original_json(meta) if meta else None
    assert set(rec) == set(FEATURES)
    return rec


# -- the shared builder ---------------------------------------------------------------------------


@dataclass
class ReleaseConfig(FaceVidConfig):
    """Options of builders that read this release layout.

    origins: keep only clips whose `source` is one of these (None: all).
    languages: keep only clips in these languages (None: all).
    num_test: size of the computed test split (None: 2,048, or 10% of releases under 20,480 clips).
    split_seed: seed of the identity ordering that picks the test identities.
    hub_repo / revision: gated Hub dataset repo to download from when no data_dir is given (the
        builder's own `repo_id=` argument, as `load_dataset(..., repo_id=...)` passes it, works too).
    probe_cache: keep ffprobe results in `<cache_dir>/facevid_probe_cache.sqlite`.
    """

    origins: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    num_test: int | None = None
    split_seed: int = 0
    hub_repo: str | None = None
    revision: str | None = None
    probe_cache: bool = True


def config_keeps(config: FaceVidConfig, dataset: str, source: str | None, language: str | None) -> bool:
    """Whether a clip of this origin and language belongs to `config` (its `origins` / `languages`)."""
    origins = getattr(config, "origins", None)
    languages = getattr(config, "languages", None)
    if origins is not None and (source or dataset) not in origins:
        return False
    return languages is None or language in languages


class ReleaseBuilder(FaceVidBuilder):
    """Builder of a dataset distributed in this module's release layout (FaceVid-1K, TalkingFace-Wild).

    Records are written as Arrow tables of a few hundred rows built by pyarrow in C (the
    `ArrowBasedBuilder` path): per-example encoding through `Features.encode_example` costs about
    a millisecond a row, minutes for a 270k-clip release. `_generate_examples` still yields the
    records one by one for readers and tests.
    """

    BUILDER_CONFIG_CLASS = ReleaseConfig
    #: Rows per Arrow table written; a table is flushed early once it holds this many keypoint frames
    #: (a keypoint row is megabytes as Python lists), which bounds memory whatever the release.
    TABLE_ROWS = 512
    TABLE_KEYPOINT_FRAMES = 20_000
    #: Record batches of the cache file. `datasets` defaults to 10 rows for tables with a Video column
    #: (sized for embedded video bytes); ours hold paths, and 27k tiny batches for a 270k-clip release
    #: cost ~650 MB of Arrow metadata each time the dataset is opened.
    DEFAULT_WRITER_BATCH_SIZE = TABLE_ROWS
    _prepare_split = datasets.ArrowBasedBuilder._prepare_split
    _prepare_split_single = datasets.ArrowBasedBuilder._prepare_split_single
    _get_examples_iterable_for_split = datasets.ArrowBasedBuilder._get_examples_iterable_for_split
    #: Release shipped inside the package for the `sample` config, if any.
    SAMPLE_DIR: ClassVar[Path | None] = None

    @classmethod
    def origin_of(cls, name: str) -> str | None:
        """Origin recognised from a file name; None means the dataset itself."""
        return None

    @classmethod
    def language_of(cls, relpath: str) -> str | None:
        """Language recognised from a video's relative path, when the metadata has none."""
        return None

    def data_root(self) -> Path:
        """`data_dir`, the packaged sample, or the gated Hub repo downloaded into the cache."""
        if self.config.data_dir:
            return super().data_root()
        if self.config.name == "sample" and self.SAMPLE_DIR is not None:
            return self.SAMPLE_DIR
        from .hub import download, env_var, hub_repo

        repo_id = hub_repo(self.NAME, self.config.hub_repo or self.repo_id)
        if repo_id is None:
            raise DatasetNotFound(
                f"{self.NAME}: no data_dir given and no Hub repo configured. {self.ACCESS}\n"
                f"Then: load_dataset({self.NAME!r}, data_dir='/path/to/{self.NAME}'), or name the gated Hub repo "
                f"with repo_id=... (or the environment variable {env_var(self.NAME)})."
            )
        local = Path(self._cache_dir_root) / "facevid_hub" / repo_id.replace("/", "--")
        return download(self.NAME, local, config=self.config, repo_id=repo_id,
                        revision=self.config.revision, token=self.token)  # fmt: skip

    def _probe_cache(self) -> ProbeCache:
        path = Path(self._cache_dir_root) / "facevid_probe_cache.sqlite" if self.config.probe_cache else None
        return ProbeCache(path)

    def _keep(self, source: str | None, language: str | None) -> bool:
        return config_keeps(self.config, self.NAME, source, language)

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        root = self.data_root()
        index = build_index(root, origin=self.origin_of, language=self.language_of)
        report = self.report
        report.reset()
        for row in index.problems:
            e = index.entries.get(row[0]) if row[1] == "missing" else None
            if e is None or self._keep(e.source, e.language):  # another config's missing clips are not ours
                report.add(*row)
        test_ids = assign_index_splits(index, seed=self.config.split_seed, num_test=self.config.num_test)
        counts = split_counts(index, test_ids, keep=self._keep)
        names = [s for s in ("train", "validation", "test") if counts.get(s)]
        if not names:
            raise DatasetNotFound(f"{self.NAME}/{self.config.name}: no clip of {root} to build. {report.summary()}")
        return [
            datasets.SplitGenerator(name=s, gen_kwargs={"index": index, "test_ids": test_ids, "split": s})
            for s in names
        ]

    def _generate_examples(self, index: ReleaseIndex, test_ids: set[str], split: str) -> Iterator[tuple[str, dict]]:
        """Records of `split`: metadata rows in file order (streamed again), then videos without a row."""
        cache = self._probe_cache()
        root = index.root
        try:
            for t, path in enumerate(index.tables):
                for line, row in _iter_table(path, []):
                    cid = row.get("clip_id")
                    e = index.entries.get(str(cid)) if cid not in (None, "") else None
                    if e is None or e.table != t or e.line != line or e.video is None:
                        continue
                    if (e.split or ("test" if cid in test_ids else "train")) != split:
                        continue
                    if not self._keep(e.source, e.language):
                        continue
                    rec = self._record(cache, root, index, str(cid), e.video, (row, path, line), e.source, e.language)
                    if rec is not None:
                        rec["split"] = split
                        yield str(cid), rec
            for cid, e in index.orphans.items():
                if ("test" if cid in test_ids else "train") != split or not self._keep(e.source, e.language):
                    continue
                rec = self._record(cache, root, index, cid, e.video, None, e.source, e.language)
                if rec is not None:
                    rec["split"] = split
                    yield cid, rec
        finally:
            cache.close()

    def _generate_tables(self, index: ReleaseIndex, test_ids: set[str], split: str) -> Iterator[tuple[int, pa.Table]]:
        """The records of `_generate_examples` as Arrow tables, bounded in rows and keypoint frames."""
        schema = FEATURES.arrow_schema
        batch: list[dict] = []
        frames = 0
        n = 0
        for _, rec in self._generate_examples(index, test_ids, split):
            batch.append(rec)
            kp = rec["keypoints"]
            frames += len(kp["points"]) if kp and kp["points"] is not None else 0
            if len(batch) >= self.TABLE_ROWS or frames >= self.TABLE_KEYPOINT_FRAMES:
                yield n, pa.Table.from_pylist(batch, schema=schema)
                n += 1
                batch, frames = [], 0
        if batch:
            yield n, pa.Table.from_pylist(batch, schema=schema)

    def _record(self, cache, root, index, cid, rel, located, source, language) -> dict | None:
        """One record, or None after reporting why the clip could not be made."""
        video = Path(rel) if os.path.isabs(rel) else root / rel
        meta = None
        try:
            info = None
            if located is not None:
                meta, path, line = located
                info = parse_row(meta, path, line).info
            if info is None:
                info = cache.get(video)
            rec = make_record(cid, video, info, meta, dataset=self.NAME, root=root, side=index.side,
                              source=source or self.NAME)  # fmt: skip
        except (MediaError, AnnotationError) as e:
            self.report.add(cid, "error", str(e), video)
            return None
        if language and not rec["language"]:
            rec["language"] = language
        return rec
