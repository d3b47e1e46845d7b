"""The release layout read by the FaceVid-1K and TalkingFace-Wild builders (and the embedded sample).

No annotation format has been published for these datasets, so this package defines one; every
part but the videos is optional, and a folder of bare video files loads:

    <root>/
      **/*.mp4 (.mkv .webm .mov .avi)   videos, any depth; the clip id is the file stem
      metadata.jsonl | metadata.csv | metadata.parquet
                                        one row per clip keyed by `clip_id`, any subset of the
                                        record's fields (nested objects, or dotted CSV columns
                                        such as `attributes.ethnicity`; lists as JSON or `;`)
      keypoints/<clip_id>.npy           float32 (frames, K, 3): x, y, confidence in video pixels
      head_pose/<clip_id>.npy           float32 (frames, 3): yaw, pitch, roll in degrees
      audio/<clip_id>.wav|.flac|.m4a|.mp3   separate audio, when not in the video
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import vocab
from .errors import AnnotationError
from .media.probe import VideoInfo
from .schema import ATTRIBUTES, FEATURES, HEAD_POSE, QUALITY, empty_record, original_json

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi")
AUDIO_EXTENSIONS = (".wav", ".flac", ".m4a", ".mp3", ".aac")
METADATA_NAMES = ("metadata.jsonl", "metadata.csv", "metadata.parquet")
SIDE_DIRS = ("keypoints", "head_pose", "audio")

_LIST_FIELDS = {"attributes.appearance", "attributes.action", "attributes.light"}
_TH1KH = re.compile(r"^[\w-]{11}_\d{4}_S\d+_E\d+_L\d+_T\d+_R\d+_B\d+$")
_CELEBV = re.compile(r"^[\w-]{11}_\d+(_\d+)?$")
_COLLECTED = re.compile(r"^(\d+|RS\d+_segment_\d+_\d+_\d+)$")


def origin_from_name(clip_id: str) -> str | None:
    """Origin dataset recognised from a FaceVid-1K file name (DOMAIN.md section 1), else None."""
    if _TH1KH.match(clip_id):
        return "talkinghead-1kh"
    if _COLLECTED.match(clip_id):
        return "facevid-1k"
    if _CELEBV.match(clip_id):
        return "celebv"
    return None


def find_videos(root: Path) -> tuple[dict[str, Path], list[tuple[str, str, Path]]]:
    """Video files under `root` by clip id, plus (clip_id, reason, path) for duplicates skipped."""
    found: dict[str, Path] = {}
    dups: list[tuple[str, str, Path]] = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in VIDEO_EXTENSIONS or not p.is_file():
            continue
        rel = p.relative_to(root).parts
        if rel and rel[0] in SIDE_DIRS:
            continue
        if p.stem in found:
            dups.append((p.stem, f"duplicate clip id, also at {found[p.stem]}", p))
            continue
        found[p.stem] = p
    return found, dups


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


def read_metadata(root: Path) -> tuple[dict[str, dict], list[AnnotationError]]:
    """Rows of the release's metadata table by clip id, and one error per malformed row."""
    rows: dict[str, dict] = {}
    errors: list[AnnotationError] = []
    for name in METADATA_NAMES:
        path = root / name
        if not path.exists():
            continue
        for line, row in _iter_table(path, errors):
            cid = row.get("clip_id")
            if not cid:
                errors.append(AnnotationError(path, line, "row has no clip_id"))
            elif cid in rows:
                errors.append(AnnotationError(path, line, f"clip_id {cid!r} appears twice; first row kept"))
            else:
                rows[str(cid)] = row
    return rows, errors


def _iter_table(path: Path, errors: list[AnnotationError]) -> Iterator[tuple[int, dict]]:
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
            for i, raw in enumerate(reader, 2):
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

        for i, row in enumerate(pq.read_table(path).to_pylist(), 1):
            yield i, row


def _float(v: Any) -> float | None:
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _as_list(v: Any) -> list | None:
    if v is None:
        return None
    return list(v) if isinstance(v, list | tuple | np.ndarray) else [v]


def make_record(
    clip_id: str,
    video: Path,
    info: VideoInfo | None,
    meta: dict | None,
    *,
    dataset: str,
    root: Path,
) -> dict[str, Any]:
    """A typed record from a release's video, its probe, its metadata row and side files.

    Raises AnnotationError (naming the file) for side arrays that do not fit the video.
    """
    meta = dict(meta or {})
    rec = empty_record()
    rec.update(clip_id=clip_id, dataset=dataset, video={"path": str(video), "bytes": None})
    rec["source"] = meta.get("source") or origin_from_name(clip_id) or dataset
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
            rec["attributes"][k] = v
        else:
            rec["attributes"][k] = vocab.map_label(k, v)
    q = meta.get("quality") or {}
    rec["quality"] = {k: _float(q.get(k)) for k in QUALITY}
    if rec["quality"]["sync_offset"] is not None:
        rec["quality"]["sync_offset"] = int(rec["quality"]["sync_offset"])
    hp = meta.get("head_pose") or {}
    if isinstance(hp, str):
        hp = {"label": hp}
    rec["head_pose"] = {k: hp.get(k) for k in HEAD_POSE}
    rec["head_pose"]["label"] = vocab.map_label("head_pose", rec["head_pose"]["label"])

    n = rec["num_frames"]
    kp_path = root / "keypoints" / f"{clip_id}.npy"
    if kp_path.exists():
        pts = np.load(kp_path)
        if pts.ndim != 3 or pts.shape[2] != 3 or (n is not None and pts.shape[0] != n):
            raise AnnotationError(kp_path, None, f"keypoints shape {pts.shape} does not fit {n} frames x K x 3")
        kp_meta = meta.get("keypoints") or {}
        fmt = kp_meta.get("format") if isinstance(kp_meta, dict) else None
        rec["keypoints"] = {"format": fmt or meta.get("keypoints_format") or f"points{pts.shape[1]}",
                            "points": pts.astype(np.float32).tolist()}  # fmt: skip
    pose_path = root / "head_pose" / f"{clip_id}.npy"
    if pose_path.exists():
        ang = np.load(pose_path)
        if ang.ndim != 2 or ang.shape[1] != 3 or (n is not None and ang.shape[0] != n):
            raise AnnotationError(pose_path, None, f"head pose shape {ang.shape} does not fit {n} frames x 3")
        for j, k in enumerate(("yaw", "pitch", "roll")):
            rec["head_pose"][k] = ang[:, j].astype(np.float32).tolist()
    for ext in AUDIO_EXTENSIONS:
        a = root / "audio" / f"{clip_id}{ext}"
        if a.exists():
            rec["audio"] = {"path": str(a), "bytes": None}
            rec["audio_source"] = "file"
            break
    rec["original"] = original_json(meta) if meta else None
    assert set(rec) == set(FEATURES)
    return rec
