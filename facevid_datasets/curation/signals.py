"""Signals shared by the face models and the stage measurements: face boxes, sync results, mouth
opening, the audio envelope and its correlation with the mouth, head-pose angles and classes.

Both `models.py` (the model classes) and `stages.py` / `measure.py` (the measurements) import
this module, and it imports neither: it is the leaf that keeps them out of an import circle.
Landmark layouts understood here: `ibug68` (68 points, dlib / DWPose face) and `mediapipe468`
(MediaPipe's 468-point face mesh); a layout is recognised by its point count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Head-pose classes of DH-FaceVid-1K, in the order used to break ties.
HEAD_POSE_CLASSES = ("frontal", "profile_left", "profile_right", "profile_up", "profile_down", "extreme")


@dataclass(frozen=True)
class Face:
    """A detected face: box (x, y, w, h) in pixels of the frame, the detector's score, and the
    detector's own keypoints (x, y) when it gives some (BlazeFace: eyes, nose, mouth, ears)."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    points: tuple[tuple[float, float], ...] = ()

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class SyncResult:
    """Lip sync of one face track, in syncnet_python's convention (the one VoxCeleb2's `Offset`
    uses): `offset` > 0 means the audio is ahead, i.e. the sound of what the mouth shows at frame t
    is heard at frame t - offset; `confidence` on the model's own scale (higher is surer); `curve`
    the score at each tried offset, from -max to +max; `peak` the score at the chosen offset."""

    confidence: float
    offset: int
    curve: tuple[float, ...] = ()
    peak: float | None = None


def layout_of(landmarks: np.ndarray) -> str:
    """`ibug68` or `mediapipe468` from the point count of (..., P, >=2) landmarks."""
    p = np.asarray(landmarks).shape[-2]
    if p == 68:
        return "ibug68"
    if p == 468:
        return "mediapipe468"
    raise ValueError(f"unknown landmark layout with {p} points (expected 68 or 468)")


# -- mouth and audio -------------------------------------------------------------------------------

# Inner-lip pairs (upper, lower) and the points whose distance scales them (nose bridge, chin).
_MOUTH = {
    "ibug68": (((61, 67), (62, 66), (63, 65)), (27, 8)),
    "mediapipe468": (((82, 87), (13, 14), (312, 317)), (168, 152)),
}


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Per-frame inner-lip gap divided by the nose-bridge-to-chin length, from (T, P, >=2) points
    (ibug68 or mediapipe468); NaN where a frame has no landmarks."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :, :2]
    pairs, (top, chin) = _MOUTH[layout_of(pts)]
    gap = np.mean([np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) for a, b in pairs], axis=0)
    scale = np.linalg.norm(pts[:, chin] - pts[:, top], axis=-1)
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


def sync_by_correlation(
    mouth: np.ndarray, envelope: np.ndarray, max_offset: int = 15, highpass: int = 0
) -> SyncResult | None:
    """Pearson correlation of the mouth opening with the audio envelope at every offset in
    [-max_offset, max_offset] frames (limited to a third of the clip so each sees two thirds of it).
    `highpass` > 0 first subtracts a running mean over that many frames from both signals, so
    syllable-rate movement is compared and slow drifts (louder passages, a head moving closer) are
    not: on real footage that turned edge-of-range offsets into the true ones.

    The offset follows syncnet_python: `offset` k pairs mouth[t] with envelope[t - k], so k > 0 is
    audio ahead of the picture. Confidence is the best correlation minus the median over offsets
    (SyncNet's own confidence is built the same way on its distance scale). None when under 8
    frames have a mouth or either signal is flat.
    """
    mouth = np.asarray(mouth, dtype=np.float64)
    env = np.asarray(envelope, dtype=np.float64)
    n = min(len(mouth), len(env))
    mouth, env = mouth[:n], env[:n]
    ok = np.isfinite(mouth)
    if ok.sum() < 8 or np.nanstd(mouth) < 1e-6 or np.std(env) < 1e-6:
        return None
    mouth = np.interp(np.arange(n), np.flatnonzero(ok), mouth[ok])
    if highpass > 1:
        from scipy.ndimage import uniform_filter1d

        mouth = mouth - uniform_filter1d(mouth, highpass, mode="nearest")
        env = env - uniform_filter1d(env, highpass, mode="nearest")
    kmax = max(1, min(max_offset, n // 3))
    offsets = range(-kmax, kmax + 1)
    curve = []
    for k in offsets:  # mouth[t] against env[t - k]
        a = mouth[max(0, k) : n - max(0, -k)]
        b = env[max(0, -k) : n - max(0, k)]
        curve.append(0.0 if a.std() < 1e-9 or b.std() < 1e-9 else float(np.corrcoef(a, b)[0, 1]))
    arr = np.array(curve)
    best = int(np.argmax(arr))
    return SyncResult(
        confidence=float(arr[best] - np.median(arr)),
        offset=int(offsets[best]),
        curve=tuple(float(v) for v in arr),
        peak=float(arr[best]),
    )


# -- head pose -------------------------------------------------------------------------------------

# Generic 3D face (LearnOpenCV), turned into camera axes (x right, y down, z away from the camera),
# so a face looking into the camera has the identity rotation.
_MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, 330.0, 65.0),  # chin
        (-225.0, -170.0, 135.0),  # outer corner of the eye on the image's left
        (225.0, -170.0, 135.0),  # outer corner of the eye on the image's right
        (-150.0, 150.0, 125.0),  # mouth corner, image left
        (150.0, 150.0, 125.0),  # mouth corner, image right
    ]
)
#: The same six points in each layout (nose tip, chin, eye corners, mouth corners; image left first).
MODEL_POINTS = {"ibug68": (30, 8, 36, 45, 48, 54), "mediapipe468": (1, 152, 33, 263, 61, 291)}


def head_pose_angles(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from ibug68 or mediapipe468 points: yaw > 0 turns to the
    image's right, pitch > 0 looks up, roll > 0 tilts clockwise. None without a usable solution."""
    pts = np.asarray(landmarks, dtype=np.float64)
    try:
        idx = list(MODEL_POINTS[layout_of(pts)])
    except ValueError:
        return None
    if not np.all(np.isfinite(pts[idx, :2])):
        return None
    image = pts[idx, :2].copy()
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


def smooth_angles(angles: np.ndarray, radius: int = 4) -> np.ndarray:
    """Running median of (T, 3) per-frame angles over +-`radius` frames (NaN frames ignored), so a
    single-frame flip of the pose solver does not become a label."""
    a = np.asarray(angles, dtype=np.float64)
    out = np.full_like(a, np.nan)
    for t in range(len(a)):
        win = a[max(0, t - radius) : t + radius + 1]
        ok = np.isfinite(win[:, 0])
        if ok.any():
            out[t] = np.median(win[ok], axis=0)
    return out


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
