"""`probe()` results kept on disk, keyed by (path, size, mtime): a rebuild, or many clips sharing
one file, probe each file version once. Failures are cached too, so a broken file is probed once.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from ..errors import MediaError
from ..licence.ledger import CopyKind, record_copy
from .probe import VideoInfo

# The module, not the `probe` function `media/__init__` exports under the same name (tests patch it).
probe_mod = importlib.import_module(".probe", __package__)

#: Inserts kept in one sqlite transaction; a killed build loses at most this many probes.
COMMIT_EVERY = 256


class ProbeCache:
    """`probe()` results kept in memory and in a small sqlite file, keyed by (path, size, mtime).

    Safe to share between the processes of a parallel build (sqlite's own locking); a kill loses
    at most the last `COMMIT_EVERY` results, never the file.
    """

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._mem: dict[tuple[str, int, int], VideoInfo | str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending = 0
        self.probes = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS probe (path TEXT, size INTEGER, mtime_ns INTEGER, info TEXT,"
                " PRIMARY KEY (path, size, mtime_ns))"
            )
            self._db.commit()

    def lookup(self, key: tuple[str, int, int]) -> VideoInfo | str | None:
        """The cached probe (or failure reason) of file version `key` = (path, size, mtime_ns), else None."""
        hit = self._mem.get(key)
        if hit is None and self._db is not None:
            with self._lock:
                row = self._db.execute("SELECT info FROM probe WHERE path=? AND size=? AND mtime_ns=?", key).fetchone()
            if row is not None:
                data = json.loads(row[0])
                hit = data["error"] if "error" in data else VideoInfo(**data)
                self._mem[key] = hit
        return hit

    def get(self, path: str | Path) -> VideoInfo:
        """The probe of `path`, computed once per file version; raises MediaError as `probe` does."""
        p = str(path)
        try:
            st = os.stat(p)
        except OSError:
            raise MediaError(p, "file not found") from None
        key = (p, st.st_size, st.st_mtime_ns)
        hit = self.lookup(key)
        if hit is None:
            self.probes += 1
            try:
                hit = probe_mod.probe(p)
            except MediaError as e:
                hit = e.reason
            self.put(key, hit)
        if isinstance(hit, str):
            raise MediaError(p, hit)
        return hit

    def put(self, key: tuple[str, int, int], hit: VideoInfo | str) -> None:
        """Remember a probe result (or a failure reason) for the file version `key`."""
        self._mem[key] = hit
        if self._db is None:
            return
        text = json.dumps({"error": hit} if isinstance(hit, str) else hit.to_dict())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO probe VALUES (?, ?, ?, ?)", (*key, text))
            self._pending += 1
            if self._pending >= COMMIT_EVERY:
                self._db.commit()
                self._pending = 0

    def close(self) -> None:
        """Write pending results and close the file."""
        if self._db is not None:
            with self._lock:
                self._db.commit()
                self._db.close()
                self._db = None
            record_copy(CopyKind.PROBE_CACHE, self.path, sorted({Path(k[0]).stem for k in self._mem}),
                        cache_dir=self.path.parent)  # fmt: skip

    def __enter__(self) -> ProbeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
