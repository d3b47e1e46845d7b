"""Finding and running the FFmpeg command-line tools, with errors that name the file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import MediaError


def binary(name: str) -> str:
    """Path of `ffmpeg` or `ffprobe`, or a MediaError telling the user how to install FFmpeg."""
    exe = shutil.which(name)
    if exe is None:
        raise MediaError(None, f"{name} not found: install FFmpeg (e.g. `apt-get install ffmpeg`)")
    return exe


def run(name: str, args: list[str], path_for_errors: str | Path, what: str, timeout: float) -> str:
    """Run tool `name` with `args`; return stdout, or raise MediaError("<path>: <what> (<last error line>)")."""
    try:
        proc = subprocess.run([binary(name), *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise MediaError(path_for_errors, f"{name} timed out after {timeout} s") from e
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise MediaError(path_for_errors, f"{what} ({lines[-1] if lines else f'{name} exit {proc.returncode}'})")
    return proc.stdout
