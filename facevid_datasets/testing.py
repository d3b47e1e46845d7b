"""Self-describing synthetic media for tests and benchmarks.

Each frame draws its own index as a 4x4 grid of black/white blocks (16 bits), which survives
lossy compression and resizing; the audio carries a 1 kHz tone during every frame whose index is
a multiple of `beep_every` and silence otherwise, so alignment of audio with frames can be
checked against known content.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .media.ffmpeg import encode_video

GRID = 4
BITS = GRID * GRID


def index_frame(index: int, height: int, width: int) -> np.ndarray:
    """An RGB frame whose central square encodes `index` in GRID x GRID blocks."""
    frame = np.full((height, width, 3), 128, dtype=np.uint8)
    side = min(height, width)
    cell = side // GRID
    y0, x0 = (height - cell * GRID) // 2, (width - cell * GRID) // 2
    for b in range(BITS):
        r, c = divmod(b, GRID)
        v = 255 if (index >> b) & 1 else 0
        frame[y0 + r * cell : y0 + (r + 1) * cell, x0 + c * cell : x0 + (c + 1) * cell] = v
    return frame


def read_index(frame: torch.Tensor | np.ndarray) -> int:
    """Decode the index drawn by `index_frame` from a (C, H, W) or (H, W, C) frame of any size."""
    a = frame.detach().cpu().float().numpy() if isinstance(frame, torch.Tensor) else frame.astype(np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    gray = a.mean(axis=-1)
    if gray.max() <= 1.5:  # float frames in [0, 1] or [-1, 1]
        gray = (gray - gray.min()) / max(1e-6, gray.max() - gray.min()) * 255
    h, w = gray.shape
    side = min(h, w)
    cell = side / GRID
    y0, x0 = (h - cell * GRID) / 2, (w - cell * GRID) / 2
    value = 0
    for b in range(BITS):
        r, c = divmod(b, GRID)
        cy, cx = int(y0 + (r + 0.5) * cell), int(x0 + (c + 0.5) * cell)
        q = max(1, int(cell / 4))
        if gray[cy - q : cy + q, cx - q : cx + q].mean() > 128:
            value |= 1 << b
    return value


def beep_audio(num_frames: int, fps: float, sample_rate: int = 16_000, beep_every: int = 5) -> np.ndarray:
    """Mono audio with a 1 kHz tone during frames k % beep_every == 0, silence elsewhere."""
    n = int(round(num_frames / fps * sample_rate))
    t = np.arange(n) / sample_rate
    frame_of_sample = np.floor(t * fps + 1e-9).astype(np.int64)
    gate = (frame_of_sample % beep_every == 0).astype(np.float32)
    return (0.5 * np.sin(2 * np.pi * 1000 * t) * gate).astype(np.float32)


def make_index_video(
    path: str | Path,
    num_frames: int = 60,
    fps: float = 25.0,
    size: tuple[int, int] = (128, 128),
    *,
    audio: bool = True,
    sample_rate: int = 16_000,
    beep_every: int = 5,
    gop: int | None = None,
    crf: int = 18,
) -> Path:
    """Write an H.264 (+AAC) file whose frames encode their index and whose audio encodes time."""
    h, w = size
    wav = beep_audio(num_frames, fps, sample_rate, beep_every) if audio else None
    frames = (index_frame(i, h, w) for i in range(num_frames))
    return encode_video(frames, path, fps, audio=wav, sample_rate=sample_rate, gop=gop, crf=crf)


def frame_energy(audio: torch.Tensor, num_frames: int, samples_per_frame: float) -> torch.Tensor:
    """RMS of `audio` in each frame's window, for alignment checks."""
    out = torch.zeros(num_frames)
    for k in range(num_frames):
        a, b = int(round(k * samples_per_frame)), int(round((k + 1) * samples_per_frame))
        seg = audio[a + (b - a) // 4 : b - (b - a) // 4]  # the window's middle half avoids edge smear
        out[k] = seg.pow(2).mean().sqrt() if len(seg) else 0.0
    return out
