"""Frames to the output size: a crop centred on the face (aspect kept) or a letterbox, on any device.

Keypoints are stored in the record's video pixels; decoded frames may be smaller (a training copy)
or larger, so points are rescaled to the decoded size before they follow the crop and resize.
`fit="face"` is the face-aligned crop LatentSync, MuseTalk and Hallo preprocess to: one box for the
whole window (so nothing jitters from frame to frame) around the keypoints' extent over the window,
grown by `margin` on each side, at the output's aspect; without keypoints it falls back to the
centre crop and the batch says so (`face_crop`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .plan import ClipPlan

Fit = Literal["crop", "pad", "face"]

#: Share of the face box added on each side by the face-aligned crop (forehead, chin and cheeks in view).
FACE_MARGIN = 0.3


@dataclass
class OutputMap:
    """Where stored-video pixels land in the output: x' = (x * kx - left) * sx + pad_left (y alike)."""

    kx: float
    ky: float
    left: float
    top: float
    sx: float
    sy: float
    pad_left: float
    pad_top: float

    def points(self, pts: np.ndarray) -> np.ndarray:
        """(..., >=2) x, y in stored pixels -> output pixels (other columns kept)."""
        out = np.array(pts, dtype=np.float32, copy=True)
        out[..., 0] = (out[..., 0] * self.kx - self.left) * self.sx + self.pad_left
        out[..., 1] = (out[..., 1] * self.ky - self.top) * self.sy + self.pad_top
        return out

    def boxes(self, boxes: np.ndarray) -> np.ndarray:
        """(T, >=4) x0, y0, x1, y1 in stored pixels -> output pixels."""
        out = np.array(boxes, dtype=np.float32, copy=True)
        out[:, 0:2] = self.points(out[:, 0:2])
        out[:, 2:4] = self.points(out[:, 2:4])
        return out


def face_centre(plan: ClipPlan, w: int, h: int) -> tuple[float, float]:
    """Centre of the valid keypoints' box over the clip (stored pixels), else the frame centre.

    The box's centre, not the points' mean, so dense landmark regions do not pull it.
    """
    box = face_extent(plan)
    if box is None:
        return w / 2.0, h / 2.0
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def face_extent(plan: ClipPlan) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of the valid keypoints over the whole window (stored pixels), or None."""
    kp = plan.keypoints
    if kp is None or not len(kp):
        return None
    pts = kp[plan.valid] if plan.valid.any() else kp
    ok = pts[..., 2] > 0 if pts.shape[-1] == 3 else np.ones(pts.shape[:-1], bool)
    ok &= np.isfinite(pts[..., 0]) & np.isfinite(pts[..., 1])
    if not ok.any():
        return None
    x, y = pts[..., 0][ok], pts[..., 1][ok]
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def crop_box(plan: ClipPlan, size: tuple[int, int], fit: Fit, kp_scale: tuple[float, float], w: int,
             h: int, margin: float = FACE_MARGIN) -> tuple[int, int, int, int, int, int]:
    """(top, left, height, width, pad_top, pad_left) in decoded pixels for a `w` x `h` frame."""
    H, W = size
    box = face_extent(plan) if fit == "face" else None
    if box is not None:  # one box for the window: the face's extent, grown, at the output aspect
        x0, y0, x1, y1 = box[0] * kp_scale[0], box[1] * kp_scale[1], box[2] * kp_scale[0], box[3] * kp_scale[1]
        cw = max(x1 - x0, (y1 - y0) * W / H) * (1 + 2 * margin)
        cw = min(cw, float(w), h * W / H)
        ch = cw * H / W
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left = int(round(min(max(cx - cw / 2, 0.0), w - cw)))
        top = int(round(min(max(cy - ch / 2, 0.0), h - ch)))
        return top, left, max(1, int(round(ch))), max(1, int(round(cw))), 0, 0
    if fit in ("crop", "face"):
        cw = min(float(w), h * W / H)
        ch = cw * H / W
        cx, cy = face_centre(plan, plan.width or w, plan.height or h)
        cx, cy = cx * kp_scale[0], cy * kp_scale[1]
        left = int(round(min(max(cx - cw / 2, 0.0), w - cw)))
        top = int(round(min(max(cy - ch / 2, 0.0), h - ch)))
        return top, left, int(round(ch)), int(round(cw)), 0, 0
    s = min(H / h, W / w)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    return 0, 0, h, w, (H - nh) // 2, (W - nw) // 2


def output_map(plan: ClipPlan, frame_hw: tuple[int, int], size: tuple[int, int], fit: Fit,
               margin: float = FACE_MARGIN) -> OutputMap:
    """How the plan's stored pixels land in the output for frames decoded at `frame_hw`."""
    H, W = size
    h, w = frame_hw
    kx, ky = (w / plan.width if plan.width else 1.0, h / plan.height if plan.height else 1.0)
    top, left, ch, cw, pad_top, pad_left = crop_box(plan, size, fit, (kx, ky), w, h, margin)
    if fit == "pad":
        s = min(H / h, W / w)
        nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
        return OutputMap(kx, ky, 0.0, 0.0, nw / w, nh / h, pad_left, pad_top)
    return OutputMap(kx, ky, left, top, W / cw, H / ch, 0.0, 0.0)


def fit_frames(plan: ClipPlan, frames: torch.Tensor, size: tuple[int, int], fit: Fit,
               margin: float = FACE_MARGIN) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Frames (T, C, h, w) resized/cropped to `size` on their own device, and keypoints moved with them."""
    out, omap = fit_with_map(plan, frames, size, fit, margin)
    kp = None if plan.keypoints is None else torch.from_numpy(omap.points(plan.keypoints))
    return out, kp


def fit_with_map(plan: ClipPlan, frames: torch.Tensor, size: tuple[int, int], fit: Fit,
                 margin: float = FACE_MARGIN) -> tuple[torch.Tensor, OutputMap]:
    """Frames fitted to `size` like `fit_frames`, and the map that moves any stored-pixel point with them."""
    from torchvision.transforms.v2 import functional as TF

    H, W = size
    h, w = frames.shape[-2:]
    omap = output_map(plan, (h, w), size, fit, margin)
    if fit == "pad":
        nh, nw = max(1, int(round(h * omap.sy))), max(1, int(round(w * omap.sx)))
        out = TF.resize(frames, [nh, nw], antialias=True)
        pl, pt = int(omap.pad_left), int(omap.pad_top)
        return torch.nn.functional.pad(out, (pl, W - nw - pl, pt, H - nh - pt)), omap
    top, left = int(omap.top), int(omap.left)
    ch, cw = int(round(H / omap.sy)), int(round(W / omap.sx))
    return TF.resized_crop(frames, top, left, ch, cw, [H, W], antialias=True), omap


def clean_keypoints(kp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints with non-finite points zeroed (confidence 0), and per frame whether any point is usable."""
    finite = torch.isfinite(kp).all(-1)  # (T, K)
    out = torch.where(finite[..., None], kp, torch.zeros((), dtype=kp.dtype))
    return out, finite.any(-1)


def to_dtype(video: torch.Tensor, dtype: torch.dtype, value_range: tuple[float, float]) -> torch.Tensor:
    """uint8 frames to `dtype` scaled into `value_range` (uint8 stays 0..255)."""
    if dtype == torch.uint8:
        return video
    lo, hi = value_range
    return video.to(dtype) * ((hi - lo) / 255.0) + lo
