"""The one typed record every builder produces, whatever the source dataset.

`FEATURES` is a `datasets.Features`; `empty_record()` gives a record with every optional
field explicitly null so builders only fill what they know. The README documents each
field; keep the two in step.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Audio, Features, List, Value, Video

#: Where a clip's audio lives: its own video's track, a separate file, or nowhere.
AUDIO_SOURCES = ("video", "file", "none")

#: Splits a record may carry.
SPLITS = ("train", "validation", "test")

KEYPOINTS = {
    # Name of the keypoint layout, e.g. "ibug68" (dlib / DWPose face), "mediapipe468".
    "format": Value("string"),
    # frames x points x (x, y, confidence), in pixels of the stored video.
    "points": List(List(List(Value("float32"), length=3))),
}

HEAD_POSE = {
    # Clip label, one of vocab.HEAD_POSES (dominant class of 5 uniformly sampled frames).
    "label": Value("string"),
    # Per-frame Euler angles in degrees (null when unknown).
    "yaw": List(Value("float32")),
    "pitch": List(Value("float32")),
    "roll": List(Value("float32")),
}

FACE_BOXES = {
    # Who drew the boxes: a detector's name ("mediapipe-blazeface", ...), "release" for a release's side
    # files, or "landmarks" when grown from exact landmarks (the embedded sample).
    "detector": Value("string"),
    # frames x (x0, y0, x1, y1, confidence) in pixels of the stored video; confidence 0: no face found.
    "boxes": List(List(Value("float32"), length=5)),
}

ATTRIBUTES = {
    "ethnicity": Value("string"),
    "gender": Value("string"),
    "age_group": Value("string"),
    "appearance": List(Value("string")),
    "emotion": Value("string"),
    "action": List(Value("string")),
    "light": List(Value("string")),
    "environment": Value("string"),
}

QUALITY = {
    "brisque": Value("float32"),
    "sync_confidence": Value("float32"),
    "sync_offset": Value("int32"),
    "face_size": Value("float32"),
}

FEATURES = Features(
    {
        "clip_id": Value("string"),
        "dataset": Value("string"),
        "source": Value("string"),
        "identity": Value("string"),
        "video": Video(decode=False),
        "audio": Audio(decode=False),
        "audio_source": Value("string"),
        "fps": Value("float32"),
        "num_frames": Value("int32"),
        "duration": Value("float32"),
        "width": Value("int32"),
        "height": Value("int32"),
        "keypoints": KEYPOINTS,
        "head_pose": HEAD_POSE,
        "face_boxes": FACE_BOXES,
        "caption": Value("string"),
        "attributes": ATTRIBUTES,
        "language": Value("string"),
        "quality": QUALITY,
        "split": Value("string"),
        "original": Value("string"),
    }
)


def empty_record() -> dict[str, Any]:
    """A record with every field present and every unknown value null."""
    return {
        "clip_id": None,
        "dataset": None,
        "source": None,
        "identity": None,
        "video": None,
        "audio": None,
        "audio_source": "none",
        "fps": None,
        "num_frames": None,
        "duration": None,
        "width": None,
        "height": None,
        "keypoints": None,
        "head_pose": {"label": None, "yaw": None, "pitch": None, "roll": None},
        "face_boxes": None,
        "caption": None,
        "attributes": {k: None for k in ATTRIBUTES},
        "language": None,
        "quality": {k: None for k in QUALITY},
        "split": None,
        "original": None,
    }


def original_json(annotation: Any) -> str:
    """Serialise a dataset's native annotation losslessly (key order kept, non-ASCII kept)."""
    return json.dumps(annotation, ensure_ascii=False, default=str)


def validate_record(record: dict[str, Any]) -> list[str]:
    """Problems with a record, as readable strings (empty when the record is well formed)."""
    problems = []
    missing = set(FEATURES) - set(record)
    extra = set(record) - set(FEATURES)
    if missing:
        problems.append(f"missing fields: {sorted(missing)}")
    if extra:
        problems.append(f"unknown fields: {sorted(extra)}")
    if not record.get("clip_id"):
        problems.append("clip_id is empty")
    if record.get("audio_source") not in AUDIO_SOURCES:
        problems.append(f"audio_source {record.get('audio_source')!r} not in {AUDIO_SOURCES}")
    if record.get("audio_source") == "file" and not record.get("audio"):
        problems.append("audio_source is 'file' but audio is null")
    if record.get("split") is not None and record["split"] not in SPLITS:
        problems.append(f"split {record['split']!r} not in {SPLITS}")
    kp = record.get("keypoints")
    if kp is not None:
        if not kp.get("format"):
            problems.append("keypoints without a format name")
        n = record.get("num_frames")
        if n is not None and kp.get("points") is not None and len(kp["points"]) != n:
            problems.append(f"keypoints cover {len(kp['points'])} frames, clip has {n}")
    fb = record.get("face_boxes")
    if fb is not None and fb.get("boxes") is not None and record.get("num_frames") is not None:
        if len(fb["boxes"]) != record["num_frames"]:
            problems.append(f"face boxes cover {len(fb['boxes'])} frames, clip has {record['num_frames']}")
    return problems
