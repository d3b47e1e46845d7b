"""Frames around a training window: motion frames before it and reference frames for appearance.

Hallo feeds the n frames before the window as *motion frames* (the previous clip's tail, zero maps
for a clip's start); EMO, Hallo and MCDM take a *reference frame* of the same person outside the
window for appearance. A `FrameSet` says which stored frames those are, at which instants, which
are real (motion frames before the clip's first frame are padding), and their keypoints, so the
collator decodes them with the window and masks what is padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class FrameSet:
    """Frames of a plan beside its window: stored frame indices, instants, validity, keypoints."""

    indices: np.ndarray  # (n,) int64 frame indices in `video` (the plan's own file when None)
    times: np.ndarray  # (n,) float64 seconds on that file's clock
    valid: np.ndarray  # (n,) bool: False for padding (before the clip's start, or no frame to take)
    keypoints: np.ndarray | None = None  # (n, K, 3) in stored pixels of that file
    video: str | bytes | None = None  # another clip's file (reference from the same identity)
    clip_id: str | None = None  # that clip's id
    width: int = 0  # that file's stored size (keypoints are in these pixels); 0: the plan's own
    height: int = 0


def motion_frames(first_time: float, n: int, fps: float, source_fps: float) -> FrameSet:
    """The `n` output frames before a window starting at `first_time`, at the window's rate.

    Instants before 0 are padding: index 0, masked (Hallo uses zero maps there; the collator zeroes them).
    """
    times = first_time - np.arange(n, 0, -1, dtype=np.float64) / fps
    valid = times >= -1e-9
    times = np.where(valid, np.maximum(times, 0.0), 0.0)
    idx = np.floor(times * source_fps + 1e-6).astype(np.int64)
    return FrameSet(idx, times, valid)


def reference_frames(window: np.ndarray, num_frames: int, k: int, source_fps: float,
                     rng: np.random.Generator) -> FrameSet:
    """`k` frames of the same clip outside the window's span, drawn uniformly without repeats.

    When the window covers the whole clip there is no frame outside it: the frames farthest from the
    window's middle are taken and masked (`valid` False), so the batch says the reference overlaps.
    """
    lo, hi = int(window.min()), int(window.max())
    outside = np.concatenate([np.arange(0, lo), np.arange(hi + 1, num_frames)]).astype(np.int64)
    if len(outside) >= k:
        idx = np.sort(rng.choice(outside, size=k, replace=False))
        valid = np.ones(k, dtype=bool)
    else:
        mid = (lo + hi) / 2
        order = np.argsort(-np.abs(np.arange(num_frames) - mid), kind="stable")
        take = np.concatenate([outside, order[~np.isin(order, outside)]])[:k]
        idx = np.resize(np.sort(take), k).astype(np.int64)
        valid = np.isin(idx, outside)
    return FrameSet(idx, idx / source_fps, valid)


def identity_reference(num_frames: int, k: int, source_fps: float, rng: np.random.Generator) -> FrameSet:
    """`k` frames drawn uniformly from another clip of the same identity (all of it is outside the window)."""
    idx = np.sort(rng.choice(num_frames, size=k, replace=num_frames < k)).astype(np.int64)
    return FrameSet(idx, idx / source_fps, np.ones(k, dtype=bool))
