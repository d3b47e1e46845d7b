"""Build and curation reports: one line per clip that could not be made or was dropped, with why.

A line is `clip_id  status  reason  file` (TSV), read back as a typed `ReportRow`. `file` names
the file (and `:line` for a metadata row) the reason is about. The statuses are `Status`:
`missing` (listed, no file), `error` (file unreadable or a row unusable), `bad-metadata` (a
malformed metadata row), `unsafe-path` (a path or symlink leaving the release root, never read),
`skipped` (a file not taken: duplicate id, name not UTF-8, broken symlink), `withheld` (named by a
deletion request), `dropped` (left out by the cleaning pipeline), and `partial`: the clip *was*
built, with the field the reason names left empty (or, for an official box a little outside the
frame, clamped to it).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

REPORT_COLUMNS = ("clip_id", "status", "reason", "file")


class Status(StrEnum):
    """Why a report row is there (its value is what the TSV holds)."""

    MISSING = "missing"
    ERROR = "error"
    BAD_METADATA = "bad-metadata"
    UNSAFE_PATH = "unsafe-path"
    SKIPPED = "skipped"
    PARTIAL = "partial"
    WITHHELD = "withheld"
    DROPPED = "dropped"

    @property
    def built(self) -> bool:
        """Whether a clip with this status was built anyway (only `partial`)."""
        return self is Status.PARTIAL


@dataclass(frozen=True)
class ReportRow:
    """One report line: a clip (or a file or metadata line, `clip_id` empty when none is known) and why.

    Builders, the release index and cutting all make these; `status` accepts its text value too."""

    clip_id: str
    status: Status
    reason: str
    file: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "file", str(self.file))

    @classmethod
    def from_error(cls, clip_id: str, err: object) -> ReportRow:
        """A `bad-metadata` row from an AnnotationError (its path, line and reason)."""
        path, line, reason = getattr(err, "path", ""), getattr(err, "line", None), getattr(err, "reason", str(err))
        return cls(clip_id, Status.BAD_METADATA, reason, f"{path}:{line}" if line is not None else str(path))


class BuildReport:
    """Appends TSV rows (safe across processes: one small write per row) and reads them back typed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        self.path.write_text("\t".join(REPORT_COLUMNS) + "\n")

    def add(self, clip_id: str, status: Status | str, reason: str, file: str | Path = "") -> None:
        """Append one row (`status` checked against `Status`)."""
        self.add_row(ReportRow(clip_id, Status(status), reason, str(file)))

    def add_row(self, row: ReportRow) -> None:
        """Append `row`."""
        line = "\t".join(str(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")
                         for v in (row.clip_id, row.status.value, row.reason, row.file))  # fmt: skip
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8", "backslashreplace"))
        finally:
            os.close(fd)

    def rows(self) -> list[ReportRow]:
        """Every row; a line whose status this version does not know is skipped."""
        if not self.path.exists():
            return []
        with self.path.open(newline="", encoding="utf-8", errors="backslashreplace") as f:
            reader = csv.reader(f, delimiter="\t")
            next(reader, None)
            known = {s.value for s in Status}
            return [ReportRow(*r) for r in reader if len(r) == len(REPORT_COLUMNS) and r[1] in known]

    def summary(self) -> str:
        rows = self.rows()
        partial = sum(r.status.built for r in rows)
        dropped = [r for r in rows if not r.status.built]
        if not rows:
            return "every listed clip was built"
        counts: dict[str, int] = {}
        for r in dropped:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        text = f"{len(dropped)} clips not built ({parts})" if dropped else "every listed clip was built"
        if partial:
            text += f", {partial} built with a field left empty"
        return f"{text}; one line each in {self.path}"
