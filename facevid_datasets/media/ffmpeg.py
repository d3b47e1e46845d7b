"""FFmpeg command-line helpers: encode frames, cut and crop clips. Written once, used by builders."""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import MediaError
from .tools import binary, run


def ffmpeg_binary() -> str:
    """Path of ffmpeg, or a MediaError telling the user how to install it."""
    return binary("ffmpeg")


def run_ffmpeg(args: list[str], path_for_errors: str | Path, timeout: float = 600) -> None:
    """Run ffmpeg quietly; raise MediaError with FFmpeg's last error line on failure."""
    run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], path_for_errors, "ffmpeg failed",
        timeout)  # fmt: skip


def encode_video(
    frames: Iterable[np.ndarray],
    out: str | Path,
    fps: float | str,
    *,
    audio: np.ndarray | None = None,
    sample_rate: int = 44_100,
    crf: int = 23,
    gop: int | None = None,
    preset: str = "veryfast",
    extra_args: Iterable[str] = (),
) -> Path:
    """Encode RGB uint8 frames (H, W, 3) to H.264 (yuv420p) with optional mono/stereo AAC audio.

    `fps` may be a rational string such as "30000/1001" for NTSC rates.

    `gop` sets the keyframe interval; short intervals make random access cheap for training.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-"]
        if audio is not None:
            wav = Path(tmp) / "a.wav"
            sf.write(wav, np.asarray(audio, dtype=np.float32), sample_rate)
            args += ["-i", str(wav), "-c:a", "aac", "-b:a", "96k", "-ar", str(sample_rate), "-shortest"]
        args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        if gop:
            args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
        args += ["-movflags", "+faststart", *extra_args, str(out)]
        cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            proc.stdin.write(np.ascontiguousarray(first, dtype=np.uint8).tobytes())
            for f in it:
                proc.stdin.write(np.ascontiguousarray(f, dtype=np.uint8).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise MediaError(out, f"ffmpeg encode failed: {err.strip().splitlines()[-1:]}")
    return out


def frames_in_span(start: float | None, end: float | None, fps: float, num_frames: int) -> tuple[int, int]:
    """Frames [a, b) shown during [start, end) seconds from the first frame (frame k at k / fps):
    a frame belongs to the span when its start time does, so back-to-back spans share no frame."""
    a = 0 if start is None else max(0, math.ceil(start * fps - 1e-6))
    b = num_frames if end is None else min(num_frames, math.ceil(end * fps - 1e-6))
    return a, max(a, b)


def stream_start(src: str | Path) -> float:
    """Presentation time of the first video frame (seconds; 0 when the container says nothing)."""
    out = run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_time", "-of",
                          "csv=p=0", str(src)], src, "ffprobe failed", 60)  # fmt: skip
    try:
        return float(out.strip().splitlines()[0])
    except (ValueError, IndexError):
        return 0.0


def cut_clip(
    src: str | Path,
    dst: str | Path,
    start: float | None = None,
    end: float | None = None,
    *,
    start_frame: int | None = None,
    end_frame: int | None = None,
    crop: tuple[int, int, int, int] | None = None,
    size: int | tuple[int, int] | None = None,
    keep_audio: bool = True,
    crf: int = 18,
    gop: int | None = None,
) -> Path:
    """Cut the frames shown during [start, end) seconds of `src` (see `frames_in_span`), or frames
    [start_frame, end_frame) when those are given, crop (x, y, w, h) in source pixels, resize, re-encode.

    `cut_clip(src, dst, 10, 40)` cuts seconds 10 to 40; `start` and `end` must be finite.

    Frame-exact: the output holds exactly those frames, none doubled or dropped, and the audio
    played while they are shown. The trim points sit half a frame before each boundary frame's
    timestamp, so timestamp rounding cannot move them; a seek to 3 s before the start keeps long
    sources cheap. Variable-frame-rate sources are counted frame by frame from the start instead.
    """
    from .probe import probe

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    for name, value in (("start", start), ("end", end), ("start_frame", start_frame), ("end_frame", end_frame)):
        if value is not None and (isinstance(value, bool) or not math.isfinite(value)):
            raise MediaError(src, f"cannot cut: {name} = {value!r} is not a finite number")
    info = probe(src)
    fps, n = info.fps, info.num_frames
    if start_frame is None and end_frame is None:
        a, b = frames_in_span(start, end, fps, n) if (start is not None or end is not None) else (0, n)
    else:
        a = 0 if start_frame is None else int(start_frame)
        b = n if end_frame is None else int(end_frame)
    if not 0 <= a < b:
        raise MediaError(src, f"cannot cut frames [{a}, {b}): empty or negative span")
    t0 = stream_start(src)
    args: list[str] = []
    if info.variable_frame_rate:
        args += ["-i", str(src)]
        filters = [f"trim=start_frame={a}:end_frame={b}", "setpts=PTS-STARTPTS"]
    else:
        seek = t0 + a / fps - 3.0
        args += ["-copyts", *(["-ss", f"{seek:.6f}"] if seek > 0 else []), "-i", str(src)]
        filters = [f"trim=start={t0 + (a - 0.5) / fps:.6f}:end={t0 + (b - 0.5) / fps:.6f}", "setpts=PTS-STARTPTS"]
    if crop is not None:
        x, y, w, h = (int(round(v)) for v in crop)
        filters.append(f"crop={w}:{h}:{x}:{y}")
    if size is not None:
        sw, sh = (size, size) if isinstance(size, int) else size
        filters.append(f"scale={sw}:{sh}")
    args += ["-map", "0:v:0", "-vf", ",".join(filters), "-fps_mode", "passthrough", "-frames:v", str(b - a)]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if gop:
        args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if keep_audio and info.has_audio:
        ta, tb = (t0 + a / fps, t0 + b / fps) if not info.variable_frame_rate else (a / fps, b / fps)
        args += ["-map", "0:a:0", "-af", f"atrim=start={ta:.6f}:end={tb:.6f},asetpts=PTS-STARTPTS",
                 "-c:a", "aac", "-b:a", "128k"]  # fmt: skip
    else:
        args += ["-an"]
    args += ["-movflags", "+faststart", str(dst)]
    run_ffmpeg(args, src)
    return dst
