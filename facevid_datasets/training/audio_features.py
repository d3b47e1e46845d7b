"""Audio features aligned to video frames: log-mel spectrograms, and a hook for a user's speech model.

Audio-driven face models condition each video frame on the audio around it: Wav2Lip, LatentSync and
MuseTalk on log-mel frames (16 kHz, 80 mels, 10 ms hop), Hallo and EMO on wav2vec2 / Whisper /
HuBERT features. `LogMel` computes the first with `torch.stft` on whatever device the batch is on and
cuts it per video frame; `FeatureModel` is the shape of the second, and `features_per_frame`
resamples any model's feature rate onto the video frames.

The mel filterbank is `media.mel`'s, shared with curation's lip-sync measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from ..media.mel import mel_filterbank


@dataclass
class LogMel:
    """Log-mel frames cut per video frame: (B, T * spf) audio -> (B, T, mels_per_frame, n_mels).

    Defaults follow Wav2Lip / LatentSync: 80 mels, 800-sample window, 10 ms hop at 16 kHz, so each
    frame of 25 fps video gets 4 mel frames (its own 40 ms). The hop is derived from the audio per
    video frame so the frames line up exactly: `samples_per_frame` must divide by `mels_per_frame`.
    The STFT is centred on each hop and the signal is reflect-padded, so mel frame j of video frame t
    describes the audio around t + j / (fps * mels_per_frame).
    """

    n_mels: int = 80
    n_fft: int = 800
    mels_per_frame: int = 4
    f_min: float = 55.0
    f_max: float | None = 7600.0
    log_floor: float = 1e-5

    def __call__(self, audio: torch.Tensor, samples_per_frame: int, sample_rate: int) -> torch.Tensor:
        if samples_per_frame % self.mels_per_frame:
            raise ValueError(f"{samples_per_frame} audio samples per video frame do not split into "
                             f"{self.mels_per_frame} mel frames: set mels_per_frame to a divisor")
        if audio.dim() != 2 or audio.shape[1] % samples_per_frame:
            raise ValueError(f"audio must be (B, T * {samples_per_frame}), got {tuple(audio.shape)}")
        hop = samples_per_frame // self.mels_per_frame
        B, N = audio.shape
        T = N // samples_per_frame
        window = torch.hann_window(self.n_fft, device=audio.device, dtype=torch.float32)
        spec = torch.stft(audio.float(), self.n_fft, hop_length=hop, win_length=self.n_fft, window=window,
                          center=True, pad_mode="reflect" if N > self.n_fft // 2 else "constant",
                          return_complex=True)
        power = spec.abs() ** 2  # (B, n_fft // 2 + 1, N // hop + 1)
        fb = mel_filterbank(self.n_fft, self.n_mels, sample_rate, self.f_min, self.f_max).to(audio.device)
        mel = torch.einsum("bfn,fm->bnm", power[..., : T * self.mels_per_frame], fb)
        return torch.log(torch.clamp(mel, min=self.log_floor)).reshape(B, T, self.mels_per_frame, self.n_mels)


class FeatureModel(Protocol):
    """A user's speech model (wav2vec2, Whisper encoder, HuBERT): mono audio in, feature frames out.

    Called with (B, N) float audio at `sample_rate` on the collator's device; returns (B, F, D)
    features at the model's own rate (wav2vec2 and HuBERT: 50 per second). `features_per_frame`
    aligns them to the video frames.
    """

    sample_rate: int

    def __call__(self, audio: torch.Tensor) -> torch.Tensor: ...


def features_per_frame(features: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, F, D) features spanning a window -> (B, T, D), linearly interpolated at each video frame's centre."""
    if features.dim() != 3:
        raise ValueError(f"features must be (B, F, D), got {tuple(features.shape)}")
    return torch.nn.functional.interpolate(features.transpose(1, 2).float(), size=num_frames, mode="linear",
                                           align_corners=False).transpose(1, 2)
