"""The typed record (`schema.FEATURES`) of one clip of a release: its video, probe, metadata row
and side files. Side arrays are loaded without pickles and checked; bad ones are reported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import vocab
from ..errors import AnnotationError, UnsafePath
from ..media.probe import VideoInfo
from ..schema import ATTRIBUTES, FEATURES, HEAD_POSE, QUALITY, empty_record, original_json
from .layout import AUDIO_EXTENSIONS, normalize_source, resolve_inside


def _float(v: Any) -> float | None:
    try:
        x = None if v is None or v == "" else float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if x is None or np.isfinite(x) else None


def _as_list(v: Any) -> list | None:
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                return [str(x) for x in json.loads(s)]
            except (json.JSONDecodeError, TypeError, RecursionError):
                return [s]
        return [t.strip() for t in s.split(";") if t.strip()]
    return [str(x) for x in v] if isinstance(v, list | tuple | np.ndarray) else [str(v)]


def load_side_array(path: str | Path, what: str) -> np.ndarray:
    """A numeric `.npy` side array, loaded with pickles refused; AnnotationError naming the file otherwise."""
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        reason = "holds pickled data or objects (refused)" if "pickle" in str(e).lower() else f"unreadable ({e})"
        raise AnnotationError(path, None, f"{what} file {reason}") from None
    except (OSError, EOFError) as e:
        raise AnnotationError(path, None, f"{what} file unreadable or truncated ({e})") from None
    if not isinstance(arr, np.ndarray):
        raise AnnotationError(path, None, f"{what} file is an archive, not one .npy array")
    if arr.dtype.kind not in "fiu":
        raise AnnotationError(path, None, f"{what} array has dtype {arr.dtype}, expected numbers")
    return arr


def _keypoints(path: str, n: int | None, notes: list[str]) -> np.ndarray | None:
    pts = load_side_array(path, "keypoints")
    if pts.ndim != 3 or pts.shape[2] != 3 or (n is not None and pts.shape[0] != n):
        raise AnnotationError(path, None, f"keypoints shape {pts.shape} does not fit {n} frames x K x 3")
    pts = pts.astype(np.float32)
    bad = ~np.isfinite(pts).all(axis=2)
    if bad.all():
        notes.append(f"{path}: every keypoint is NaN/inf; keypoints left empty")
        return None
    if bad.any():
        pts[bad] = 0.0  # confidence 0 marks the point invalid, as a detector marks a missed point
        notes.append(f"{path}: {int(bad.sum())} NaN/inf keypoints set to confidence 0")
    return pts


def _head_pose(path: str, n: int | None, notes: list[str]) -> np.ndarray | None:
    """Per-frame (yaw, pitch, roll) (n, 3); None with a note when any angle is NaN/inf."""
    ang = load_side_array(path, "head pose")
    if ang.ndim != 2 or ang.shape[1] != 3 or (n is not None and ang.shape[0] != n):
        raise AnnotationError(path, None, f"head pose shape {ang.shape} does not fit {n} frames x 3")
    ang = ang.astype(np.float32)
    if not np.isfinite(ang).all():
        notes.append(f"{path}: head pose angles hold NaN/inf; angles left empty")
        return None
    return ang


def _face_boxes(path: str, n: int | None, notes: list[str]) -> np.ndarray | None:
    """Per-frame boxes (n, 5) x0, y0, x1, y1, confidence from a (n, 4) or (n, 5) side array; NaN rows: no face."""
    boxes = load_side_array(path, "face boxes")
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5) or (n is not None and boxes.shape[0] != n):
        raise AnnotationError(path, None, f"face boxes shape {boxes.shape} does not fit {n} frames x 4 or 5")
    boxes = boxes.astype(np.float32)
    if boxes.shape[1] == 4:
        boxes = np.concatenate([boxes, np.ones((len(boxes), 1), np.float32)], axis=1)
    bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.all():
        notes.append(f"{path}: no usable face box (NaN/inf or inverted); face boxes left empty")
        return None
    if bad.any():
        boxes[bad] = 0.0  # confidence 0: no face in that frame
        notes.append(f"{path}: {int(bad.sum())} NaN/inf or inverted face boxes set to confidence 0")
    return boxes


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
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """A typed record from a release's video, its probe, its metadata row and side files.

    `side` (from `build_index`) saves looking for side files one stat at a time; `source` is the
    origin already worked out by the index. A side file that cannot be used (pickled, wrong dtype or
    shape, NaN throughout, missing) leaves its field empty and is explained in `notes`; an audio
    path leaving the release root raises AnnotationError.
    """
    notes = notes if notes is not None else []
    meta = dict(meta or {})
    rec = empty_record()
    rec.update(clip_id=clip_id, dataset=dataset, video={"path": str(video), "bytes": None})
    rec["source"] = source or normalize_source(meta.get("source")) or dataset
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
    label = rec["head_pose"]["label"]
    rec["head_pose"]["label"] = vocab.map_label("head_pose", None if label in (None, "") else str(label))
    for k in ("yaw", "pitch", "roll"):
        v = rec["head_pose"][k]
        if v is not None:
            vals = [_float(x) for x in (v if isinstance(v, list) else [v])]
            rec["head_pose"][k] = None if any(x is None for x in vals) else vals

    def side_file(kind: str, exts: tuple[str, ...]) -> str | None:
        if side is not None:
            return side.get(kind, {}).get(clip_id)
        for ext in exts:
            p = root / kind / f"{clip_id}{ext}"
            if p.exists():
                return str(p)
        return None

    n = rec["num_frames"]

    def read_side(kind: str, what: str, reader: Any) -> np.ndarray | None:
        """A side array through `reader`, or None: absent, or unusable (then a note says why)."""
        path = side_file(kind, (".npy",))
        if path is None:
            return None
        try:
            return reader(path, n, notes)
        except AnnotationError as e:
            notes.append(f"{e}; {what} left empty")
            return None

    pts = read_side("keypoints", "keypoints", _keypoints)
    if pts is not None:
        kp_meta = meta.get("keypoints") or {}
        fmt = kp_meta.get("format") if isinstance(kp_meta, dict) else None
        rec["keypoints"] = {"format": str(fmt or meta.get("keypoints_format") or f"points{pts.shape[1]}"),
                            "points": pts.tolist()}  # fmt: skip
    ang = read_side("head_pose", "head pose angles", _head_pose)
    if ang is not None:
        for j, k in enumerate(("yaw", "pitch", "roll")):
            rec["head_pose"][k] = ang[:, j].tolist()
    yaw, pitch = rec["head_pose"]["yaw"], rec["head_pose"]["pitch"]
    if rec["head_pose"]["label"] is None and yaw and pitch:  # per-frame angles without a label: derive it
        rec["head_pose"]["label"] = vocab.head_pose_label(yaw, pitch)
    boxes = read_side("face_boxes", "face boxes", _face_boxes)
    if boxes is not None:
        fb_meta = meta.get("face_boxes") if isinstance(meta.get("face_boxes"), dict) else {}
        rec["face_boxes"] = {"detector": str(fb_meta.get("detector") or "release"), "boxes": boxes.tolist()}
    audio_rel = meta.get("audio")
    if isinstance(audio_rel, dict):
        audio_rel = audio_rel.get("path")
    audio_path: str | None
    if isinstance(audio_rel, str) and audio_rel:
        try:
            audio_path = resolve_inside(os.path.realpath(root), audio_rel)
        except UnsafePath as e:
            raise AnnotationError(root, None, f"audio {e}") from None
    else:
        audio_path = side_file("audio", AUDIO_EXTENSIONS)
    if audio_path is not None and not os.path.isfile(audio_path):
        notes.append(f"{audio_path}: audio file named in metadata not found; the video's own audio is used")
    elif audio_path is not None:
        rec["audio"] = {"path": str(audio_path), "bytes": None}
        rec["audio_source"] = "file"
    try:
        rec["original"] = original_json(meta) if meta else None
    except (RecursionError, ValueError, TypeError):
        rec["original"] = None
        notes.append("metadata row could not be kept as JSON in `original`")
    if set(rec) != set(FEATURES):
        raise AssertionError(f"record fields {sorted(set(rec) ^ set(FEATURES))} differ from FEATURES")
    return rec
