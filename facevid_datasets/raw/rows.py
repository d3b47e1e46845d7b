"""One metadata row checked: types and plausible ranges, and what the index and the record need."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AnnotationError
from ..media.probe import VideoInfo
from ..schema import QUALITY, SPLITS
from .layout import normalize_source

#: Largest value accepted for each number of a row; anything above is a typo or a corrupt row
#: (and would overflow the record's int32 columns).
LIMITS = {
    "fps": 1000.0,
    "num_frames": 100_000_000,
    "width": 65_536,
    "height": 65_536,
    "duration": 10_000_000.0,
    "brisque": 1e6,
    "sync_confidence": 1e6,
    "sync_offset": 1e6,
    "face_size": 65_536,
}


def _clip_id(row: dict, path: Path, line: int) -> str:
    cid = row.get("clip_id")
    if cid in (None, ""):
        raise AnnotationError(path, line, "row has no clip_id")
    if isinstance(cid, bool) or not isinstance(cid, str | int):
        raise AnnotationError(path, line, f"clip_id must be a string, got {type(cid).__name__}")
    cid = str(cid)
    if "/" in cid or "\x00" in cid or cid in (".", "..") or len(cid) > 512:
        raise AnnotationError(path, line, f"clip_id {cid[:80]!r} is not a valid file stem")
    return cid


def _number(row: dict, key: str, kind: type, path: Path, line: int, *, allow_negative: bool = False) -> Any:
    v = row.get(key)
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise AnnotationError(path, line, f"{key} must be a number, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        raise AnnotationError(path, line, f"{key} must be a number, got {str(v)[:80]!r}") from None
    if not math.isfinite(x):
        raise AnnotationError(path, line, f"{key} must be a finite number, got {v!r}")
    if x < 0 and not allow_negative:
        raise AnnotationError(path, line, f"{key} must be non-negative, got {v!r}")
    limit = LIMITS.get(key)
    if limit is not None and abs(x) > limit:
        raise AnnotationError(path, line, f"{key} = {v!r} is implausible (more than {limit:g})")
    return int(x) if kind is int else x


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


def _path_field(row: dict, keys: tuple[str, ...], path: Path, line: int) -> str | None:
    v = next((row[k] for k in keys if row.get(k) not in (None, "")), None)
    if isinstance(v, dict):
        v = v.get("path")
    if v in (None, ""):
        return None
    if not isinstance(v, str):
        raise AnnotationError(path, line, f"{keys[0]} must be a relative file path, got {str(v)[:80]!r}")
    return v


def parse_row(row: dict, path: Path, line: int) -> MetaRow:
    """Check one metadata row and pull out what the index and the record need.

    Raises AnnotationError naming the file and line for a value of the wrong type or range.
    """
    cid = _clip_id(row, path, line)
    video = _path_field(row, ("video", "file"), path, line)
    split = row.get("split")
    if split in ("", None):
        split = None
    elif split == "val":
        split = "validation"
    if split is not None and split not in SPLITS:
        raise AnnotationError(path, line, f"split {str(split)[:40]!r} is not one of {SPLITS}")
    for key in ("attributes", "quality", "keypoints"):
        if row.get(key) is not None and not isinstance(row[key], dict):
            raise AnnotationError(path, line, f"{key} must be an object, got {type(row[key]).__name__}")
    hp = row.get("head_pose")
    if hp is not None and not isinstance(hp, dict | str):
        raise AnnotationError(path, line, f"head_pose must be a label or an object, got {str(hp)[:80]!r}")
    quality = row.get("quality") or {}
    for k in QUALITY:
        if k == "sync_offset":
            v = quality.get(k)
            if v not in (None, "") and not re.fullmatch(r"-?\d{1,7}(\.0*)?", str(v).strip()):
                raise AnnotationError(path, line, f"quality.sync_offset must be an integer, got {str(v)[:40]!r}")
        else:
            _number(quality, k, float, path, line, allow_negative=k == "sync_confidence")
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
        raise AnnotationError(path, line, f"audio_source {str(audio_source)[:40]!r} is not video, file or none")
    if has_audio is None and audio_source in ("video", "none"):
        has_audio = audio_source == "video"
    info = None
    if all(v is not None for v in nums.values()) and has_audio is not None:
        if not (nums["fps"] and nums["num_frames"] and nums["width"] and nums["height"]):
            raise AnnotationError(path, line, "fps, num_frames, width and height must be positive")
        info = VideoInfo(path=video or "", width=nums["width"], height=nums["height"], fps=nums["fps"],
                         num_frames=nums["num_frames"], duration=nums["duration"], codec="unknown",
                         pixel_format=None, rotation=0, variable_frame_rate=False, has_audio=has_audio)  # fmt: skip
    audio = _path_field(row, ("audio",), path, line)
    identity = row.get("identity")
    language = row.get("language")
    return MetaRow(
        clip_id=cid,
        video=video,
        identity=None if identity in (None, "") else str(identity),
        split=split,
        source=normalize_source(row.get("source")),
        language=None if language in (None, "") else str(language),
        info=info,
        audio=audio,
        raw=row,
    )


def config_keeps(config: Any, dataset: str, source: str | None, language: str | None) -> bool:
    """Whether a clip of this origin and language belongs to `config` (its `origins` / `languages`)."""
    origins = getattr(config, "origins", None)
    languages = getattr(config, "languages", None)
    if origins is not None and (source or dataset) not in origins:
        return False
    return languages is None or language in languages
