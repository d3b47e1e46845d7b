"""The file state of a release: what the build cache key covers, so the cache follows the files.

A build's Arrow cache is keyed by the builder config *and* a fingerprint of the files the build
reads (relative path, size and mtime of every file under `data_dir` and `videos_dir`; hidden
names skipped). Add, delete or replace a file and the next load builds the new state into a new
cache folder (probe results are reused: they are keyed by file version), and says what changed.
The last state built is kept per config so the message can count added, removed and changed files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FileState:
    """Fingerprint of a set of folders: `digest` plus one (path, version) hash pair per file."""

    digest: str
    paths: np.ndarray  # uint64 hash of each file's path
    versions: np.ndarray  # uint64 hash of (path, size, mtime) of each file

    def changes(self, older: FileState) -> tuple[int, int, int]:
        """(added, removed, changed) files relative to `older`."""
        added = int((~np.isin(self.paths, older.paths)).sum())
        removed = int((~np.isin(older.paths, self.paths)).sum())
        both = np.isin(self.versions, older.versions)
        changed = int((~both).sum()) - added
        return added, removed, max(0, changed)

    def save(self, path: Path) -> None:
        """Write the state next to the cache (atomically: a kill leaves the previous state)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, digest=np.array(self.digest), paths=self.paths, versions=self.versions)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FileState | None:
        """A saved state, or None when there is none (or it is unreadable)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(str(z["digest"]), z["paths"], z["versions"])
        except (OSError, ValueError, KeyError):
            return None


def _h64(text: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def file_state(roots: list[Path]) -> FileState:
    """Fingerprint of every file under `roots` (symlinks followed once, loops cut)."""
    items: list[bytes] = []
    seen: set[tuple[int, int]] = set()
    for r, root in enumerate(roots):
        stack = [(f"{r}:", str(root))]
        while stack:
            prefix, d = stack.pop()
            try:
                st = os.stat(d)
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                if e.name.startswith("."):
                    continue
                try:
                    if e.is_dir():
                        stack.append((f"{prefix}{e.name}/", e.path))
                        continue
                    st = e.stat()
                except OSError:
                    continue
                name = f"{prefix}{e.name}".encode("utf-8", "surrogateescape")
                items.append(name + b"\0" + f"{st.st_size}\0{st.st_mtime_ns}".encode())
    items.sort()
    h = hashlib.blake2b(digest_size=16)
    paths = np.empty(len(items), dtype=np.uint64)
    versions = np.empty(len(items), dtype=np.uint64)
    for i, item in enumerate(items):
        h.update(item + b"\n")
        paths[i] = _h64(item.split(b"\0", 1)[0])
        versions[i] = _h64(item)
    return FileState(h.hexdigest(), paths, versions)
