"""Several windows per visit to a file, placed so that every second of a clip stays equally likely.

A random window of a long-GOP file (x264's default keyframe interval is 250 frames) costs every
frame from the keyframe before it. The k windows of one visit, decoded in one forward pass
(`DecodeOptions(one_pass=True)`: the collator decodes windows of one file in a batch as the sorted
union of their frames), pay that run-up once. How much they share depends on where they lie:

- "independent": k uniform starts; on clips longer than a GOP they rarely share a run-up;
- "consecutive": window j starts at (a + j * span) mod P, with a uniform over the P start
  positions: the windows tile one stretch of the clip (two stretches where it wraps past the end)
  and share one run-up, and each start is still uniform over the P positions, because adding a
  constant modulo P maps the uniform distribution onto itself.

Diversity cost: a visit puts k windows of one clip in one batch ("consecutive" makes them
adjacent stretches). `windows_per_visit` (k) is the knob; k = 1 is plain random access.
Measured by `benchmarks/bench_loader.py` (2 workers, k = 4, batches of 8, 20-24 s x264 files):
"consecutive" loads 2.1x as many clips per second as one window per visit at 512 px and 1080p,
"independent" 1.2-1.4x.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from .plan import ClipDataset, ClipPlan, make_plan
from .plan import visit_starts as consecutive_starts

Layout = Literal["consecutive", "independent"]


def visit_starts(positions: int, k: int, span: int, rng: np.random.Generator,
                 layout: Layout = "consecutive") -> np.ndarray:
    """First frames of the k windows of one visit, each uniform over range(positions)."""
    if layout == "independent":
        if positions < 1 or k < 1:
            raise ValueError(f"positions ({positions}) and k ({k}) must be >= 1")
        return rng.integers(0, positions, k)
    if layout != "consecutive":
        raise ValueError(f"layout={layout!r}: use 'consecutive' or 'independent'")
    return consecutive_starts(positions, k, span, rng)


def visit_plans(clips: ClipDataset, item: int, k: int, rng: np.random.Generator,
                layout: Layout = "consecutive") -> list[ClipPlan]:
    """The k window plans of one visit to item `item` of `clips` (its spec: frames, stride, fps, short)."""
    rec = clips.records.get(int(clips.rows[item]))
    fps, n = float(rec.get("fps") or 0.0), int(rec.get("num_frames") or 0)
    if not (fps and n):
        raise ValueError(f"record {rec.get('clip_id')!r} lacks fps/num_frames: a visit needs them")
    span = clips.spec.frames_needed(fps)
    starts = visit_starts(max(1, n - span + 1), k, span, rng, layout)
    return [make_plan(rec, replace(clips.spec, start=int(s) / fps), rng, row=item) for s in starts]
