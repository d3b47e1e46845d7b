"""Audio cut per output frame: the samples played while each sampled frame is on screen, plus +-k frames.

Any source rate (16/44.1/48 kHz) is resampled to the collator's rate; a clip without audio gives
None and the batch masks it. Output frame rates may differ between clips of a batch: each clip
then has its own samples per frame and the batch pads to the longest (`samples_per_frame` says).
"""

from __future__ import annotations

import numpy as np
import torch

from ..media import decode_audio
from .plan import ClipPlan


def samples_per_frame(sample_rate: int, fps: float) -> int:
    """Audio samples per output frame at `fps`."""
    return int(round(sample_rate / fps))


def frame_audio(plan: ClipPlan, times: np.ndarray, *, sample_rate: int,
                window: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Per-frame audio (T * spf) at the frames' instants `times` (file clock), and +-`window` frame
    windows (T, (2k+1) * spf); (None, None) when the clip has no audio."""
    if plan.audio is None:
        return None, None
    k, f = window, plan.fps
    spf = samples_per_frame(sample_rate, f)
    a0 = float(times.min()) - k / f
    a1 = float(times.max()) + (k + 1) / f
    wav = decode_audio(plan.audio, a0, a1, sample_rate)
    if wav is None:
        return None, None
    margin = spf * (k + 1)
    wav = torch.nn.functional.pad(wav, (margin, margin))
    offsets = torch.as_tensor(np.round((times - a0) * sample_rate).astype(np.int64) + margin)
    valid = torch.as_tensor(plan.valid)
    per_frame = wav[offsets[:, None] + torch.arange(spf)]  # (T, spf)
    per_frame[~valid] = 0
    windows = None
    if k > 0:
        windows = wav[offsets[:, None] + torch.arange(-k * spf, (k + 1) * spf)]
        windows[~valid] = 0
    return per_frame.reshape(-1), windows
