"""Frames to the output size: a crop centred on the face (aspect kept) or a letterbox, on any device.

Keypoints are stored in the record's video pixels; decoded frames may be smaller (a training copy)
or larger, so points are rescaled to the decoded size before they follow the crop and resize.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from .plan import ClipPlan

Fit = Literal["crop", "pad"]


def face_centre(plan: ClipPlan, w: int, h: int) -> tuple[float, float]:
    """Centre of the valid keypoints' box over the clip (stored pixels), else the frame centre."""
    kp = plan.keypoints
    if kp is not None and len(kp):
        pts = kp[plan.valid] if plan.valid.any() else kp
        ok = pts[..., 2] > 0 if pts.shape[-1] == 3 else np.ones(pts.shape[:-1], bool)
        ok &= np.isfinite(pts[..., 0]) & np.isfinite(pts[..., 1])
        if ok.any():  # centre of the points' box: dense landmark regions do not pull it
            x, y = pts[..., 0][ok], pts[..., 1][ok]
            return float(x.min() + x.max()) / 2, float(y.min() + y.max()) / 2
    return w / 2.0, h / 2.0


def crop_box(plan: ClipPlan, size: tuple[int, int], fit: Fit, kp_scale: tuple[float, float], w: int,
             h: int) -> tuple[int, int, int, int, int, int]:
    """(top, left, height, width, pad_top, pad_left) in decoded pixels for a `w` x `h` frame."""
    H, W = size
    if fit == "crop":
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


def fit_frames(plan: ClipPlan, frames: torch.Tensor, size: tuple[int, int],
               fit: Fit) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Frames (T, C, h, w) resized/cropped to `size` on their own device, and keypoints moved with them."""
    from torchvision.transforms.v2 import functional as TF

    H, W = size
    h, w = frames.shape[-2:]
    kp_scale = (w / plan.width if plan.width else 1.0, h / plan.height if plan.height else 1.0)
    top, left, ch, cw, pad_top, pad_left = crop_box(plan, size, fit, kp_scale, w, h)
    if fit == "crop":
        out = TF.resized_crop(frames, top, left, ch, cw, [H, W], antialias=True)
        sx, sy = W / cw, H / ch
    else:
        s = min(H / h, W / w)
        nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
        out = TF.resize(frames, [nh, nw], antialias=True)
        out = torch.nn.functional.pad(out, (pad_left, W - nw - pad_left, pad_top, H - nh - pad_top))
        sx, sy = nw / w, nh / h
    kp = None
    if plan.keypoints is not None:
        k = torch.as_tensor(plan.keypoints, dtype=torch.float32).clone()
        k[..., 0] = (k[..., 0] * kp_scale[0] - left) * sx + pad_left
        k[..., 1] = (k[..., 1] * kp_scale[1] - top) * sy + pad_top
        kp = k
    return out, kp


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
