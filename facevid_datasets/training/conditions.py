"""EMO's weak training conditions, derived from per-frame labels: face region and head-rotation speed.

EMO (Tian et al. 2024, section 3.2) conditions generation on two signals its authors compute from the
data: the *face region*, the union of the clip's per-frame face boxes (MediaPipe face detection), and
the *head-rotation speed*, the rotation in degrees between successive frames' 6-DoF head poses, softly
assigned to d speed buckets (centre c, radius r: s = tanh((w - c) / r * 3)) and stacked over +-m
frames. These functions are pure numpy / torch so the collator can call them per window, on any device.

Conventions: head pose is (yaw, pitch, roll) in degrees as in `facevid_datasets.FEATURES` (yaw > 0
turns to the image's right, pitch > 0 looks up); the rotation is R = Rz(roll) Rx(pitch) Ry(yaw), the
composition the embedded sample renders with. The angle between two poses is the geodesic angle of
R1^T R2, which does not depend on that composition order for a rotation about one axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Frames of context on each side of a frame in EMO's speed embedding (m in the paper).
EMO_CONTEXT = 2


def rotation_matrices(pose: np.ndarray) -> np.ndarray:
    """(..., 3) yaw, pitch, roll in degrees -> (..., 3, 3) rotation matrices R = Rz(roll) Rx(pitch) Ry(yaw)."""
    y, p, r = np.radians(np.moveaxis(np.asarray(pose, dtype=np.float64), -1, 0))
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    one, zero = np.ones_like(y), np.zeros_like(y)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, -sp], -1), np.stack([zero, sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], -2)
    return rz @ rx @ ry


def rotation_angle(pose_a: np.ndarray, pose_b: np.ndarray) -> np.ndarray:
    """Geodesic angle in degrees between head poses `pose_a` and `pose_b` (..., 3); NaN where either is unknown."""
    ra, rb = rotation_matrices(pose_a), rotation_matrices(pose_b)
    rel = np.swapaxes(ra, -1, -2) @ rb
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def head_speed(
    track: np.ndarray | None, source_fps: float, times: np.ndarray, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation per output frame at each instant of `times`: (degrees per frame, known mask).

    `track` holds the clip's per-stored-frame poses (N, 3); the pose shown at instant t is the stored
    frame a player shows then (index floor(t * source_fps)), as the clip plans pick frames. The speed
    at t is the angle between the poses at t - 1/fps and t, so it is defined for the window's first
    frame too when the clip has a frame before it; it is unknown (mask False, value 0) before the clip
    starts, past its end, or where a pose is NaN. Multiply by `fps` for degrees per second.
    """
    times = np.asarray(times, dtype=np.float64)
    out = np.zeros(times.shape, dtype=np.float32)
    if track is None or not len(track) or source_fps <= 0 or fps <= 0:
        return out, np.zeros(times.shape, dtype=bool)
    track = np.asarray(track, dtype=np.float64)
    n = len(track)
    cur = np.floor(times * source_fps + 1e-6).astype(np.int64)
    prev = np.floor((times - 1.0 / fps) * source_fps + 1e-6).astype(np.int64)
    known = (prev >= 0) & (cur < n) & (times >= 0)
    ci, pi = np.clip(cur, 0, n - 1), np.clip(prev, 0, n - 1)
    ang = rotation_angle(track[pi], track[ci])
    known &= np.isfinite(ang)
    out[known] = ang[known]
    return out, known


@dataclass(frozen=True)
class SpeedBuckets:
    """EMO's soft speed buckets: s_d = tanh((w - c_d) / r_d * 3), stacked over +-`context` frames.

    `centres` and `radii` are in degrees per second (so one setting serves every output frame rate).
    EMO does not publish its d, c or r; the defaults cover talking-head motion from still to a fast
    turn: 9 buckets centred 0, 10, ..., 80 deg/s, each with radius 10 deg/s (adjacent buckets
    overlap so every speed has a smooth code), and m = 2 frames of context as in the paper.
    """

    centres: tuple[float, ...] = tuple(float(c) for c in range(0, 90, 10))
    radii: tuple[float, ...] = field(default=(10.0,) * 9)
    context: int = EMO_CONTEXT

    def __post_init__(self) -> None:
        if len(self.centres) != len(self.radii) or not self.centres:
            raise ValueError(f"speed buckets need one radius per centre: {len(self.centres)} centres, "
                             f"{len(self.radii)} radii")
        if any(r <= 0 for r in self.radii):
            raise ValueError(f"speed bucket radii must be positive, got {self.radii}")
        if self.context < 0:
            raise ValueError(f"context must be >= 0, got {self.context}")

    @property
    def dim(self) -> int:
        """Features per output frame: d buckets times (2m + 1) frames."""
        return len(self.centres) * (2 * self.context + 1)

    def encode(self, deg_per_second: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T + 2m,) speeds and mask -> (T, (2m+1)*d) codes and (T,) mask (all 2m+1 frames known).

        The input covers the window plus `context` frames on each side, so the stack at the window's
        edges uses real neighbours; unknown speeds code as zeros and unmask every frame whose stack
        touches them.
        """
        m = self.context
        w = np.asarray(deg_per_second, dtype=np.float64)
        known = np.asarray(known, dtype=bool)
        if w.shape[0] < 2 * m + 1:
            raise ValueError(f"need at least {2 * m + 1} speeds for a +-{m} stack, got {w.shape[0]}")
        c, r = np.asarray(self.centres), np.asarray(self.radii)
        codes = np.tanh((w[:, None] - c) / r * 3.0).astype(np.float32)
        codes[~known] = 0.0
        T = w.shape[0] - 2 * m
        stacked = np.concatenate([codes[k : k + T] for k in range(2 * m + 1)], axis=1)
        mask = np.ones(T, dtype=bool)
        for k in range(2 * m + 1):
            mask &= known[k : k + T]
        return stacked, mask


def context_times(times: np.ndarray, fps: float, context: int) -> np.ndarray:
    """`times` of a window extended by `context` output frames on each side (for the +-m stack)."""
    times = np.asarray(times, dtype=np.float64)
    if context <= 0:
        return times
    step = 1.0 / fps
    before = times[0] - step * np.arange(context, 0, -1)
    after = times[-1] + step * np.arange(1, context + 1)
    return np.concatenate([before, times, after])


def boxes_from_keypoints(points: np.ndarray, margin: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Face boxes (T, 4) x0, y0, x1, y1 around each frame's confident keypoints, grown by `margin` per side.

    A fallback for clips with no detector boxes: a 68-point landmark box stops at the brows, so it is
    grown (25% of its size per side by default) toward the box a face detector draws.
    """
    pts = np.asarray(points, dtype=np.float64)
    ok = np.isfinite(pts[..., 0]) & np.isfinite(pts[..., 1])
    if pts.shape[-1] >= 3:
        ok &= pts[..., 2] > 0
    boxes = np.zeros((pts.shape[0], 4), dtype=np.float32)
    known = ok.any(axis=1)
    for t in np.flatnonzero(known):
        x, y = pts[t, ok[t], 0], pts[t, ok[t], 1]
        w, h = x.max() - x.min(), y.max() - y.min()
        boxes[t] = (x.min() - margin * w, y.min() - margin * h, x.max() + margin * w, y.max() + margin * h)
    return boxes, known


def face_region_mask(
    boxes: np.ndarray, known: np.ndarray, size: tuple[int, int], *, per_frame: bool = False
) -> np.ndarray:
    """EMO's face-region mask from boxes (T, 4) in output pixels: (1, H, W) union, or (T, H, W) per frame.

    Pixels whose centres fall inside a box are set; boxes are clipped to the frame. Frames with no
    known box add nothing (a per-frame mask is empty there).
    """
    H, W = size
    T = len(boxes)
    out = np.zeros((T if per_frame else 1, H, W), dtype=bool)
    ys, xs = np.arange(H) + 0.5, np.arange(W) + 0.5
    for t in np.flatnonzero(np.asarray(known, dtype=bool)):
        x0, y0, x1, y1 = (float(v) for v in boxes[t])
        rows = (ys >= y0) & (ys <= y1)
        cols = (xs >= x0) & (xs <= x1)
        out[t if per_frame else 0] |= rows[:, None] & cols[None, :]
    return out
