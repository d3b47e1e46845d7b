"""Probe a media file's streams with ffprobe: headers and packet index only, never a full decode."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MediaError
from .tools import run

_TIMEOUT_S = 60


@dataclass(frozen=True)
class VideoInfo:
    """What a file holds, as displayed (width and height after rotation)."""

    path: str
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    codec: str
    pixel_format: str | None
    rotation: int
    variable_frame_rate: bool
    has_audio: bool
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _run_ffprobe(path: str, args: list[str]) -> dict:
    out = run("ffprobe", ["-v", "error", "-of", "json", *args, path], path, "not a readable media file", _TIMEOUT_S)
    return json.loads(out or "{}")


def _rate(text: str | None) -> float:
    if not text or text in ("0/0", "N/A"):
        return 0.0
    return float(Fraction(text))


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def probe(path: str | Path) -> VideoInfo:
    """Read stream headers of `path`; raise MediaError naming the file if it has no video stream."""
    path = str(path)
    if not Path(path).is_file():
        raise MediaError(path, "file not found")
    if Path(path).stat().st_size == 0:
        raise MediaError(path, "file is empty")
    data = _run_ffprobe(path, ["-show_streams", "-show_format"])
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise MediaError(path, "no video stream")
    fmt = data.get("format", {})
    avg = _rate(video.get("avg_frame_rate"))
    real = _rate(video.get("r_frame_rate"))
    duration = float(video.get("duration") or fmt.get("duration") or 0.0)
    fps = avg or real
    nb = video.get("nb_frames")
    if nb and str(nb).isdigit() and int(nb) > 0:
        num_frames = int(nb)
    else:
        # Containers without a frame count (webm, some mkv): count packets, which reads no pixels.
        num_frames = len(frame_timestamps(path))
    if not fps and duration:
        fps = num_frames / duration
    if num_frames == 0 or not fps:
        raise MediaError(path, "video stream has no frames")
    rotation = _rotation(video)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=float(fps),
        num_frames=num_frames,
        duration=duration or num_frames / fps,
        codec=str(video.get("codec_name")),
        pixel_format=video.get("pix_fmt"),
        rotation=rotation,
        variable_frame_rate=bool(avg and real and abs(avg - real) / real > 0.01),
        has_audio=audio is not None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
    )


@lru_cache(maxsize=4096)
def _timestamps_cached(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    data = _run_ffprobe(path, ["-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"])
    pts, key = [], []
    for p in data.get("packets", []):
        t = p.get("pts_time")
        if t in (None, "N/A"):
            continue
        pts.append(float(t))
        key.append("K" in p.get("flags", ""))
    order = np.argsort(pts, kind="stable")
    return np.asarray(pts, dtype=np.float64)[order], np.asarray(key, dtype=bool)[order]


def _stat_key(path: str | Path) -> tuple[str, int, int]:
    st = Path(path).stat()
    return str(path), st.st_size, st.st_mtime_ns


def frame_timestamps(path: str | Path) -> np.ndarray:
    """Presentation time (s) of every video frame, in display order, from the packet index."""
    return _timestamps_cached(*_stat_key(path))[0]


def keyframe_indices(path: str | Path) -> np.ndarray:
    """Display-order indices of the key frames (where a decoder can start)."""
    return np.flatnonzero(_timestamps_cached(*_stat_key(path))[1])
