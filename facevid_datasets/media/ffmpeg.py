"""FFmpeg command-line helpers: encode frames, cut and crop clips. Written once, used by builders."""

from __future__ import annotations

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


def cut_clip(
    src: str | Path,
    dst: str | Path,
    *,
    start: float | None = None,
    end: float | None = None,
    crop: tuple[int, int, int, int] | None = None,
    size: int | tuple[int, int] | None = None,
    keep_audio: bool = True,
    crf: int = 18,
    gop: int | None = None,
) -> Path:
    """Cut [start, end) of `src` (seconds), crop (x, y, w, h) in source pixels, resize, re-encode.

    Re-encoding (not stream copy) makes cut points frame-exact, as the official scripts do.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    if start is not None:
        args += ["-ss", f"{start:.3f}"]
    if end is not None:
        args += ["-to", f"{end:.3f}"]
    args += ["-i", str(src)]
    filters = []
    if crop is not None:
        x, y, w, h = (int(round(v)) for v in crop)
        filters.append(f"crop={w}:{h}:{x}:{y}")
    if size is not None:
        sw, sh = (size, size) if isinstance(size, int) else size
        filters.append(f"scale={sw}:{sh}")
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if gop:
        args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    args += ["-c:a", "aac", "-b:a", "128k"] if keep_audio else ["-an"]
    args += ["-movflags", "+faststart", str(dst)]
    run_ffmpeg(args, src)
    return dst
