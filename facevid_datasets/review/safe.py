"""What the page may say about files: paths relative to the run, never a token.

A decisions row or a build report names files by absolute path, and a reason may quote one (an
unreadable clip's error). The page shows them relative to the run's root (the folder the inputs
share); anything else that still looks like an absolute path is cut to its file name, and anything
that looks like a Hugging Face token or a credential is replaced."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{16,}\b|(?i:\b(token|password|authorization|api[_-]?key)\s*[=:]\s*)\S+")
_ABS_PATH = re.compile(r"(?<![\w.~:/-])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"<>|]+[/\\])+([^\s/\\:'\"<>|]+)")


class Scrubber:
    """Makes text safe for the page: `root`-relative paths, other absolute paths cut to a file name,
    tokens replaced by `[redacted]`."""

    def __init__(self, paths: Iterable[str]):
        dirs = [os.path.dirname(os.path.abspath(p)) for p in paths if p]
        try:
            self.root = os.path.commonpath(dirs) if dirs else None
        except ValueError:  # paths on different drives
            self.root = None
        if self.root == os.path.sep:
            self.root = None

    def path(self, p: str | None) -> str:
        """`p` relative to the root (its file name when it lies elsewhere)."""
        if not p:
            return ""
        a = os.path.abspath(p)
        if self.root and (a == self.root or a.startswith(self.root + os.sep)):
            return os.path.relpath(a, self.root)
        return os.path.basename(a)

    def text(self, s: str) -> str:
        if self.root:
            s = s.replace(self.root + os.sep, "")
        s = _TOKEN.sub(lambda m: (m.group(1) + "=" if m.group(1) else "") + "[redacted]", s)
        return _ABS_PATH.sub(lambda m: m.group(1), s)

    def tree(self, obj: Any) -> Any:
        """`text` applied to every string inside lists and dicts."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self.tree(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.tree(v) for v in obj]
        return obj
