"""Audio cut per output frame: the samples played while each sampled frame is on screen, plus +-k frames.

Any source rate (16/44.1/48 kHz) is resampled to the collator's rate; a clip without audio gives
None and the batch masks it. Output frame rates may differ between clips of a batch: each clip
then has its own samples per frame and the batch pads to the longest (`samples_per_frame` says).

One timing rule on both decode paths: each frame's audio is cut at the frame's *decoded* presentation
time. On a variable-frame-rate file the decoded times differ from the planned ones (by half a second
or more where the rate changes), so cutting at the planned times would put the audio beside the wrong
frames. The span of audio read is first fixed by the plan alone (the planned instants on the file's
clock, +-k frames, +-`AUDIO_MARGIN`), so a DataLoader worker can read it before the video is decoded
(the CUDA path) and the CPU path reads the very same samples; when the decoded times fall outside it,
both read the span around the decoded times instead (`audio_for_frames`), so both paths give the same
samples whatever the file.

A track may end early (or start late): a frame whose own samples the track does not wholly play is
marked not heard (`FrameAudio.heard`), and the batch masks it, so a model does not learn the zero
padding as the sound of that frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..media import AUDIO_SAMPLE_RATE
from ..media.decode import AudioReader, AudioSpan
from .plan import ClipPlan

#: Seconds of audio read beyond a window's planned span on each side, so that the decoded frame times of
#: most variable-frame-rate files still fall inside the span read ahead; further away, the span is read
#: again around the decoded times.
AUDIO_MARGIN = 0.5


@dataclass(frozen=True)
class AudioOptions:
    """The batch's audio (`VideoCollator(audio=AudioOptions(...))`; `audio=False` for none): mono at
    `sample_rate`, cut per output frame, plus each frame's +-`window` frames (`audio_windows`)."""

    window: int = 2
    sample_rate: int = AUDIO_SAMPLE_RATE

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ValueError(f"AudioOptions(window={self.window}): the +-k frame window must be >= 0")
        if self.sample_rate <= 0:
            raise ValueError(f"AudioOptions(sample_rate={self.sample_rate}): must be > 0")


@dataclass
class FrameAudio:
    """One clip's audio cut per output frame."""

    audio: torch.Tensor  # (T * spf,) float32
    windows: torch.Tensor | None  # (T, (2k+1) * spf), None when k == 0
    heard: torch.Tensor  # (T,) bool: the frame is real and the track plays all of its own samples


def samples_per_frame(sample_rate: int, fps: float) -> int:
    """Audio samples per output frame at `fps`."""
    return int(round(sample_rate / fps))


def _around(times: np.ndarray, fps: float, options: AudioOptions) -> tuple[float, float]:
    """The span that frames shown at `times` need with their +-k frame windows, +-`AUDIO_MARGIN`."""
    k = options.window
    return float(times.min()) - k / fps - AUDIO_MARGIN, float(times.max()) + (k + 1) / fps + AUDIO_MARGIN


def read_audio(plan: ClipPlan, video_start: float, options: AudioOptions) -> AudioSpan | None:
    """The audio the plan's frames should need: its planned instants (`plan.times` from `video_start`, the
    video stream's first pts), +-`options.window` frames and +-`AUDIO_MARGIN` seconds; None when the
    clip has no audio. Depends on the plan only, so either decode path reads the same samples."""
    if plan.audio is None:
        return None
    a0, a1 = _around(plan.times + video_start, plan.fps, options)
    return AudioReader(plan.audio, options.sample_rate).read(a0, a1)


def audio_for_frames(plan: ClipPlan, times: np.ndarray, ahead: AudioSpan | None,
                     options: AudioOptions) -> AudioSpan | None:
    """The span to cut frames decoded at `times` from: `ahead` (read from the plan by `read_audio`) when it
    holds every sample they need, else the span around `times` (a variable-frame-rate file whose decoded
    times lie far from the planned ones). None when the clip has no audio."""
    if plan.audio is None:
        return None
    k, f = options.window, plan.fps
    if ahead is not None and ahead.start <= float(times.min()) - k / f and \
            float(times.max()) + (k + 1) / f <= ahead.end:
        return ahead
    a0, a1 = _around(times, f, options)
    return AudioReader(plan.audio, options.sample_rate).read(a0, a1)


def cut_audio(span: AudioSpan, plan: ClipPlan, times: np.ndarray, *, window: int) -> FrameAudio:
    """Per-frame audio of `span` at the frames' decoded instants `times` (file clock) and their +-`window`
    frame windows; padding frames (`plan.valid` False) and samples the span does not hold are zero."""
    sr, k = span.sample_rate, window
    spf = samples_per_frame(sr, plan.fps)
    wav = span.samples if len(span.samples) else torch.zeros(1)
    first = torch.as_tensor(np.round((times - span.start) * sr).astype(np.int64))  # each frame's first sample

    def runs(lo: int, hi: int) -> torch.Tensor:  # samples first+lo .. first+hi-1 per frame, zero outside the span
        idx = first[:, None] + torch.arange(lo, hi)
        inside = (idx >= 0) & (idx < len(wav))
        return torch.where(inside, wav[idx.clamp(0, len(wav) - 1)], 0.0)

    valid = torch.as_tensor(np.asarray(plan.valid, dtype=bool))
    per_frame = runs(0, spf)  # (T, spf)
    per_frame[~valid] = 0
    windows = None
    if k > 0:
        windows = runs(-k * spf, (k + 1) * spf)
        windows[~valid] = 0
    heard = span.played(first, spf) & valid
    return FrameAudio(per_frame.reshape(-1).to(torch.float32),
                      None if windows is None else windows.to(torch.float32), heard)
