"""Build and curation reports: one line per clip that could not be made or was dropped, with why.

A line is `clip_id  status  reason  file` (TSV). `file` names the file (and `:line` for a metadata
row) the reason is about. Statuses: `missing` (listed, no file), `error` (file unreadable or a
row unusable), `bad-metadata` (a malformed metadata row, no clip id known), `unsafe-path` (a path
or symlink leaving the release root, never read), `skipped` (a file not taken: duplicate id, name
not UTF-8, broken symlink), and `partial`: the clip *was* built, with the field the reason names
left empty (or, for an official box a little outside the frame, clamped to it).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

REPORT_COLUMNS = ("clip_id", "status", "reason", "file")


@dataclass(frozen=True)
class ReportRow:
    clip_id: str
    status: str  # "missing", "error", "bad-metadata", "unsafe-path", "skipped", "partial", "dropped"
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
        line = "\t".join(str(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")
                         for v in (clip_id, status, reason, file))  # fmt: skip
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8", "backslashreplace"))
        finally:
            os.close(fd)

    def rows(self) -> list[ReportRow]:
        if not self.path.exists():
            return []
        with self.path.open(newline="", encoding="utf-8", errors="backslashreplace") as f:
            reader = csv.reader(f, delimiter="\t")
            next(reader, None)
            return [ReportRow(*r) for r in reader if len(r) == len(REPORT_COLUMNS)]

    def summary(self) -> str:
        rows = self.rows()
        partial = sum(r.status == "partial" for r in rows)
        dropped = [r for r in rows if r.status != "partial"]
        if not rows:
            return "every listed clip was built"
        counts: dict[str, int] = {}
        for r in dropped:
            counts[r.status] = counts.get(r.status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        text = f"{len(dropped)} clips not built ({parts})" if dropped else "every listed clip was built"
        if partial:
            text += f", {partial} built with a field left empty"
        return f"{text}; one line each in {self.path}"
