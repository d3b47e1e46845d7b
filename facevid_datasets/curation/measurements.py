"""The measurement cache: a clip's measurement as bytes (an `.npz` of a JSON summary and the per-frame
arrays, read back with pickles refused) and the `measurements/` folder that keeps one file per clip."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def encode_payload(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """A measurement as compressed npz bytes: `meta` as JSON plus named arrays."""
    return encode_timed(arrays, lambda: meta)


def encode_timed(arrays: dict[str, np.ndarray], meta: Callable[[], dict[str, Any]]) -> bytes:
    """npz bytes of `arrays`, then of `meta()` (called once the arrays are written, so it can time
    them). Deflate level 1, not `np.savez_compressed`'s 6: 3x faster on landmark arrays (a tenth of
    a 256 px clip's measuring time) for files 4% larger; `np.load` reads both."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, arr in arrays.items():
            _write_npy(z, name, arr)
        _write_npy(z, "meta", np.frombuffer(json.dumps(meta()).encode(), dtype=np.uint8))
    return buf.getvalue()


def _write_npy(z: zipfile.ZipFile, name: str, arr: np.ndarray) -> None:
    with z.open(f"{name}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


def decode_payload(data: bytes | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of `encode_payload`; accepts the bytes or a cache file."""
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    with np.load(src) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


class MeasurementStore:
    """The `measurements/` cache: one `<key>.npz` per clip, written atomically (a killed run
    leaves complete entries or none), so a re-run measures only what is missing."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def save(self, key: str, payload: bytes) -> None:
        tmp = self.root / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(payload)
        os.replace(tmp, self.path(key))

    def load(self, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return decode_payload(self.path(key))
