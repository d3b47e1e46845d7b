"""Log-mel frames per video frame and the feature-model alignment."""

import math

import pytest
import torch

from facevid_datasets.media.mel import hz_to_mel, mel_filterbank, mel_to_hz
from facevid_datasets.training.audio_features import LogMel, features_per_frame


def test_filterbank_shape_and_peaks():
    fb = mel_filterbank(800, 80, 16000, 55.0, 7600.0)
    assert fb.shape == (401, 80) and (fb >= 0).all()
    freqs = torch.linspace(0, 8000, 401)
    centres = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(55.0))), float(hz_to_mel(torch.tensor(7600.0))),
                                       82))[1:-1]
    peaks = freqs[fb.argmax(0)]
    assert torch.allclose(peaks[20:], centres[20:].float(), atol=20.0)  # one FFT bin is 20 Hz
    assert (peaks.diff() >= 0).all()


def _tone(hz: float, seconds: float, sr: int = 16000, start: float = 0.0) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    return torch.where(t >= start, torch.sin(2 * math.pi * hz * t), torch.zeros(()))


def test_mel_frames_per_video_frame_and_tone_band():
    sr, fps, T = 16000, 25, 16
    spf = sr // fps
    audio = torch.stack([_tone(1000.0, T / fps), _tone(3000.0, T / fps)])
    mel = LogMel()(audio, spf, sr)
    assert mel.shape == (2, T, 4, 80)
    fb = mel_filterbank(800, 80, sr, 55.0, 7600.0)
    band = [int(fb[int(hz / 20)].argmax()) for hz in (1000.0, 3000.0)]
    assert mel[0, 5:12].argmax(-1).eq(band[0]).all() and mel[1, 5:12].argmax(-1).eq(band[1]).all()


def test_mel_frames_follow_the_video_clock():
    """A tone that starts at video frame 5 leaves frames 0-3 silent and fills frames 6 on."""
    sr, fps, T = 16000, 25, 12
    mel = LogMel()(_tone(440.0, T / fps, start=5 / fps)[None], sr // fps, sr)
    energy = mel.exp().sum(-1).mean(-1)[0]
    assert energy[:4].max() < 1e-3 * energy[6:].min()


def test_mel_rejects_misaligned_settings():
    with pytest.raises(ValueError, match="divisor"):
        LogMel(mels_per_frame=3)(torch.zeros(1, 640 * 4), 640, 16000)
    with pytest.raises(ValueError, match=r"\(B, T \* 640\)"):
        LogMel()(torch.zeros(1, 1000), 640, 16000)


def test_features_per_frame_interpolates_to_video_frames():
    feats = torch.arange(50, dtype=torch.float32).reshape(1, 50, 1).repeat(2, 1, 3)  # 50 Hz over 1 s
    out = features_per_frame(feats, 25)
    assert out.shape == (2, 25, 3)
    assert torch.allclose(out[0, :, 0], torch.arange(25) * 2 + 0.5)  # frame t covers features 2t, 2t+1
