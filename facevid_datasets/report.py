"""Build and curation reports: one line per clip that could not be made or was dropped, with why."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

REPORT_COLUMNS = ("clip_id", "status", "reason", "file")


@dataclass(frozen=True)
class ReportRow:
    clip_id: str
    status: str  # "missing", "error", "dropped", ...
    reason: str
    file: str = ""


class BuildReport:
    """Appends TSV rows (safe across processes: one small write per row) and counts them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        self.path.write_text("\t".join(REPORT_COLUMNS) + "\n")

    def add(self, clip_id: str, status: str, reason: str, file: str | Path = "") -> None:
        line = "\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in (clip_id, status, reason, file))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def rows(self) -> list[ReportRow]:
        if not self.path.exists():
            return []
        with self.path.open(newline="") as f:
            reader = csv.reader(f, delimiter="\t")
            next(reader, None)
            return [ReportRow(*r) for r in reader if len(r) == len(REPORT_COLUMNS)]

    def summary(self) -> str:
        rows = self.rows()
        if not rows:
            return "every listed clip was built"
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"{len(rows)} clips not built ({parts}); one line each in {self.path}"
