"""NVDEC (and SM) utilisation from `nvidia-smi dmon -s u`, parsed by the column names of its header.

dmon prints a header line naming the columns (`# gpu sm mem enc dec ...`, with `-o DT` `#Date Time gpu
...`; drivers differ in spacing, in `#gpu` against `# gpu`, and add columns such as `jpg` and `ofa`), a
units line, then one row per GPU per interval. Columns are found by name in the header, never by
position, and a row is read only when it has as many fields as the header has names.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable


def header_names(line: str) -> list[str] | None:
    """The column names of a dmon header line (None for a row, the units line, or another header)."""
    if not line.startswith("#"):
        return None
    names = line.lstrip("#").split()
    return names if "dec" in names else None


def parse_dmon(lines: Iterable[str], columns: tuple[str, ...] = ("dec",)) -> dict[str, list[float]]:
    """Per column, the numeric values of every row ('-' and other non-numbers skipped)."""
    out: dict[str, list[float]] = {c: [] for c in columns}
    names: list[str] | None = None
    for line in lines:
        found = header_names(line)
        if found is not None:
            names = found
            continue
        if line.startswith("#") or names is None:
            continue
        parts = line.split()
        if len(parts) != len(names):
            continue
        for c in columns:
            if c in names:
                try:
                    out[c].append(float(parts[names.index(c)]))
                except ValueError:
                    pass
    return out


class DecSampler:
    """NVDEC utilisation (%) sampled from `nvidia-smi dmon -s u` once a second while a run lasts."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        try:
            self.proc = subprocess.Popen(["nvidia-smi", "dmon", "-s", "u", "-d", "1"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
        except OSError as e:
            raise SystemExit(f"nvidia-smi cannot run ({e}): NVDEC use cannot be measured") from e
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> dict[str, float]:
        """Mean and max NVDEC use over the samples, and their count (NaN when dmon gave none)."""
        self.proc.terminate()
        self.proc.wait()
        self.thread.join(timeout=5)
        dec = parse_dmon(self.lines)["dec"]
        nan = float("nan")
        return {"nvdec_mean_pct": sum(dec) / len(dec) if dec else nan, "nvdec_max_pct": max(dec) if dec else nan,
                "nvdec_samples": len(dec)}
