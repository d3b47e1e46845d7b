"""`write_review`: read a curated folder or a build cache and write the review page beside its images.

A curated folder (`facevid curate --out`) gives one card per decisions row (every input clip, and
every segment of a split clip), a strip of what was measured, the value each threshold was compared
with, and a what-if table per threshold. A build cache (`cache_dir` of `load_dataset`) gives every
build report line, the clips and hours per source, and the `facevid stats` plots of what was built.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..builders.facevid_1k import origin_from_name
from ..curation.decisions import STAGES, Thresholds
from ..errors import FaceVidError
from .build import BuildRun, is_build_cache, load_builds, load_tables, video_paths
from .page import render_page
from .safe import Scrubber
from .strips import StripJob, draw_strip, draw_sync_curve, strip_frames, strip_name
from .whatif import GAUGES, WhatIf, what_if


class RunKind(StrEnum):
    CURATION = "curation"
    BUILD = "build"


class ReviewError(FaceVidError):
    """The folder to review is not a curated folder or a build cache, or the output is unusable."""


@dataclass
class ReviewResult:
    """What `write_review` wrote: the page, how many clips or report lines it lists, images drawn."""

    kind: RunKind
    page: Path
    clips: int
    report_lines: int
    images_written: int
    images_reused: int
    thresholds: dict[str, Any] = field(default_factory=dict)


def run_kind(path: Path) -> RunKind:
    """Which kind of run `path` holds (a ReviewError naming the folder when neither)."""
    if (path / "decisions.parquet").is_file():
        return RunKind.CURATION
    if is_build_cache(path):
        return RunKind.BUILD
    if not path.exists():
        raise ReviewError(f"{path}: no such folder")
    raise ReviewError(f"{path}: neither a curated folder (no decisions.parquet) nor a build cache "
                      "(no facevid_reports/)")


def write_review(
    src: str | Path, out: str | Path, *, workers: int | None = None, progress: bool = True
) -> ReviewResult:
    """Write `out/index.html` and its images for the curated folder or build cache `src`."""
    src, out = Path(src).resolve(), Path(out).resolve()
    kind = run_kind(src)
    if out == src or src.is_relative_to(out):
        raise ReviewError(f"{out}: the review must go to its own folder, not into or above the run it reviews")
    (out / "img").mkdir(parents=True, exist_ok=True)
    if kind is RunKind.CURATION:
        return _review_curation(src, out, workers, progress)
    return _review_builds(src, out)


# -- curation --------------------------------------------------------------------------------------------


def _thresholds(summary: dict[str, Any]) -> Thresholds:
    known = {f.name for f in dataclasses.fields(Thresholds)}
    return Thresholds(**{k: v for k, v in (summary.get("thresholds") or {}).items() if k in known})


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else float(f"{v:.4g}")
    return v


def _review_curation(src: Path, out: Path, workers: int | None, progress: bool) -> ReviewResult:
    from tqdm.auto import tqdm

    from ..curation.measurements import decode_payload
    from ..curation.pipeline import read_decisions

    rows = read_decisions(src)
    summary = json.loads((src / "summary.json").read_text()) if (src / "summary.json").is_file() else {}
    t = _thresholds(summary)
    config = summary.get("measure_config") or {}
    scrub = Scrubber([r.get("path") or "" for r in rows])
    cuts: dict[str, list[int]] = {}
    for r in rows:
        if r.get("decision") == "split" and r.get("measurement") and (src / r["measurement"]).is_file():
            meta, _ = decode_payload(src / r["measurement"])
            cuts[r["clip_id"]] = list(meta["clip"].get("cut_frames") or [])
    img = out / "img"
    jobs = []
    for r in rows:
        frames, shown_cuts = strip_frames(r, cuts.get(r["clip_id"], []))
        if not frames or not r.get("path"):
            continue
        meas = src / r["measurement"] if r.get("measurement") else None
        jobs.append(StripJob(r["clip_id"], r["path"], frames, shown_cuts, r.get("face_size"), meas,
                             float(config.get("border_luma", 24.0)), float(config.get("subtitle_region", 0.4)),
                             strip_name(r["clip_id"], r.get("measurement"))))  # fmt: skip
    before = {p.name for p in img.iterdir()}
    strips: dict[str, str | None] = {}
    with cf.ThreadPoolExecutor(max_workers=max(1, workers or min(4, os.cpu_count() or 1))) as pool:
        bar = tqdm(total=len(jobs), desc="thumbnails", unit="clip", disable=not progress)
        for job, name in zip(jobs, pool.map(lambda j: draw_strip(j, img), jobs), strict=True):
            strips[job.clip_id] = name
            bar.update(1)
        bar.close()
    curves: dict[str, str] = {}
    for r in rows:
        if r.get("sync_curve"):
            base = strip_name(r["clip_id"], r.get("measurement"))
            curves[r["clip_id"]] = draw_sync_curve(base, list(r["sync_curve"]), r.get("sync_offset"), t, img)
    written = len({p.name for p in img.iterdir()} - before)
    tables = what_if(rows, t)
    by_name = all(origin_from_name(r.get("parent_id") or r["clip_id"]) for r in rows)
    clips = [_clip_view(r, t, scrub, strips.get(r["clip_id"]), curves.get(r["clip_id"]), by_name) for r in rows]
    leaves = [c for c in clips if c["decision"] in ("keep", "drop")]
    data = {
        "kind": RunKind.CURATION.value,
        "title": src.name,
        "stages": list(STAGES),
        "gauges": [{"name": g.threshold, "stage": g.stage, "label": g.label, "current": getattr(t, g.threshold)}
                   for g in GAUGES if g.value is not None],  # fmt: skip
        "clips": clips,
        "totals": {
            "inputs": sum(c["kind"] == "clip" for c in clips),
            "split": sum(c["decision"] == "split" for c in clips),
            "kept": sum(c["decision"] == "keep" for c in leaves),
            "dropped": sum(c["decision"] == "drop" for c in leaves),
            "kept_seconds": round(sum(c["duration"] or 0.0 for c in leaves if c["decision"] == "keep"), 3),
            "seconds": round(sum(c["duration"] or 0.0 for c in leaves), 3),
        },
        "whatif": [_whatif_json(w) for w in tables],
    }
    page = out / "index.html"
    _write(page, render_page(scrub.tree(data)))
    return ReviewResult(RunKind.CURATION, page, len(clips), 0, written, len(jobs) + len(curves) - written,
                        dataclasses.asdict(t))  # fmt: skip


def _clip_view(
    r: dict[str, Any], t: Thresholds, scrub: Scrubber, strip: str | None, curve: str | None, by_name: bool
) -> dict:
    """One card's data: the row's decision and reason, its measured values per threshold, its images.
    Its source is the origin its name shows when `by_name` (every clip of the run has a DH-FaceVid-1K
    style name: `clean_0` would pass for a CelebV name), else the folder its video is in."""
    values = {}
    for g in GAUGES:
        if g.value is None or r.get("decision") == "split" or r.get("error"):
            continue
        v = g.value(r, t)
        if v is not None and math.isfinite(v):
            values[g.threshold] = _round(v)
    clip_id = r["clip_id"]
    source = origin_from_name(r.get("parent_id") or clip_id) if by_name else None
    if source is None and r.get("path"):
        source = os.path.basename(os.path.dirname(os.path.abspath(r["path"])))
    return {
        "id": clip_id,
        "kind": r.get("kind"),
        "parent": r.get("parent_id"),
        "decision": r.get("decision"),
        "stage": r.get("stage"),
        "reason": r.get("reason") or "",
        "source": source or "unknown",
        "video": scrub.path(r.get("path")),
        "frames": [r.get("start_frame"), r.get("end_frame")],
        "duration": _round(r.get("duration")),
        "size": f"{r['width']}x{r['height']}" if r.get("width") else "",
        "values": values,
        "subtitle_text": r.get("subtitle_text") or "",
        "sync": r.get("sync_status"),
        "pose": r.get("head_pose"),
        "strip": f"img/{strip}" if strip else None,
        "curve": f"img/{curve}" if curve else None,
    }


def _whatif_json(w: WhatIf) -> dict[str, Any]:
    return {
        "threshold": w.threshold,
        "stage": w.stage,
        "label": w.label,
        "current": w.current,
        "points": [{"value": _round(p.value), "kept": p.kept, "seconds": p.kept_seconds, "current": p.current}
                   for p in w.points],  # fmt: skip
        "below": [dataclasses.asdict(c) | {"value": _round(c.value)} for c in w.below],
        "above": [dataclasses.asdict(c) | {"value": _round(c.value)} for c in w.above],
    }


# -- build cache ---------------------------------------------------------------------------------------------


def _review_builds(src: Path, out: Path) -> ReviewResult:
    from ..stats import compute_stats, write_plots

    runs = load_builds(src)
    builds = []
    paths: list[str] = []
    stats: dict[str, dict[str, Any]] = {}
    for run in runs:
        paths += [ln.file for ln in run.report if ln.file]
        ds = load_tables(run)
        if ds is not None and sum(len(s) for s in ds.values()):
            paths += video_paths(ds)
            stats[run.title] = compute_stats(ds)
    scrub = Scrubber(paths)
    images = 0
    for run in runs:
        summary = stats.get(run.title)
        plots: list[str] = []
        if summary is not None:
            folder = out / "img" / f"stats_{run.dataset}_{run.config}"
            plots = [str(p.relative_to(out)) for p in write_plots(summary, folder, title=run.title)]
            images += len(plots)
        builds.append(_build_json(run, summary, plots, scrub))
    data = {"kind": RunKind.BUILD.value, "title": src.name, "builds": builds}
    page = out / "index.html"
    _write(page, render_page(scrub.tree(data)))
    return ReviewResult(RunKind.BUILD, page, sum(b["clips"] for b in builds), sum(len(r.report) for r in runs),
                        images, 0)  # fmt: skip


def _build_json(run: BuildRun, summary: dict[str, Any] | None, plots: list[str], scrub: Scrubber) -> dict[str, Any]:
    """A build's report lines (file relative to the release), per-source counts and hours, plots."""
    sources: dict[str, dict[str, Any]] = {}
    if summary is not None:
        hours = summary["hours_by"]["source"]
        for name, n in summary["source"].items():
            sources[name] = {"clips": n, "hours": round(hours.get(name, 0.0), 4), "report": {}}
    for ln in run.report:
        s = sources.setdefault(ln.source, {"clips": 0, "hours": 0.0, "report": {}})
        s["report"][ln.status] = s["report"].get(ln.status, 0) + 1
    statuses: dict[str, int] = {}
    for ln in run.report:
        statuses[ln.status] = statuses.get(ln.status, 0) + 1
    return {
        "title": run.title,
        "clips": summary["clips"] if summary else 0,
        "hours": round(summary["hours"], 4) if summary else 0.0,
        "clips_per_split": summary["clips_per_split"] if summary else {},
        "statuses": statuses,
        "report": [{"clip_id": ln.clip_id, "status": ln.status, "reason": ln.reason, "file": scrub.path(ln.file),
                    "line": ln.line, "source": ln.source} for ln in run.report],  # fmt: skip
        "sources": sources,
        "plots": plots,
    }


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".part.html")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
