"""A build cache, read for review: the build report of each dataset/config and its built Arrow tables.

`load_dataset(..., cache_dir=C)` leaves, per dataset and config, `C/facevid_reports/<name>/<config>/
build_report.tsv` (one line per clip not built or built with a field left empty, with the file and
line it is about) and the Arrow files under `C/<name>/<config>-<fingerprint>/<version>/<hash>/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..builders.facevid_1k import origin_from_name
from ..cache_paths import report_file, reports_root
from ..report import BuildReport

_SHARD = re.compile(r"-\d{5}-of-\d{5}$")


@dataclass(frozen=True)
class ReportLine:
    """One build report line: the clip, its status, why, and the file (and line) it is about."""

    clip_id: str
    status: str
    reason: str
    file: str
    line: int | None
    source: str


@dataclass
class BuildRun:
    """One dataset/config of a build cache: its report lines and its built tables (split -> Arrow files)."""

    dataset: str
    config: str
    report: list[ReportLine]
    arrow_files: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.dataset}/{self.config}"


def is_build_cache(path: Path) -> bool:
    return reports_root(path).is_dir()


def split_file_line(file: str) -> tuple[str, int | None]:
    """`path:12` -> (`path`, 12); a path without a line number -> (path, None)."""
    head, sep, tail = file.rpartition(":")
    if sep and tail.isdigit():
        return head, int(tail)
    return file, None


def source_of(clip_id: str) -> str:
    """The origin a clip's name shows (`facevid-1k`, `celebv`, `talkinghead-1kh`), else `unknown`."""
    return origin_from_name(clip_id) or "unknown"


def load_builds(cache: Path) -> list[BuildRun]:
    """Every dataset/config with a build report in `cache`, with the newest Arrow files built for it."""
    runs = []
    for folder in sorted(reports_root(cache).glob("*/*")):
        dataset, config = folder.parent.name, folder.name
        tsv = report_file(cache, dataset, config)
        if not tsv.is_file():
            continue
        lines = []
        for r in BuildReport(tsv).rows():
            path, line = split_file_line(r.file)
            lines.append(ReportLine(r.clip_id, r.status, r.reason, path, line, source_of(r.clip_id)))
        runs.append(BuildRun(dataset, config, lines, _arrow_files(cache, dataset, config)))
    return runs


def _arrow_files(cache: Path, dataset: str, config: str) -> dict[str, list[Path]]:
    infos = [p for d in (cache / dataset).glob("*") if d.name == config or d.name.startswith(config + "-")
             for p in d.glob("*/*/dataset_info.json")]  # fmt: skip
    if not infos:
        return {}
    newest = max(infos, key=lambda p: p.stat().st_mtime).parent
    out: dict[str, list[Path]] = {}
    prefix = f"{dataset}-"
    for f in sorted(newest.glob("*.arrow")):
        stem = _SHARD.sub("", f.stem)
        split = stem[len(prefix):] if stem.startswith(prefix) else stem
        out.setdefault(split, []).append(f)
    return out


def load_tables(run: BuildRun) -> Any:
    """The built splits as a `datasets.DatasetDict` (memory-mapped Arrow files), or None when none."""
    import datasets

    if not run.arrow_files:
        return None
    parts = {}
    for split, files in run.arrow_files.items():
        shards = [datasets.Dataset.from_file(str(f)) for f in files]
        parts[split] = shards[0] if len(shards) == 1 else datasets.concatenate_datasets(shards)
    return datasets.DatasetDict(parts)


def video_paths(ds: Any) -> list[str]:
    """Video paths the built records name (to find the release root the report's paths are under)."""
    out = []
    for split in ds.values():
        col = split.select_columns(["video"]).with_format("arrow")[:]
        for v in col.column("video").combine_chunks().field("path").to_pylist():
            if v:
                out.append(v)
    return out
