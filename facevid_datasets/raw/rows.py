"""One metadata row checked: types and plausible ranges, and what the index and the record need."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AnnotationError
from ..media.probe import VideoInfo
from ..schema import ATTRIBUTES, QUALITY, SPLITS
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


_RATIONAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def _rational(v: Any) -> Any:
    """`"30000/1001"` -> 29.97... (frame rates are often written as FFmpeg's rationals); other values as given."""
    m = _RATIONAL.match(v) if isinstance(v, str) else None
    if m is None or float(m.group(2)) == 0:
        return v
    return float(m.group(1)) / float(m.group(2))


def _number(row: dict, key: str, kind: type, path: Path, line: int, *, allow_negative: bool = False) -> Any:
    v = row.get(key)
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise AnnotationError(path, line, f"{key} must be a number, got {v!r}")
    try:
        x = float(_rational(v) if key == "fps" else v)
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


#: Text fields of a row and of its `attributes` / `head_pose` objects: one label or text each.
TEXT_FIELDS = ("caption", "language", "source")
LIST_ATTRIBUTES = ("appearance", "action", "light")


def _container_text(v: str) -> bool:
    """A string that is a serialised list or object (`"['male']"`, `"{'name': 'x'}"`), not a label."""
    s = v.strip()
    return len(s) >= 2 and (s[0], s[-1]) in (("[", "]"), ("{", "}"))


def _text_problem(v: Any) -> str | None:
    """Why `v` is not one label or text (None when it is one, or empty)."""
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        return f"must be text, got {type(v).__name__} {str(v)[:40]!r}"
    if _container_text(v):
        return f"must be one label, got the serialised {'list' if v.strip()[0] == '[' else 'object'} {v[:40]!r}"
    return None


def _list_problem(v: Any) -> str | None:
    """Why `v` is not a list of labels or one `;`-separated text (None when it is)."""
    if v is None or v == "" or (isinstance(v, str) and not v.strip().startswith("{")):
        return None  # text: `;`-separated labels or a JSON list, read by `records._as_list`
    if not isinstance(v, list | tuple):
        return f"must be a list of labels, got {type(v).__name__} {str(v)[:40]!r}"
    bad = next((x for x in v if not isinstance(x, str) or _container_text(x)), None)
    return None if bad is None else f"must be a list of labels, holds {type(bad).__name__} {str(bad)[:40]!r}"


def check_fields(row: dict, path: Path, line: int) -> tuple[dict, list[str]]:
    """`row` without the label and text values of the wrong type, and one note per value removed.

    A list, an object or a number where one label or text belongs (`gender: ["male"]`, `caption:
    ["a", "b"]`, a serialised `"['male']"`) would otherwise be stored as its Python spelling; the
    clip is built with that field left empty and the note names the file, line and field. The
    identity is checked in `parse_row` (a wrong one drops the row: it drives the split).
    """
    notes: list[str] = []
    clean = dict(row)

    def note(field: str, why: str) -> None:
        notes.append(f"{path}:{line}: {field} {why}; left empty")

    for key in TEXT_FIELDS:
        why = _text_problem(row.get(key))
        if why:
            note(key, why)
            clean.pop(key)
    attrs = row.get("attributes")
    if isinstance(attrs, dict):
        clean_attrs = dict(attrs)
        for key in ATTRIBUTES:
            why = (_list_problem if key in LIST_ATTRIBUTES else _text_problem)(attrs.get(key))
            if why:
                note(f"attributes.{key}", why)
                clean_attrs.pop(key)
        clean["attributes"] = clean_attrs
    hp = row.get("head_pose")
    label = hp.get("label") if isinstance(hp, dict) else hp
    why = _text_problem(label)
    if why:
        note("head_pose.label", why)
        clean["head_pose"] = {k: v for k, v in hp.items() if k != "label"} if isinstance(hp, dict) else None
    return clean, notes


@dataclass(frozen=True)
class MetaRow:
    """A metadata row checked for type errors: the clip's id, file, split, origin and the raw fields.

    `clean` is the row without the values of the wrong type that `notes` explain (`check_fields`).
    """

    clip_id: str
    video: str | None
    identity: str | None
    split: str | None
    source: str | None
    language: str | None
    info: VideoInfo | None
    audio: str | None
    raw: dict
    clean: dict
    notes: tuple[str, ...] = ()


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
    elif isinstance(split, str):
        split = split.strip().lower()
        split = "validation" if split == "val" else split
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
    if identity not in (None, "") and (isinstance(identity, bool) or not isinstance(identity, str | int)
                                       or (isinstance(identity, str) and _container_text(identity))):  # fmt: skip
        raise AnnotationError(
            path, line, f"identity must be a name or number, got {type(identity).__name__} {str(identity)[:40]!r}"
        )
    clean, notes = check_fields(row, path, line)
    language = clean.get("language")
    return MetaRow(
        clip_id=cid,
        video=video,
        identity=None if identity in (None, "") else str(identity),
        split=split,
        source=normalize_source(clean.get("source")),
        language=None if language in (None, "") else str(language),
        info=info,
        audio=audio,
        raw=row,
        clean=clean,
        notes=tuple(notes),
    )


def config_keeps(config: Any, dataset: str, source: str | None, language: str | None) -> bool:
    """Whether a clip of this origin and language belongs to `config` (its `origins` / `languages`)."""
    origins = getattr(config, "origins", None)
    languages = getattr(config, "languages", None)
    if origins is not None and (source or dataset) not in origins:
        return False
    return languages is None or language in languages
