"""The measurements of each cleaning stage, as plain functions of frames, landmarks and audio.

Scene cuts and segments, black borders, burned-in subtitles, mouth opening, the audio envelope
and their correlation, head pose angles and classes. None of these decide anything: thresholds
live in `decisions.py`, so a new threshold never needs a new measurement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .models import SyncResult, TextReader

#: Head-pose classes of DH-FaceVid-1K, in the order used to break ties.
HEAD_POSE_CLASSES = ("frontal", "profile_left", "profile_right", "profile_up", "profile_down", "extreme")


# -- scenes and segments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Frames [start, end) of a clip that form one candidate output clip."""

    start: int
    end: int

    @property
    def num_frames(self) -> int:
        return self.end - self.start


def detect_scene_cuts(path: str | Path, threshold: float = 27.0, min_scene_len: int = 15) -> list[int]:
    """Frame indices where a new shot starts (PySceneDetect's ContentDetector; 0 is never listed)."""
    from scenedetect import ContentDetector, detect

    scenes = detect(str(path), ContentDetector(threshold=threshold, min_scene_len=min_scene_len), start_in_scene=True)
    return [int(start.frame_num) for start, _ in scenes[1:]]


def plan_segments(num_frames: int, fps: float, cuts: Sequence[int], max_seconds: float) -> list[Segment]:
    """Split [0, num_frames) at `cuts`, then split each shot longer than `max_seconds` into the
    fewest equal pieces that each fit (a 70 s shot gives three 23.3 s pieces, nothing is thrown away)."""
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < num_frames), num_frames]
    max_frames = max(1, int(np.floor(max_seconds * fps + 1e-6)))
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        pieces = int(np.ceil((b - a) / max_frames))
        edges = np.linspace(a, b, pieces + 1).round().astype(int)
        out += [Segment(int(s), int(e)) for s, e in zip(edges[:-1], edges[1:], strict=True) if e > s]
    return out


def sample_indices(segment: Segment, count: int = 5) -> list[int]:
    """`count` frame indices spread uniformly over the segment, first and last included."""
    return sorted({int(round(v)) for v in np.linspace(segment.start, segment.end - 1, count)})


# -- black borders ---------------------------------------------------------------------------------


def black_border(rgb: np.ndarray, luma_max: float = 24.0) -> int:
    """Width in pixels of the widest run of black rows or columns at any edge of the frame.

    A row counts as black when 98% of its pixels are at most `luma_max` (0-255), so dark scenes
    with a few bright pixels do not count and compression noise in a bar does not break it.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rows = np.percentile(gray, 98, axis=1) <= luma_max
    cols = np.percentile(gray, 98, axis=0) <= luma_max
    return int(max(_run(rows), _run(rows[::-1]), _run(cols), _run(cols[::-1])))


def _run(flags: np.ndarray) -> int:
    """Length of the leading run of True values."""
    false = np.flatnonzero(~flags)
    return int(false[0]) if false.size else int(flags.size)


# -- burned-in subtitles ---------------------------------------------------------------------------


def text_regions(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of text-like blobs: binarised stroke edges joined along lines, kept when
    wide and short like a line of text and dense enough in strokes."""
    h, w = gray.shape
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    _, bw = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    line = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (max(9, w // 40), 1)))
    contours, _ = cv2.findContours(line, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for c in contours:
        x, y, bw_, bh = cv2.boundingRect(c)
        if bh < max(8, 0.02 * h) or bh > 0.25 * h or bw_ < 0.1 * w or bw_ < 2.5 * bh:
            continue
        strokes = bw[y : y + bh, x : x + bw_]
        if strokes.mean() / 255.0 < 0.15 or _glyphs(strokes) < 3:
            continue
        boxes.append((x, y, bw_, bh))
    return boxes


def _glyphs(strokes: np.ndarray) -> int:
    """Connected stroke blobs shaped like characters: at least 40% of the line's height, not much
    wider than tall (a lip line or an edge is one long blob, a word is several)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    bh = strokes.shape[0]
    heights, widths = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    return int(np.sum((heights >= 0.4 * bh) & (widths <= 1.5 * heights)))


def subtitle_text(rgb: np.ndarray, ocr: TextReader, lower_fraction: float = 0.4) -> str:
    """Text burned into the lower `lower_fraction` of a frame: grayscale, find text-like regions,
    OCR their union (enlarged and with a margin); "" when no region looks like text."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    top = int(gray.shape[0] * (1 - lower_fraction))
    lower = gray[top:]
    boxes = text_regions(lower)
    if not boxes:
        return ""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    pad = max(4, (y1 - y0) // 4)
    crop = lower[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
    if crop.shape[0] < 48:
        scale = 48 / crop.shape[0]
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return ocr.read(crop)


def count_text_chars(text: str) -> int:
    """Letters and digits in `text` (punctuation and spaces that OCR invents do not count)."""
    return sum(ch.isalnum() for ch in text)


# -- faces -----------------------------------------------------------------------------------------


def face_size(landmarks: np.ndarray) -> float:
    """Side of the box around a face's landmarks (max of width and height, pixels): brow to chin."""
    pts = landmarks[:, :2]
    return float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1])))


# -- lip sync --------------------------------------------------------------------------------------

# ibug68 inner-lip pairs (upper, lower) and the points that scale them (brow centre, chin).
_INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Per-frame inner-lip gap divided by nose-bridge-to-chin length, from (T, 68, >=2) ibug68
    points; NaN where a frame has no landmarks."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :, :2]
    gap = np.mean([np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) for a, b in _INNER_LIP_PAIRS], axis=0)
    scale = np.linalg.norm(pts[:, 8] - pts[:, 27], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, gap / scale, np.nan)


def audio_envelope(audio: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """Per-video-frame RMS loudness of mono `audio` (sample 0 plays with frame 0), in dB above the
    quietest frame so a few loud syllables do not swamp the rest."""
    audio = np.asarray(audio, dtype=np.float64)
    edges = np.round(np.arange(num_frames + 1) * sample_rate / fps).astype(int)
    rms = np.zeros(num_frames)
    for k in range(num_frames):
        seg = audio[edges[k] : edges[k + 1]]
        rms[k] = np.sqrt(np.mean(seg**2)) if seg.size else 0.0
    db = 20 * np.log10(rms + 1e-4)
    return db - db.min()


def sync_by_correlation(mouth: np.ndarray, envelope: np.ndarray, max_offset: int = 15) -> SyncResult | None:
    """Pearson correlation of `mouth[t]` with `envelope[t + k]` for k in [-max_offset, max_offset]
    (limited to a third of the clip so every k sees two thirds of it). Positive offset: the sound
    comes k frames after the mouth. None when under 8 frames have a mouth or either signal is flat."""
    mouth = np.asarray(mouth, dtype=np.float64)
    env = np.asarray(envelope, dtype=np.float64)
    n = min(len(mouth), len(env))
    mouth, env = mouth[:n], env[:n]
    ok = np.isfinite(mouth)
    if ok.sum() < 8 or np.nanstd(mouth) < 1e-6 or np.std(env) < 1e-6:
        return None
    mouth = np.interp(np.arange(n), np.flatnonzero(ok), mouth[ok])
    kmax = max(1, min(max_offset, n // 3))
    offsets = range(-kmax, kmax + 1)
    curve = []
    for k in offsets:
        a = mouth[max(0, -k) : n - max(0, k)]
        b = env[max(0, k) : n - max(0, -k)]
        if a.std() < 1e-9 or b.std() < 1e-9:
            curve.append(0.0)
        else:
            curve.append(float(np.corrcoef(a, b)[0, 1]))
    arr = np.array(curve)
    best = int(np.argmax(arr))
    return SyncResult(
        confidence=float(arr[best] - np.median(arr)), offset=int(offsets[best]), curve=tuple(float(v) for v in arr)
    )


# -- head pose -------------------------------------------------------------------------------------

# Generic 3D face (LearnOpenCV), turned into camera axes (x right, y down, z away from the camera),
# so a face looking into the camera has the identity rotation.
_MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, 330.0, 65.0),  # 8 chin
        (-225.0, -170.0, 135.0),  # 36 outer corner of the eye on the image's left
        (225.0, -170.0, 135.0),  # 45 outer corner of the eye on the image's right
        (-150.0, 150.0, 125.0),  # 48 mouth corner, image left
        (150.0, 150.0, 125.0),  # 54 mouth corner, image right
    ]
)
_MODEL_POINTS = (30, 8, 36, 45, 48, 54)


def head_pose_angles(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from ibug68 landmarks: yaw > 0 turns to the image's right,
    pitch > 0 looks up, roll > 0 tilts clockwise. None without a usable solution."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape[0] < 68 or not np.all(np.isfinite(pts[list(_MODEL_POINTS), :2])):
        return None
    image = pts[list(_MODEL_POINTS), :2].copy()
    cam = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _ = cv2.solvePnP(_MODEL_3D, image, cam, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    return rotation_to_angles(rot)


def rotation_to_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees, each in (-180, 180]) of a face rotation in camera axes.

    The rotation is R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch). Angles are folded so that |pitch| <= 90
    (the decomposition has two solutions; the one with a face upside down is never the right one).
    """
    sy = float(np.hypot(rot[0, 0], rot[1, 0]))
    ry = float(np.degrees(np.arctan2(-rot[2, 0], sy)))
    if sy > 1e-6:
        rx = float(np.degrees(np.arctan2(rot[2, 1], rot[2, 2])))
        rz = float(np.degrees(np.arctan2(rot[1, 0], rot[0, 0])))
    else:  # gimbal lock: looking straight along the vertical axis
        rx = float(np.degrees(np.arctan2(-rot[1, 2], rot[1, 1])))
        rz = 0.0
    if abs(rx) > 90:  # equivalent solution (rx - 180, 180 - ry, rz - 180), folded
        rx = _wrap(rx - 180.0)
        ry = _wrap(180.0 - ry)
        rz = _wrap(rz - 180.0)
    return -ry, -rx, rz


def _wrap(deg: float) -> float:
    """Angle in (-180, 180]."""
    return float(-((-deg + 180.0) % 360.0 - 180.0))


def head_pose_class(
    yaw: float, pitch: float, frontal_yaw: float = 25.0, frontal_pitch: float = 20.0, extreme: float = 60.0
) -> str:
    """One of HEAD_POSE_CLASSES: frontal inside the frontal box, extreme when either angle passes
    `extreme`, otherwise the profile class of the angle that is larger relative to its box."""
    if abs(yaw) > extreme or abs(pitch) > extreme:
        return "extreme"
    if abs(yaw) <= frontal_yaw and abs(pitch) <= frontal_pitch:
        return "frontal"
    if abs(yaw) / frontal_yaw >= abs(pitch) / frontal_pitch:
        return "profile_right" if yaw > 0 else "profile_left"
    return "profile_up" if pitch > 0 else "profile_down"


def dominant_class(labels: Sequence[str]) -> str | None:
    """Most frequent label; ties go to the class listed first in HEAD_POSE_CLASSES."""
    if not labels:
        return None
    counts = Counter(labels)
    order = {c: i for i, c in enumerate(HEAD_POSE_CLASSES)}
    return min(counts, key=lambda c: (-counts[c], order.get(c, len(order))))
