"""Mel filterbank (HTK mel scale, triangular filters, Slaney area normalisation), shared by the
training loader's log-mel features and curation's lip-sync measure.

Written here rather than taken from a library: torchaudio's registry wheels pin older torch releases
than the one this package installs, and librosa would bring numba for twenty lines.
"""

from __future__ import annotations

import torch

__all__ = ["hz_to_mel", "mel_filterbank", "mel_to_hz"]


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular filters on the HTK mel scale, each of unit area (Slaney norm)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate / 2, got f_min={f_min}, f_max={f_max}")
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(f_min))), float(hz_to_mel(torch.tensor(f_max))),
                                     n_mels + 2, dtype=torch.float64))
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs[:, None] - lo) / (mid - lo)
    down = (hi - freqs[:, None]) / (hi - mid)
    fb = torch.clamp(torch.minimum(up, down), min=0.0)
    fb *= 2.0 / (hi - lo)  # Slaney: equal area per filter
    return fb.to(torch.float32)
