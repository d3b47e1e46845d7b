"""What-if thresholds: how many clips and seconds each threshold would keep across its range.

Every count comes from `curation.decisions.decide` run on the cached measurements (the leaf rows of
`decisions.parquet` hold every measured value), with one threshold changed: the same rules `facevid
curate` applies, so a what-if row is what a re-run at that value would keep. Nothing is decoded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..curation.decisions import STAGES, Thresholds, decide, sync_near_score

Row = dict[str, Any]


def _short_side(r: Row, t: Thresholds) -> float | None:
    w, h = r.get("width"), r.get("height")
    return None if w is None or h is None else float(min(w, h))


def _face_fraction(r: Row, t: Thresholds) -> float | None:
    size, short = r.get("face_size"), _short_side(r, t)
    return None if size is None or not short else float(size) / short


def _abs_offset(r: Row, t: Thresholds) -> float | None:
    off = r.get("sync_offset")
    return None if off is None else float(abs(off))


def _near_score(r: Row, t: Thresholds) -> float | None:
    if r.get("sync_confidence") is None:
        return None
    v = sync_near_score(r, t)
    return v if math.isfinite(v) else None


def _field(name: str) -> Callable[[Row, Thresholds], float | None]:
    def get(r: Row, t: Thresholds) -> float | None:
        v = r.get(name)
        return None if v is None else float(v)

    return get


@dataclass(frozen=True)
class Gauge:
    """A threshold, the stage that applies it, and the measured value it is compared with.

    `value` is None for thresholds with no single measured value (the sync search window, the
    face count, requiring audio): those get a what-if table but no per-clip value."""

    threshold: str
    stage: str
    label: str
    value: Callable[[Row, Thresholds], float | None] | None


#: The thresholds `decide` applies, in stage order. The pose thresholds only name a head-pose class
#: (they keep or drop nothing), so they have no what-if table.
GAUGES: tuple[Gauge, ...] = (
    Gauge("min_segment_seconds", "scene", "segment length, s", _field("duration")),
    Gauge("min_resolution", "resolution", "shorter side, px", _short_side),
    Gauge("min_detail", "resolution", "fine-detail ratio", _field("detail")),
    Gauge("face_count", "face_count", "faces (median over detections)", _field("face_count")),
    Gauge("min_face_size", "face_size", "face box side, px", _field("face_size")),
    Gauge("min_face_fraction", "face_size", "face box / shorter side", _face_fraction),
    Gauge("max_border_px", "border", "black bar, px", _field("border_px")),
    Gauge("max_subtitle_chars", "subtitles", "subtitle letters+digits", _field("subtitle_chars")),
    Gauge("max_brisque", "quality", "BRISQUE (lower is better)", _field("brisque")),
    Gauge("sync_min_confidence", "sync", "sync confidence", _field("sync_confidence")),
    Gauge("sync_max_offset", "sync", "|sync offset|, frames", _abs_offset),
    Gauge("sync_wrong_below", "sync", "best sync score near zero offset", _near_score),
    Gauge("sync_near_offset", "sync", "frames either side of zero searched", None),
    Gauge("sync_min_seconds", "sync", "segment length, s", _field("duration")),
    Gauge("require_audio", "sync", "drop clips without audio", None),
)
GAUGE_BY_NAME = {g.threshold: g for g in GAUGES}


@dataclass(frozen=True)
class WhatIfPoint:
    """Clips and seconds kept with the threshold at `value` (everything else unchanged)."""

    value: float | int | bool
    kept: int
    kept_seconds: float
    current: bool


@dataclass(frozen=True)
class NearClip:
    """A clip near a threshold: its id, measured value and current decision."""

    clip_id: str
    value: float
    decision: str
    stage: str | None


@dataclass(frozen=True)
class WhatIf:
    """One threshold's table, plus the clips nearest its current value below and above it."""

    threshold: str
    stage: str
    label: str
    current: float | int | bool
    points: list[WhatIfPoint]
    below: list[NearClip]
    above: list[NearClip]


def leaf_rows(rows: list[Row]) -> list[Row]:
    """The rows `decide` judges: clips not split, and segments (`split` parents are not judged)."""
    return [r for r in rows if r.get("decision") in ("keep", "drop")]


def redecide(row: Row, t: Thresholds) -> tuple[str, str | None, str]:
    """`decide` on a stored leaf row (an unreadable clip has no duration: 0, as `decide_clip` does)."""
    return decide({**row, "duration": row.get("duration") or 0.0}, t)


def kept_at(leaves: list[Row], t: Thresholds) -> tuple[int, float]:
    """Clips and seconds `decide` keeps at thresholds `t`."""
    n, sec = 0, 0.0
    for r in leaves:
        if redecide(r, t)[0] == "keep":
            n += 1
            sec += r.get("duration") or 0.0
    return n, sec


def candidate_values(gauge: Gauge, current: Any, values: list[float], steps: int = 21) -> list[Any]:
    """The values a table shows: the current one plus `steps` across the measured range (widened to
    hold the current value); whole numbers for integer thresholds, both settings for a switch."""
    if isinstance(current, bool):
        return [False, True]
    if gauge.threshold == "face_count":
        return sorted({1, 2, 3, int(current)})
    if gauge.threshold == "sync_near_offset":
        return sorted({*range(0, 11), int(current)})
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = min([*finite, float(current)]), max([*finite, float(current)])
    if hi == lo:
        lo, hi = lo * 0.5, (hi * 1.5) if hi else 1.0
    pad = 0.05 * (hi - lo)
    lo, hi = max(0.0, lo - pad), hi + pad
    grid = [lo + (hi - lo) * i / (steps - 1) for i in range(steps)]
    if isinstance(current, int):
        return sorted({int(round(v)) for v in grid} | {current})
    return sorted({float(f"{v:.3g}") for v in grid} | {float(current)})


def reaching(leaves: list[Row], stage: str) -> list[Row]:
    """The rows whose decision a threshold of `stage` can change: kept, or dropped at `stage` or later.
    `decide` checks the stages in `STAGES` order and reads each threshold in its own stage only, so a
    row dropped earlier stays dropped whatever the value (tests check this against every row)."""
    k = STAGES.index(stage)
    return [r for r in leaves if r["decision"] == "keep" or STAGES.index(r["stage"]) >= k]


def what_if(rows: list[Row], t: Thresholds, near: int = 3) -> list[WhatIf]:
    """A table per threshold of `GAUGES` over the leaf rows of a curation."""
    leaves = leaf_rows(rows)
    out = []
    for g in GAUGES:
        current = getattr(t, g.threshold)
        measured = [(r, g.value(r, t)) for r in leaves] if g.value else []
        measured = [(r, v) for r, v in measured if v is not None and math.isfinite(v)]
        points = []
        judged = reaching(leaves, g.stage)
        for v in candidate_values(g, current, [v for _, v in measured]):
            kept, sec = kept_at(judged, dataclasses.replace(t, **{g.threshold: v}))
            points.append(WhatIfPoint(v, kept, round(sec, 3), v == current))
        ordered = sorted(measured, key=lambda rv: rv[1])
        below = [rv for rv in ordered if rv[1] < current][-near:][::-1]
        above = [rv for rv in ordered if rv[1] >= current][:near]

        def clips(pairs: list[tuple[Row, float]]) -> list[NearClip]:
            return [NearClip(r["clip_id"], v, r["decision"], r.get("stage")) for r, v in pairs]

        out.append(WhatIf(g.threshold, g.stage, g.label, current, points, clips(below), clips(above)))
    return out
