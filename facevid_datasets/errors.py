"""Exceptions that name the file and say what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class FaceVidError(Exception):
    """Base class of this package's errors."""


class MediaError(FaceVidError):
    """A video or audio file that cannot be probed or decoded: the message names the file."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = str(path) if path is not None else "<bytes>"
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class AnnotationError(FaceVidError):
    """A malformed metadata line or record: the message names the file and the line."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class DatasetNotFound(FaceVidError):
    """Files a builder needs are missing; the message says what to do next."""


class UnsafePath(FaceVidError):
    """A path named by a release or a Hub listing that would leave the release root (absolute,
    `..`, a symlink pointing outside, a NUL byte): never read, reported instead."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path!r}: {reason}")


class CacheError(FaceVidError):
    """The cache folder cannot be written (read-only, full, or no permission); the message names it."""


class OfflineError(FaceVidError):
    """Files must be fetched from the Hub but offline mode (HF_HUB_OFFLINE) is on."""


class OutputInsideInput(FaceVidError):
    """An output folder that lies inside a release (or other input) folder: refused, nothing written."""


def refuse_output_inside(out: str | Path, inputs: list[str | Path], what: str) -> None:
    """Raise OutputInsideInput when `out` is one of `inputs` or lies inside one (symlinks resolved):
    nothing the package writes may land in a release folder, nor be read back as input later."""
    import os

    real = Path(os.path.realpath(out))
    for folder in inputs:
        root = Path(os.path.realpath(folder))
        if real == root or root in real.parents:
            raise OutputInsideInput(f"{out}: lies inside the {what} {folder}; nothing is written there. "
                                    f"Choose an output folder outside it.")  # fmt: skip
