"""Signals shared by the face models and the stage measurements: face boxes, sync results, mouth
opening and darkness, the audio envelope and log-mel features and two lip-sync tests on them (a
correlation and a cross-validated regression), head-pose angles and classes.

Both `models.py` (the model classes) and `stages.py` / `measure.py` (the measurements) import
this module, and it imports neither: it is the leaf that keeps them out of an import circle.
Landmark layouts understood here: `ibug68` (68 points, dlib / DWPose face) and `mediapipe468`
(MediaPipe's 468-point face mesh); a layout is recognised by its point count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..vocab import HEAD_POSE_CLASSES as HEAD_POSE_CLASSES  # the classes live with the labels (no cv2 there)
from ..vocab import dominant_class as dominant_class
from ..vocab import head_pose_class as head_pose_class


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
    mouth: np.ndarray, envelope: np.ndarray, max_offset: int = 15, highpass: int = 0, null_shifts: int = 30
) -> SyncResult | None:
    """Pearson correlation of the mouth opening with the audio envelope at every offset in
    [-max_offset, max_offset] frames (limited to a sixth of the clip). `highpass` > 0 first subtracts
    a running mean over that many frames from both signals, so syllable-rate movement is compared and
    slow drifts (louder passages, a head moving closer) are not. Scored against shifted audio like
    `sync_by_regression` (`confidence` in standard deviations; `peak` the correlation at the best
    offset); syncnet_python's sign. None when under 8 frames have a mouth or either signal is flat.
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

    def score(shift: int) -> float:
        b = np.roll(env, shift)  # b[t] = env[t - shift]
        return 0.0 if mouth.std() < 1e-9 or b.std() < 1e-9 else float(np.corrcoef(mouth, b)[0, 1])

    return against_shifted_audio(score, n, max_offset, margin=max(2, highpass) // 2, null_shifts=null_shifts)


def against_shifted_audio(
    score: Callable[[int], float], n: int, max_offset: int, margin: int, null_shifts: int = 30
) -> SyncResult | None:
    """A SyncResult from `score(k)`, the audio-visual agreement with the audio shifted by k frames
    (circularly: `score(k)` pairs frame t with the audio of frame t - k). Offsets in
    [-K, K] (K = `max_offset`, at most a sixth of the clip) are tried, and `null_shifts` shifts at
    least K + `margin` frames from zero either way pair the picture with unrelated audio of the same
    clip: their mean and spread are what no sync scores. `curve` holds each offset's score in
    standard deviations of that spread above its mean, `confidence` the maximum, `offset` its
    position (k > 0: audio ahead, syncnet_python's sign), `peak` the raw score there. None when the
    clip is too short for 8 such shifts."""
    kmax = max(1, min(max_offset, n // 6))
    lo = kmax + margin
    if n - 2 * lo < 8:
        return None
    offsets = range(-kmax, kmax + 1)
    raw = np.array([score(k) for k in offsets])
    shifts = np.unique(np.linspace(lo, n - lo, min(null_shifts, n - 2 * lo)).astype(int))
    null = np.array([score(int(s)) for s in shifts])
    z = (raw - null.mean()) / (null.std() + 1e-9)
    best = int(np.argmax(z))
    return SyncResult(
        confidence=float(z[best]), offset=int(offsets[best]), curve=tuple(float(v) for v in z), peak=float(raw[best])
    )


# -- audio-visual regression ----------------------------------------------------------------------

# Inner-lip contour in drawing order, and the outer eye corners whose distance scales the face.
_INNER_LIP = {
    "ibug68": tuple(range(60, 68)),
    "mediapipe468": (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95),
}
_EYE_CORNERS = {"ibug68": (36, 45), "mediapipe468": (33, 263)}


def mouth_darkness(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """How much dark mouth cavity shows inside the inner lips of one (H, W, 3) uint8 frame: the sum of
    (255 - luma) over the inner-lip polygon divided by the squared eye-corner distance (so it does not
    depend on the face's size). An open mouth shows the dark cavity; a closed one shows lips, which
    makes this a second view of the opening that landmark jitter does not blur. NaN without points."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    layout = layout_of(pts)
    poly = pts[list(_INNER_LIP[layout])]
    a, b = _EYE_CORNERS[layout]
    scale = float(np.linalg.norm(pts[b] - pts[a]))
    if not (np.all(np.isfinite(poly)) and scale > 0):
        return float("nan")
    h, w = rgb.shape[:2]
    x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + 1, (w, h))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    luma = rgb[y0:y1, x0:x1].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mask = np.zeros(luma.shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
    return float(((255.0 - luma) * mask).sum() / scale**2)


def log_mel_per_frame(audio: np.ndarray, sample_rate: int, fps: float, num_frames: int, n_mels: int = 8) -> np.ndarray:
    """(num_frames, n_mels) log mel energies of mono `audio` (sample 0 plays with frame 0): 25 ms
    windows every 10 ms, 80-7600 Hz, averaged over each video frame's span."""
    from ..media.mel import mel_filterbank

    audio = np.asarray(audio, dtype=np.float64)
    win, hop, n_fft = int(0.025 * sample_rate), int(0.010 * sample_rate), 512
    padded = np.pad(audio, (win // 2, win // 2 + win))
    starts = np.arange(0, max(1, len(audio)), hop)
    frames = padded[starts[:, None] + np.arange(win)] * np.hanning(win)
    power = np.abs(np.fft.rfft(frames, n=max(n_fft, win))) ** 2
    bank = mel_filterbank(max(n_fft, win), n_mels, sample_rate, 80.0, min(7600.0, sample_rate / 2)).numpy()
    mel = power @ bank.astype(np.float64)
    frame_of = np.floor(starts / sample_rate * fps).astype(int)
    ok = frame_of < num_frames
    out = np.zeros((num_frames, n_mels))
    count = np.zeros(num_frames)
    np.add.at(out, frame_of[ok], mel[ok])
    np.add.at(count, frame_of[ok], 1)
    return np.log(out / np.maximum(count, 1)[:, None] + 1e-8)


def sync_by_regression(
    visual: np.ndarray,
    audio_features: np.ndarray,
    fps: float,
    max_offset: int = 15,
    lags: Sequence[int] = (-1, 0, 1, 2, 3, 4, 5),
    folds: int = 4,
    ridge: float = 0.1,
    null_shifts: int = 30,
) -> SyncResult | None:
    """Does the audio predict the mouth, and at which offset? A cross-validated test of one clip.

    `visual` (T, F) per-frame mouth measures (NaN where no face) and `audio_features` (T, B) per-frame
    audio features are high-passed over one second (syllable-rate change only). A ridge regression
    from the audio around each frame (`lags`: frames t-1 to t+5, as the mouth moves before the sound it
    makes) to the mouth is fitted on all but one of `folds` contiguous blocks and scored on the block
    left out, so a clip cannot fit itself. The score (mean held-out correlation over the mouth
    measures) is taken with the audio shifted by every offset in [-max_offset, max_offset] and by
    `null_shifts` large circular shifts (at least half a second past the offset range), which pair the
    mouth with unrelated audio of the same clip. `curve` holds each offset's score in standard
    deviations above the mean of those shifted scores; `confidence` is its maximum, `offset` where it
    is (syncnet_python's sign: k > 0 pairs mouth[t] with the audio of frame t - k, audio ahead), and
    `peak` the held-out correlation there. Audio of another speaker has nothing for the model to learn,
    so no offset stands out (confidence about 2, the maximum of noise over the offsets); the clean
    calibration clips reach 3 to 10. None when under 3 seconds of frames, under half with a mouth, or
    a flat signal.
    """
    vis = np.asarray(visual, dtype=np.float64)
    vis = vis[:, None] if vis.ndim == 1 else vis
    aud = np.asarray(audio_features, dtype=np.float64)
    aud = aud[:, None] if aud.ndim == 1 else aud
    n = min(len(vis), len(aud))
    vis, aud = vis[:n], aud[:n]
    width = max(2, round(fps))
    ok = np.isfinite(vis).all(axis=1)
    if n < 3 * fps or ok.sum() < max(8, n // 2):
        return None
    from scipy.ndimage import uniform_filter1d

    cols = []
    for j in range(vis.shape[1]):
        v = np.interp(np.arange(n), np.flatnonzero(ok), vis[ok, j])
        v = v - uniform_filter1d(v, width, mode="nearest")
        if v.std() > 1e-9:
            cols.append((v - v.mean()) / v.std())
    aud = aud - uniform_filter1d(aud, width, axis=0, mode="nearest")
    aud = aud[:, aud.std(axis=0) > 1e-9]
    if not cols or aud.shape[1] == 0:
        return None
    y = np.stack(cols, axis=1)
    x = np.concatenate([aud[np.clip(np.arange(n) + k, 0, n - 1)] for k in lags], axis=1)
    edges = np.linspace(0, n, folds + 1).astype(int)

    def score(shift: int) -> float:
        xs = np.roll(x, shift, axis=0)  # xs[t] = x[t - shift]
        pred = np.empty_like(y)
        for f in range(folds):
            test = np.zeros(n, dtype=bool)
            test[edges[f] : edges[f + 1]] = True
            xt, yt = xs[~test], y[~test]
            mu, sd = xt.mean(axis=0), xt.std(axis=0) + 1e-9
            a = (xt - mu) / sd
            w = np.linalg.solve(a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ (yt - yt.mean(axis=0)))
            pred[test] = ((xs[test] - mu) / sd) @ w + yt.mean(axis=0)
        rs = [np.corrcoef(pred[:, j], y[:, j])[0, 1] if pred[:, j].std() > 1e-12 else 0.0 for j in range(y.shape[1])]
        return float(np.mean(rs))

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # some hundred small solves: BLAS threads only add overhead (6x here)
        return against_shifted_audio(score, n, max_offset, width // 2, null_shifts)


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


