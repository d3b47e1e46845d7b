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
