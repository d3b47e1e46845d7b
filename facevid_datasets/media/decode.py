"""Decode a clip (frames by index or by time span) and its audio, aligned to those frames.

Two video backends sit behind one small reader interface: torchcodec (CPU, and CUDA/NVDEC when a
GPU is there) and decord (CPU). Both return frames as uint8 tensors (T, C, H, W) in display
orientation, so the same indices give the same frames whichever backend decoded them. Audio is
always decoded by torchcodec's AudioDecoder, resampled to mono at `sample_rate`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import numpy as np
import torch

from ..errors import MediaError
from .probe import frame_timestamps

Backend = Literal["torchcodec", "decord"]
Source = str | Path | bytes

#: Sample rate the audio-driven models expect (Hallo, LatentSync, SyncNet).
AUDIO_SAMPLE_RATE = 16_000


@dataclass
class DecodedClip:
    """Frames of one clip and the audio played while they are shown."""

    frames: torch.Tensor  # (T, C, H, W) uint8, display orientation
    indices: torch.Tensor  # (T,) int64 frame indices in the file
    pts_seconds: torch.Tensor  # (T,) float64 presentation times
    fps: float  # the file's average frame rate
    audio: torch.Tensor | None  # (S,) float32 mono, None when the file has no audio
    sample_rate: int
    audio_start: float  # seconds: audio[0] plays at pts_seconds[0]
    path: str

    @property
    def samples_per_frame(self) -> float:
        return self.sample_rate / self.fps


class FrameBatch(NamedTuple):
    """Frames a reader decoded: (T, C, H, W) uint8 in display orientation, and their presentation times
    (T,) float64 seconds, in the order asked. Unpacks as `frames, pts`."""

    frames: torch.Tensor
    pts: torch.Tensor


class FrameReader(Protocol):
    """A decoder over one file: frame count, average fps, and frames at given indices."""

    num_frames: int
    fps: float

    def get_frames(self, indices: list[int]) -> FrameBatch:
        """Frames (T, C, H, W) uint8 and their pts (T,) float64, in the order asked."""
        ...

    def get_frame_range(self, start: int, stop: int) -> FrameBatch:
        """Frames start..stop-1 in one forward pass; MediaError when stop <= start."""
        ...


def _name(source: Source) -> str:
    return "<bytes>" if isinstance(source, bytes) else str(source)


class TorchcodecReader:
    """torchcodec's VideoDecoder; `device="cuda"` decodes on NVDEC and returns CUDA tensors.

    One reader serves many windows of its file: `get_frames` with increasing indices decodes
    forward and seeks only when the next frame lies in a later GOP, so windows of one file read
    in one call (or consecutive calls in increasing order) pay the keyframe run-up once.
    Frames are (T, C, H, W) views of torchcodec's (T, H, W, C) memory: keep them as views (a
    planar copy makes torch's antialiased resize about 2.5x slower).
    """

    def __init__(
        self,
        source: Source,
        device: str = "cpu",
        seek_mode: Literal["exact", "approximate"] = "exact",
        num_threads: int = 1,
    ):
        from torchcodec.decoders import VideoDecoder

        self.path = _name(source)
        check_device(device, self.path)
        src = str(source) if isinstance(source, Path) else source
        try:
            if str(device).startswith("cuda"):
                from torchcodec.decoders import set_cuda_backend

                with set_cuda_backend("nvdec"):
                    self._dec = VideoDecoder(src, device=device, seek_mode=seek_mode)
            else:
                self._dec = VideoDecoder(src, device=device, seek_mode=seek_mode, num_ffmpeg_threads=num_threads)
        except Exception as e:  # torchcodec raises RuntimeError/ValueError with FFmpeg's text
            raise MediaError(self.path, f"cannot open video ({e})") from e
        md = self._dec.metadata
        self.num_frames = int(md.num_frames or 0)
        self.fps = float(md.average_fps or 0.0)
        self.width, self.height = int(md.width or 0), int(md.height or 0)
        self.start_seconds = float(getattr(md, "begin_stream_seconds_from_header", None) or 0.0)

    def get_frames(self, indices: list[int]) -> FrameBatch:
        idx = _check_indices(self.path, indices, self.num_frames)
        try:
            batch = self._dec.get_frames_at(idx)
        except Exception as e:
            raise MediaError(self.path, f"decoding frames failed, file may be truncated or corrupt ({e})") from e
        return FrameBatch(batch.data, batch.pts_seconds.to(torch.float64))

    def get_frame_range(self, start: int, stop: int) -> FrameBatch:
        """Frames start..stop-1 decoded in one forward pass (one seek at most)."""
        _check_range(self.path, start, stop, self.num_frames)
        try:
            batch = self._dec.get_frames_in_range(int(start), int(stop))
        except Exception as e:
            raise MediaError(self.path, f"decoding frames failed, file may be truncated or corrupt ({e})") from e
        return FrameBatch(batch.data, batch.pts_seconds.to(torch.float64))


class DecordReader:
    """decord's VideoReader (CPU only); like torchcodec it applies the container's rotation itself."""

    def __init__(self, source: Source, num_threads: int = 1):
        import decord

        self.path = _name(source)
        src = io.BytesIO(source) if isinstance(source, bytes) else str(source)
        try:
            self._vr = decord.VideoReader(src, ctx=decord.cpu(0), num_threads=num_threads)
        except Exception as e:
            raise MediaError(self.path, f"cannot open video ({e})") from e
        self.num_frames = len(self._vr)
        self.fps = float(self._vr.get_avg_fps())

    def get_frames(self, indices: list[int]) -> FrameBatch:
        idx = _check_indices(self.path, indices, self.num_frames)
        try:
            arr = self._vr.get_batch(idx).asnumpy()  # (T, H, W, C)
            pts = self._vr.get_frame_timestamp(idx)[:, 0]
        except Exception as e:
            raise MediaError(self.path, f"decoding frames failed, file may be truncated or corrupt ({e})") from e
        frames = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
        return FrameBatch(frames, torch.from_numpy(np.asarray(pts, dtype=np.float64)))

    def get_frame_range(self, start: int, stop: int) -> FrameBatch:
        """Frames start..stop-1 (decord reads them forward from the keyframe before `start`)."""
        _check_range(self.path, start, stop, self.num_frames)
        return self.get_frames(list(range(int(start), int(stop))))


def check_device(device: str | torch.device, what: str = "decoding") -> None:
    """Fail at once, in one line, when a CUDA device is asked for and torch sees no GPU."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{what}: device={str(device)!r} asked for, but torch sees no CUDA GPU "
                         "(torch.cuda.is_available() is False); use device='cpu'")


def _check_indices(path: str, indices: Sequence[int] | np.ndarray | torch.Tensor, num_frames: int) -> list[int]:
    """The indices as Python ints, or a MediaError naming the file and the bad index."""
    arr = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices)
    if arr.ndim != 1 or not arr.size:
        raise MediaError(path, f"frame indices must be a non-empty 1-D list, got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        whole = np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        if not whole:
            raise MediaError(path, f"frame indices must be whole numbers, got {arr.dtype} values like {arr[0]!r}")
        arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= num_frames)]
    if bad.size:
        raise MediaError(path, f"frame index {int(bad[0])} out of range: the video has {num_frames} frames")
    return [int(i) for i in arr]


def _check_range(path: str, start: int, stop: int, num_frames: int) -> None:
    if int(stop) <= int(start):
        raise MediaError(path, f"frame range [{start}, {stop}) is empty or decreasing: stop must exceed start")
    if int(start) < 0 or int(stop) > num_frames:
        raise MediaError(path, f"frame range [{start}, {stop}) out of range: the video has {num_frames} frames")


def open_reader(
    source: Source, backend: Backend = "torchcodec", device: str = "cpu", num_threads: int = 1
) -> FrameReader:
    """A frame reader for `source` with the chosen backend (decord is CPU only)."""
    check_device(device, _name(source))
    if backend == "torchcodec":
        return TorchcodecReader(source, device=device, num_threads=num_threads)
    if backend == "decord":
        if device != "cpu":
            raise ValueError("decord's registry build decodes on the CPU only; use backend='torchcodec'")
        return DecordReader(source, num_threads=num_threads)
    raise ValueError(f"unknown backend {backend!r}: use 'torchcodec' or 'decord'")


def indices_for_span(
    timestamps: np.ndarray, start: float, end: float, fps: float | None = None
) -> np.ndarray:
    """Indices of the frames shown in [start, end); with `fps`, resampled to that rate.

    Resampling picks, for each output instant t = start + k / fps, the frame on screen at t
    (the last frame whose pts <= t), so a 30 fps file read at 25 fps drops frames and one read at
    60 fps repeats them, as a player would show them, also for variable-frame-rate files.
    """
    if end <= start:
        raise ValueError(f"empty time span [{start}, {end})")
    if fps is None:
        idx = np.flatnonzero((timestamps >= start - 1e-6) & (timestamps < end - 1e-6))
        if idx.size == 0 and timestamps.size:
            idx = np.array([max(0, int(np.searchsorted(timestamps, start, side="right")) - 1)])
        return idx
    n = max(1, int(np.floor((end - start) * fps + 1e-6)))
    instants = start + np.arange(n) / fps
    idx = np.searchsorted(timestamps, instants + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(timestamps) - 1)


class AudioReader:
    """torchcodec's AudioDecoder over one file, mono at `sample_rate`, reusable for many spans
    (opening costs more than decoding a second of audio); `has_audio` is False when the file has none."""

    def __init__(self, source: Source, sample_rate: int = AUDIO_SAMPLE_RATE):
        from torchcodec.decoders import AudioDecoder

        self.path, self.sample_rate = _name(source), sample_rate
        src = str(source) if isinstance(source, Path) else source
        try:
            self._dec = AudioDecoder(src, sample_rate=sample_rate, num_channels=1)
        except Exception as e:
            if "audio stream" in str(e).lower() or "no audio" in str(e).lower():
                self._dec = None
            else:
                raise MediaError(self.path, f"cannot open audio ({e})") from e

    @property
    def has_audio(self) -> bool:
        return self._dec is not None

    def span(self, start: float, end: float) -> torch.Tensor | None:
        """Audio played in [start, end), exactly round((end-start)*sr) samples (zero-padded where the
        stream starts late or ends early); None without an audio stream."""
        if self._dec is None:
            return None
        sr = self.sample_rate
        n = int(round((end - start) * sr))
        out = torch.zeros(n, dtype=torch.float32)
        try:
            samples = self._dec.get_samples_played_in_range(start_seconds=max(0.0, start), stop_seconds=end)
        except Exception as e:
            msg = str(e).lower()
            if "no samples" in msg or "out of" in msg or "range" in msg:
                return out
            raise MediaError(self.path, f"decoding audio failed ({e})") from e
        data = samples.data[0].to(torch.float32)
        offset = int(round((samples.pts_seconds - start) * sr))
        if offset < 0:
            data, offset = data[-offset:], 0
        k = max(0, min(len(data), n - offset))
        out[offset : offset + k] = data[:k]
        return out


def decode_audio(
    source: Source, start: float, end: float, sample_rate: int = AUDIO_SAMPLE_RATE
) -> torch.Tensor | None:
    """Mono audio played in [start, end), resampled to `sample_rate`, exactly round((end-start)*sr)
    samples long (zero-padded where the stream starts late or ends early); None when there is no
    audio stream."""
    return AudioReader(source, sample_rate).span(start, end)


def decode_clip(
    source: Source,
    indices: list[int] | np.ndarray | torch.Tensor | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    fps: float | None = None,
    backend: Backend = "torchcodec",
    device: str = "cpu",
    audio: bool = True,
    audio_source: Source | None = None,
    sample_rate: int = AUDIO_SAMPLE_RATE,
    reader: FrameReader | None = None,
) -> DecodedClip:
    """Decode frames by `indices`, or those shown in [`start`, `end`) (optionally resampled to `fps`).

    The audio covers exactly the time the frames are on screen: from the first frame's pts to the
    last frame's pts plus one frame period (resampled spans: from `start` for len / fps seconds).
    `audio_source` reads it from a separate file.
    """
    name = _name(source)
    if (indices is None) == (start is None):
        raise MediaError(name, "decode_clip: give either frame indices or a time span (start, end)")
    reader = reader or open_reader(source, backend=backend, device=device)
    if indices is None:
        if isinstance(source, bytes):
            raise MediaError(name, "time spans need a file path (the frame index is read from the file)")
        ts = frame_timestamps(source)
        try:
            idx = indices_for_span(ts, float(start), float(end if end is not None else ts[-1] + 1), fps)
        except ValueError as e:
            raise MediaError(name, str(e)) from e
    else:
        idx = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices)
    idx_list = _check_indices(name, idx, reader.num_frames)
    frames, pts = reader.get_frames(idx_list)
    if indices is None and fps is not None:
        # Resampled: frame k stands for the instant start + k / fps.
        a_start, a_end = float(start), float(start) + len(idx_list) / fps
    else:
        a_start, a_end = float(pts[0]), float(pts[-1]) + 1.0 / reader.fps
    wav = decode_audio(audio_source or source, a_start, a_end, sample_rate) if audio else None
    return DecodedClip(
        frames=frames,
        indices=torch.as_tensor(idx_list, dtype=torch.int64),
        pts_seconds=pts,
        fps=reader.fps,
        audio=wav,
        sample_rate=sample_rate,
        audio_start=a_start,
        path=name,
    )
