"""Epoch planning by delivered seconds: how many visits each clip gets, in what order, and what came out.

Pure numpy over per-row arrays, apart from any sampler, so the arithmetic of balance reads in one
place and plans an epoch over 270k rows in one to a few seconds (`benchmarks/bench_sampler.py`). Terms:

- a *visit* is one draw of a clip; it yields `windows_per_visit` windows (the sampler's items);
- a window *delivers* valid frames / output fps seconds; a whole-clip item delivers its duration;
- a clip's *weight* is the number of distinct windows it offers (its start positions), so inside a
  group every stored second is equally likely to be delivered (a long clip is not under-sampled
  against short ones, nor the other way round).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: A row's visits are kept at least this fraction of their even spacing apart (and at most `min_gap`);
#: when that cannot be met everywhere, the next (looser) fraction is tried.
GAP_FRACTIONS = (0.8, 0.6, 0.4)


def resolve_mode(mode: str | None, weights: object, table: object, allowed: tuple[str, ...]) -> str:
    """The mixing mode: `mode` when given (checked against what it needs), else what the arguments
    imply (`weights` -> "weights", `table` -> "population", neither -> "equal"), so weights are never
    silently ignored."""
    if mode is None:
        mode = "weights" if weights else "population" if table is not None else "equal"
    if mode not in allowed:
        raise ValueError(f"mode={mode!r}: use {', '.join(map(repr, allowed))}")
    if mode == "weights" and not weights:
        raise ValueError("mode='weights' needs weights={group: relative seconds}")
    if weights and mode != "weights":
        raise ValueError(f"weights= is given but mode={mode!r}: leave mode out (or mode='weights') to use them")
    if table is not None and mode != "population":
        raise ValueError(f"table= is given but mode={mode!r}: leave mode out (or mode='population') to use it")
    return mode


def target_shares(mode: str, groups: Sequence[str] | None, *, weights: Mapping[str, float] | None = None,
                  table: str | Mapping[str, float] | None = None, column: str = "") -> dict[str, float]:
    """Each group's share of the delivered seconds ({} in natural mode): the one rule both samplers
    (map-style and streamed) mix by. "equal": 1 / len(groups); "weights" / "population": the
    weights or table (a shipped name or {group: size}), restricted to `groups` when given."""
    from ..populations import DEFAULT_TABLE_FOR_COLUMN, population_shares

    if mode == "natural":
        return {}
    if mode == "weights":
        shares = population_shares(weights or {})
    elif mode == "population":
        table = table if table is not None else DEFAULT_TABLE_FOR_COLUMN.get(column)
        if table is None:
            raise ValueError(f"no shipped population table for column {column!r}: pass table={{group: size}}")
        shares = population_shares(table)
    else:
        shares = {g: 1.0 for g in (groups or [])}
    if groups is not None and mode != "equal":
        unknown = [g for g in groups if g not in shares]
        if unknown:
            raise ValueError(f"group(s) {unknown} are not in the {mode} table/weights: {sorted(shares)}")
        shares = {g: shares[g] for g in groups}
    total = sum(shares.values())
    return {g: v / total for g, v in shares.items() if v > 0} if total else {}


def systematic_counts(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Visits per row for `n` visits drawn in proportion to `weights`: every row gets the floor or the
    ceiling of its expected count (systematic sampling over a shuffled row order), so no clip is left
    out or drawn five times by chance."""
    weights = np.asarray(weights, dtype=np.float64)
    counts = np.zeros(len(weights), dtype=np.int64)
    total = float(weights.sum())
    if n <= 0 or total <= 0:
        return counts
    perm = rng.permutation(len(weights))
    edges = np.cumsum(weights[perm]) * (n / total)
    hits = np.searchsorted(edges, rng.random() + np.arange(n), side="right")
    counts[perm] = np.bincount(np.minimum(hits, len(weights) - 1), minlength=len(weights))
    return counts


def group_visits(weights: np.ndarray, delivered: np.ndarray, target_seconds: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Visits per row of one group so that it delivers `target_seconds` (`delivered`: seconds per visit
    of each row); rows are visited in proportion to `weights`."""
    weights = np.asarray(weights, dtype=np.float64)
    if target_seconds <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    per_visit = float((weights * delivered).sum() / weights.sum())
    n = max(1, int(round(target_seconds / per_visit))) if per_visit > 0 else 0
    return systematic_counts(weights, n, rng)


def gap_targets(counts: np.ndarray, total: int, min_gap: int, fraction: float = GAP_FRACTIONS[0]) -> np.ndarray:
    """Smallest distance (in visits) wanted between two visits of each row: `min_gap`, or less for a
    row visited so often that even spacing cannot give it that much."""
    with np.errstate(divide="ignore"):
        even = np.where(counts > 0, total / np.maximum(counts, 1), total)
    return np.maximum(1, np.minimum(min_gap, np.floor(fraction * even))).astype(np.int64)


def occurrence_links(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position, the position of the previous and the next visit of the same row (-1: none)."""
    n = len(order)
    by_row = np.argsort(order.astype(np.int64) * n + np.arange(n))  # by row, then position (unique keys)
    same = order[by_row[1:]] == order[by_row[:-1]]
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    prev[by_row[1:][same]] = by_row[:-1][same]
    nxt[by_row[:-1][same]] = by_row[1:][same]
    return prev, nxt


def spread_order(counts: np.ndarray, min_gap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """All visits (row ids) in epoch order, the position of each one's previous visit of the same row
    (-1: none), and how many visits still sit closer than wanted.

    Each row's c visits get the sort keys (u + j) / c for a random, stratified phase u, so they are
    evenly spread through the epoch (every group keeps its share in any stretch of it) and rows
    interleave in a random order;
    a repair pass then swaps visits forward until a row recurs no sooner than `gap_targets` allows.
    The order depends on the counts, the generator and `min_gap` only, never on the world size.
    """
    counts = np.asarray(counts, dtype=np.int64)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if not len(rows):
        return rows, rows.copy(), 0
    first = np.repeat(np.cumsum(counts) - counts, counts)
    j = np.arange(len(rows), dtype=np.int64) - first
    # stratified phases (each row its own 1/R slot, in random order): visits of all rows interleave
    # evenly, so a row's visits are about total / count apart, not that give or take Poisson noise
    phase = (rng.permutation(len(counts)) + rng.random(len(counts))) / len(counts)
    keys = (phase[rows] + j) / counts[rows]
    sort = np.argsort(keys)
    spread = rows[sort]
    # visits were generated row by row in increasing j, so a visit's neighbours in its row are its
    # neighbours in generation order: the links come from the inverse permutation, no second sort
    where = np.empty(len(rows), dtype=np.int64)
    where[sort] = np.arange(len(rows), dtype=np.int64)
    prev = np.full(len(rows), -1, dtype=np.int64)
    nxt = np.full(len(rows), -1, dtype=np.int64)
    later = np.flatnonzero(j > 0)
    prev[where[later]] = where[later - 1]
    nxt[where[later - 1]] = where[later]
    for fraction in GAP_FRACTIONS:
        order, pv, nx = spread.copy(), prev.copy(), nxt.copy()
        failed = _repair_gaps(order, pv, nx, gap_targets(counts, len(order), min_gap, fraction))
        if not failed:
            break
    return order, pv, failed


def _repair_gaps(order: np.ndarray, prev: np.ndarray, nxt: np.ndarray, gap: np.ndarray, search: int = 8) -> int:
    """Swap visits (in place, links too) so each row's visits are at least gap[row] apart; returns failures.

    Conflicts are fixed in position order: the later visit of a too-close pair moves forward, swapping
    with a visit that may move back; when the moved visit lands too close to its own next visit, that
    one becomes a conflict further on (a cascade that only moves forward)."""
    import heapq

    n = len(order)
    pos = np.arange(n)
    bad = np.flatnonzero((prev >= 0) & (pos - prev < gap[order])).tolist()
    if not bad:
        return 0
    o, pv, nx, g = order.tolist(), prev.tolist(), nxt.tolist(), gap.tolist()
    failed = 0
    heapq.heapify(bad)
    while bad:
        i = heapq.heappop(bad)
        r, p = o[i], pv[i]
        if p < 0 or i - p >= g[r]:
            continue  # fixed by an earlier swap
        n_r = nx[i]
        lo = max(i + 1, p + g[r])
        jj = -1
        # first a place that leaves r far enough from its next visit too, else one before that visit
        for hi in ((n - 1 if n_r < 0 else n_r - g[r]), n - 1 if n_r < 0 else n_r - 1):
            for cand in range(lo, min(hi, lo + search * g[r]) + 1):
                r2, p2, n2 = o[cand], pv[cand], nx[cand]
                if r2 != r and p2 < i and (p2 < 0 or i - p2 >= g[r2]) and (n2 < 0 or n2 - i >= g[r2]):
                    jj = cand
                    break
            if jj >= 0:
                break
        if jj < 0:
            failed += 1
            continue
        r2, p2, n2 = o[jj], pv[jj], nx[jj]
        o[i], o[jj] = r2, r  # r moves forward to jj, r2 back to i; neither passes its own neighbours
        if p >= 0:
            nx[p] = jj
        if n_r >= 0:
            pv[n_r] = jj
            if n_r - jj < g[r]:
                heapq.heappush(bad, n_r)
        if p2 >= 0:
            nx[p2] = i
        if n2 >= 0:
            pv[n2] = i
        pv[i], nx[i], pv[jj], nx[jj] = p2, n2, p, n_r
    order[:], prev[:], nxt[:] = o, pv, nx
    return failed


@dataclass(frozen=True)
class GroupShare:
    """What one group got in the epoch so far: its target share and the seconds, windows and distinct
    clips actually delivered."""

    group: str
    target: float | None  # share of delivered seconds asked for (None in natural mode)
    seconds: float
    share: float
    windows: int
    clips: int
    clips_in_group: int


def tally(groups: list[str], group_of_row: np.ndarray, delivered: np.ndarray, rows: np.ndarray,
          targets: dict[str, float] | None, clips_in_group: np.ndarray) -> list[GroupShare]:
    """Per-group seconds, windows and distinct clips of the windows `rows` (one entry per window)."""
    k = len(groups)
    gi = group_of_row[rows]
    seconds = np.bincount(gi, weights=delivered[rows], minlength=k)
    windows = np.bincount(gi, minlength=k)
    clips = np.bincount(group_of_row[np.unique(rows)], minlength=k)
    total = float(seconds.sum())
    return [GroupShare(g, targets.get(g) if targets is not None else None, float(seconds[i]),
                       float(seconds[i] / total) if total else 0.0, int(windows[i]), int(clips[i]),
                       int(clips_in_group[i])) for i, g in enumerate(groups)]


def format_tally(shares: list[GroupShare], title: str = "") -> str:
    """The tally as an aligned text table (what `examples/train.py` prints at epoch end)."""
    width = max([len(s.group) for s in shares] + [5])
    lines = [title] if title else []
    lines.append(f"  {'group':<{width}}  {'target':>7}  {'share':>7}  {'seconds':>10}  {'windows':>8}  clips seen")
    for s in shares:
        target = f"{100 * s.target:6.1f}%" if s.target is not None else "      -"
        lines.append(f"  {s.group:<{width}}  {target}  {100 * s.share:6.1f}%  {s.seconds:10.1f}  {s.windows:8d}  "
                     f"{s.clips} of {s.clips_in_group}")
    return "\n".join(lines)
