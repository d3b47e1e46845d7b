"""`BalancedSampler`: each group gets its share of the seconds of video the loader hands the trainer.

DH-FaceVid-1K appendix I: "equal" (1:1 by duration), "population" (shares of a cited table),
"natural" (as stored) or explicit weights, all of *delivered* seconds; inside a group a clip is
visited in proportion to the windows it offers. The arithmetic is in `mixing`; the rank layout and
elastic resume come from `ClipSampler` (`base`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from ..plan import ClipDataset, RecordTable
from .base import ClipSampler, fingerprint
from .mixing import (
    GroupShare,
    format_tally,
    group_visits,
    occurrence_links,
    resolve_mode,
    spread_order,
    tally,
    target_shares,
)

logger = logging.getLogger(__name__)

Mode = Literal["equal", "population", "natural", "weights"]

#: Group name for records whose column is null.
MISSING_GROUP = "unknown"

#: Steps up to this many visits (world size x batch size / windows per visit) never repeat a clip,
#: when the groups hold enough clips for that.
DEFAULT_MIN_GAP = 4096


def _where_mask(values: dict[str, list[Any]], where: Mapping[str, Iterable[Any]]) -> np.ndarray:
    n = len(next(iter(values.values()))) if values else 0
    keep = np.ones(n, dtype=bool)
    for column, allowed in where.items():
        allowed = set(allowed)
        keep &= np.array([v in allowed for v in values[column]], dtype=bool)
    return keep


class BalancedSampler(ClipSampler):
    """Draws windows so each group of `column` gets its share of the seconds of video delivered.

    `data`: a `ClipDataset` (items are windows of `frames` at its fps; a window delivers valid frames
    / fps seconds, a clip shorter than a window only the frames it holds: padding and loop repeats do
    not count), or the records themselves (items are whole clips delivering their duration).
    `column`: any record field, dotted for nested ones ("source", "attributes.ethnicity",
    "language"). `mode`: "equal" (every group the same delivered seconds), "population" (shares
    of `table`, a shipped table name or {group: size}), "natural" (as stored: every stored second
    equally likely) or "weights" ({group: relative seconds}); left out, it follows what is given
    (`weights=` -> "weights", `table=` -> "population", else "equal").
    Inside a group a clip is visited in proportion to its window positions, so every stored second
    is equally likely to be delivered. `epoch_seconds` sets the epoch in delivered seconds, or
    `num_samples` in windows (both all ranks together; default: the stored seconds of the groups
    sampled, i.e. each stored second delivered once on average).

    Each visit yields `windows_per_visit` windows (consecutive stretches of the clip from a uniform
    anchor, so each start stays uniform and the windows share one keyframe run-up) at consecutive
    positions of one rank, so one batch holds several windows of one file (decoded in one pass;
    the cost is diversity: batch_size / windows_per_visit files per batch). `groups`, `where`
    ({column: allowed values}, read column-wise), `filter` (a callable on each record: reads every
    row, so prefer `where` on large data) and `exclude_ids` (clip ids, e.g. deletion requests) leave
    rows out; every row left out is listed in `.dropped` with why.

    The epoch's order does not depend on the world size: a row's visits are spread evenly through it
    (at least `min_gap` visits apart where its group has enough clips), so any step of up to
    `min_gap` visits holds a clip once; when a group is too small for the step, one warning says so
    with numbers. `report()` tells what each group got so far.
    """

    def __init__(
        self,
        data: Any,
        column: str = "source",
        mode: Mode | None = None,
        *,
        weights: Mapping[str, float] | None = None,
        table: str | Mapping[str, float] | None = None,
        groups: Sequence[str] | None = None,
        epoch_seconds: float | None = None,
        num_samples: int | None = None,
        windows_per_visit: int = 1,
        exclude_ids: Iterable[str] | None = None,
        where: Mapping[str, Iterable[Any]] | None = None,
        filter: Callable[[Mapping[str, Any]], bool] | None = None,  # noqa: A002 (the word users expect)
        min_gap: int = DEFAULT_MIN_GAP,
        seed: int = 0,
        batch_size: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ):
        super().__init__(seed=seed, batch_size=batch_size, rank=rank, world_size=world_size, drop_last=drop_last,
                         windows_per_visit=windows_per_visit)
        import datasets

        if isinstance(data, datasets.IterableDataset):
            raise TypeError("BalancedSampler plans map-style data; for a streamed dataset use "
                            "StreamingClipDataset({group: stream, ...}, mode=..., num_samples=...)")
        mode = resolve_mode(mode, weights, table, allowed=("equal", "population", "natural", "weights"))
        if epoch_seconds is not None and num_samples is not None:
            raise ValueError("give epoch_seconds or num_samples, not both")
        self.column, self.mode = column, mode
        self.epoch_seconds, self.num_samples, self.min_gap = epoch_seconds, num_samples, min_gap
        self._table = table
        self._weights = dict(weights) if weights else None

        source = data if isinstance(data, ClipDataset) else RecordTable(data)
        self.clip_ids = [str(c) for c in source.column("clip_id")]
        self.values = [MISSING_GROUP if v is None or v == "" else str(v) for v in source.column(column)]
        if isinstance(data, ClipDataset):
            fps, frames = data.timing()
            self.durations = data.durations()
            self.weights, self.delivered = data.spec.window_terms(frames, fps)  # per window
            self.whole_clips = False
        else:
            self.durations = ClipDataset(data).durations()
            self.delivered = self.durations.copy()
            self.weights = np.ones(len(self.durations))
            self.whole_clips = True
        n = len(self.values)
        self.dropped: list[tuple[str, str]] = []
        keep = np.ones(n, dtype=bool)

        def drop(mask: np.ndarray, reason: str, hint: str = "") -> None:
            before = int(keep.sum())
            for i in np.flatnonzero(keep & ~mask):
                self.dropped.append((self.clip_ids[i], reason))
            keep[:] &= mask
            if before and not keep.any():  # an empty stage is a mistake, not an epoch of 0 windows
                raise ValueError(f"no clip left to sample: {reason} left out all {before} remaining of {n} rows"
                                 f"{hint}")

        drop(self.delivered > 0, "no duration or frames")
        if exclude_ids is not None:
            ex = set(map(str, exclude_ids))
            drop(np.array([c not in ex for c in self.clip_ids], dtype=bool), "excluded by id")
        if where:
            where = {c: list(v) for c, v in where.items()}
            cols = {c: list(source.column(c)) for c in where}
            for c, allowed in where.items():
                mask = _where_mask({c: cols[c]}, {c: allowed})
                present = sorted({str(v) for v, k in zip(cols[c], keep, strict=True) if k})
                drop(mask, f"where={{{c!r}: {allowed}}}", f" (values of {c!r} there: {present})")
        if filter is not None:
            records = data.records if isinstance(data, ClipDataset) else source
            rows = data.rows if isinstance(data, ClipDataset) else np.arange(n)
            drop(np.array([bool(filter(records.get(int(r)))) for r in rows], dtype=bool), "filter returned False")
        if groups is not None:
            drop(np.isin(np.asarray(self.values, dtype=object), list(groups)), f"group not in groups={list(groups)}",
                 f" (groups there: {sorted(set(self.values))})")
        if not keep.any():
            raise ValueError(f"no clip to sample: the data has {n} rows")

        present = sorted({self.values[i] for i in np.flatnonzero(keep)})
        self.shares = self._target_shares(groups if groups is not None else (present if mode == "equal" else None))
        if mode != "natural":
            empty = [g for g in self.shares if g not in present]
            if empty:
                raise ValueError(
                    f"group(s) {empty} of column {column!r} have no clips (groups present: {present}); "
                    "pass groups= or weights= without them"
                )
            self.excluded = [g for g in present if g not in self.shares]
            if self.excluded:
                warnings.warn(f"{column}: group(s) {self.excluded} have no target share and are not sampled",
                              stacklevel=2)
                drop(~np.isin(np.asarray(self.values, dtype=object), self.excluded), "group has no target share")
            self.groups = list(self.shares)
        else:
            self.excluded = []
            self.groups = present
        index = {g: i for i, g in enumerate(self.groups)}
        self._group_index = np.array([index.get(v, -1) if keep[i] else -1 for i, v in enumerate(self.values)],
                                     dtype=np.int64)
        self._rows_by_group = [np.flatnonzero(self._group_index == i) for i in range(len(self.groups))]
        self._cum_weights = [np.cumsum(self.weights[r]) for r in self._rows_by_group]
        self._clips_in_group = np.array([len(r) for r in self._rows_by_group], dtype=np.int64)
        if self.dropped:
            logger.info("%d of %d rows are not sampled (see .dropped)", len(self.dropped), n)

    def _target_shares(self, groups: Sequence[str] | None) -> dict[str, float]:
        return target_shares(self.mode, groups, weights=self._weights, table=self._table, column=self.column)

    # --- planning ------------------------------------------------------------------------------
    def _budget(self) -> float:
        """Delivered seconds of the whole epoch."""
        k = self.windows_per_visit
        rows = [r for r in self._rows_by_group if len(r)]
        per_visit = [k * float((self.weights[r] * self.delivered[r]).sum() / self.weights[r].sum()) for r in rows]
        if self.epoch_seconds:
            return float(self.epoch_seconds)
        if self.num_samples:
            visits = self.num_samples / k
            if self.mode == "natural":
                everyone = np.concatenate(rows)
                w = self.weights[everyone]
                return visits * k * float((w * self.delivered[everyone]).sum() / w.sum())
            # seconds s such that sum_g share_g * s / per_visit_g = visits
            return visits / sum(self.shares[g] / pv for g, pv in zip(self.groups, per_visit, strict=True))
        return float(sum(self.durations[r].sum() for r in rows))

    def visit_counts(self, epoch: int) -> np.ndarray:
        """Visits per row planned for `epoch`."""
        rng = np.random.default_rng([self.seed, epoch])
        k = self.windows_per_visit
        counts = np.zeros(len(self.values), dtype=np.int64)
        budget = self._budget()
        if self.mode == "natural":
            everyone = np.flatnonzero(self._group_index >= 0)
            counts[everyone] = group_visits(self.weights[everyone], k * self.delivered[everyone], budget, rng)
            return counts
        for g, rows in zip(self.groups, self._rows_by_group, strict=True):
            counts[rows] = group_visits(self.weights[rows], k * self.delivered[rows], self.shares[g] * budget, rng)
        return counts

    def global_order(self, epoch: int) -> np.ndarray:
        counts = self.visit_counts(epoch)
        visits, prev, _ = spread_order(counts, self.min_gap, np.random.default_rng([self.seed, epoch, 1]))
        self._links = (epoch, prev)
        return np.repeat(visits, self.windows_per_visit)

    def step_repeats(self, order: np.ndarray, base: int) -> str:
        k = self.windows_per_visit
        visits = order[::k]
        if not len(visits):
            return ""
        links = getattr(self, "_links", None)
        prev = links[1] if links is not None and links[0] == self.epoch else occurrence_links(visits)[0]
        step_windows = self.world_size * self.batch_size
        start = np.arange(len(visits)) * k
        step = (start - base) // step_windows
        prev_step = (np.maximum(prev, 0) * k - base) // step_windows
        clash = (prev >= 0) & (prev * k >= base) & (prev_step == step)
        if not clash.any():
            return ""
        gi = self._group_index[visits[clash]]
        worst = int(np.bincount(gi, minlength=len(self.groups)).argmax())
        g = self.groups[worst]
        share = float(np.mean(self._group_index[visits] == worst))
        per_step = share * step_windows / k
        return (f"{int(clash.sum())} visits repeat a clip within their step of {self.world_size} ranks x batch "
                f"{self.batch_size}: group {g!r} has {self._clips_in_group[worst]} clips but gets {per_step:.1f} of "
                f"the {step_windows // k} visits of each step; give it more clips or use fewer ranks / smaller batches")

    def data_fingerprint(self) -> dict[str, Any]:
        """What the epoch was planned on: the clips sampled, their groups and targets, their windows."""
        rows = np.flatnonzero(self._group_index >= 0)
        return {
            "clips": len(rows),
            "clip ids": fingerprint("\n".join(self.clip_ids[i] for i in rows)),
            "groups": fingerprint(repr((self.column, self.mode, sorted(self.shares.items()),
                                        [self.values[i] for i in rows]))),
            "windows": fingerprint(np.stack([self.delivered[rows], self.weights[rows]]).round(9).tobytes()),
        }

    # --- what others use -----------------------------------------------------------------------
    def group_of(self, row: int) -> str:
        """The group (column value) of item `row`."""
        return self.values[row]

    def replacement_row(self, row: int, rng: np.random.Generator) -> int:
        """Another item of `row`'s group, drawn as the sampler draws inside a group (by window positions),
        avoiding `row` itself when the group has other items (a collator replaces a clip that fails to
        decode with it, so the balance holds)."""
        gi = int(self._group_index[row])
        if gi < 0:
            raise ValueError(f"row {row} ({self.clip_ids[row]!r}) is not sampled: "
                             f"{dict(self.dropped).get(self.clip_ids[row], 'group has no share')}")
        rows, cum = self._rows_by_group[gi], self._cum_weights[gi]
        if len(rows) == 1:
            return int(rows[0])
        own = int(np.searchsorted(rows, row))
        w_own = float(self.weights[row])
        lo = float(cum[own - 1]) if own else 0.0
        u = rng.random() * (float(cum[-1]) - w_own)
        if u >= lo:
            u += w_own
        return int(rows[min(int(np.searchsorted(cum, u, side="right")), len(rows) - 1)])

    def report(self, whole_epoch: bool = False) -> list[GroupShare]:
        """Per group: target share, seconds delivered, windows and distinct clips of the epoch so far
        (all ranks, the whole epoch across a resume), or of the whole planned epoch."""
        order = self._order()
        used = order if whole_epoch else order[: self.sample_in_epoch()]
        targets = self.shares if self.mode != "natural" else None
        return tally(self.groups, np.maximum(self._group_index, 0), self.delivered, used, targets,
                     self._clips_in_group)

    def format_report(self, whole_epoch: bool = False) -> str:
        """`report()` as a text table with a title naming the column, mode and epoch."""
        title = f"epoch {self.epoch}, balance by {self.column} ({self.mode}), seconds of video delivered:"
        return format_tally(self.report(whole_epoch), title)

    def expected_seconds(self) -> dict[str, float]:
        """Delivered seconds per group over this epoch's whole plan."""
        return {s.group: s.seconds for s in self.report(whole_epoch=True)}
