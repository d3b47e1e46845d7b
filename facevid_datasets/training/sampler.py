"""Samplers that balance groups of clips by seconds of video, split across ranks and resume exactly.

`ClipSampler` holds what every sampler shares: rank / world size, `set_epoch`, and the
`state_dict` / `load_state_dict` pair counting the items this rank has consumed in the epoch.
`BalancedSampler` sets each group's share of sampled seconds (DH-FaceVid-1K appendix I):
"equal" (1:1 by duration), "population" (shares of a cited reference table), "natural" (as
stored) or explicit weights. Shares are met by seconds, not clip counts: each group draws clips
(cycling through shuffled passes of its clips) until its seconds reach its share of the epoch.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Sampler

from .plan import ClipDataset, Draw, _rank_world, _Records, column_values, iter_records
from .populations import DEFAULT_TABLE_FOR_COLUMN, population_shares

logger = logging.getLogger(__name__)

Mode = Literal["equal", "population", "natural", "weights"]

#: Group name for records whose column is null.
MISSING_GROUP = "unknown"


class ClipSampler(Sampler[Draw]):
    """Base: splits an epoch's global order across ranks, tracks consumption, resumes mid-epoch.

    The global order is cut into steps of `world_size * batch_size` items; rank r takes items
    r, r + world_size, ... so in step s every rank's batch comes from the same window, which
    subclasses keep free of repeated clips.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        batch_size: int = 1,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ):
        dist_rank, dist_world = _rank_world()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world size {self.world_size}")
        self.seed = seed
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.epoch = 0
        self._start = 0  # position to resume from in this epoch
        self._consumed = 0
        self._marked = False  # True once the trainer reports consumption (workers read ahead)
        self._cache: tuple[int, np.ndarray] | None = None

    # --- what subclasses provide -------------------------------------------------------------
    def global_order(self, epoch: int) -> np.ndarray:
        """Row indices for the whole epoch, all ranks together, in draw order."""
        raise NotImplementedError

    # --- shared machinery --------------------------------------------------------------------
    def _order(self) -> np.ndarray:
        if self._cache is None or self._cache[0] != self.epoch:
            order = np.asarray(self.global_order(self.epoch), dtype=np.int64)
            W = self.world_size
            if len(order) % W:
                if self.drop_last:
                    order = order[: len(order) - len(order) % W]
                else:
                    order = np.concatenate([order, order[: W - len(order) % W]])
                    _spread(order, W * self.batch_size)
            self._cache = (self.epoch, order)
        return self._cache[1]

    def rank_rows(self) -> np.ndarray:
        """This rank's rows for the current epoch, in order."""
        return self._order()[self.rank :: self.world_size]

    def __len__(self) -> int:
        return len(self.rank_rows())

    def __iter__(self) -> Iterator[Draw]:
        rows = self.rank_rows()
        start, self._start = self._start, 0
        self._consumed = start
        for pos in range(start, len(rows)):
            if not self._marked:
                self._consumed = pos + 1
            yield Draw(int(rows[pos]), self.epoch, pos, pos * self.world_size + self.rank)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (reshuffles); keeps a resume point loaded for this same epoch."""
        if epoch != self.epoch:
            self._start = 0
            self._consumed = 0
        self.epoch = epoch

    def mark_consumed(self, positions: torch.Tensor | Sequence[int] | int) -> None:
        """Record that the trainer has used the items at these rank positions (a batch's `position`)."""
        p = torch.as_tensor(positions)
        if p.numel():
            new = int(p.max()) + 1
            self._consumed = max(self._consumed, new) if self._marked else new
        self._marked = True

    def state_dict(self) -> dict[str, Any]:
        """Where this rank stands: epoch and items consumed (as reported, else as yielded)."""
        return {
            "epoch": self.epoch,
            "consumed": self._consumed,
            "seed": self.seed,
            "world_size": self.world_size,
            "batch_size": self.batch_size,
            "rank": self.rank,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where `state` left off (same seed, world size and batch size required)."""
        for key in ("seed", "world_size", "batch_size"):
            if state[key] != getattr(self, key):
                raise ValueError(f"cannot resume: saved {key}={state[key]}, this sampler has {getattr(self, key)}")
        self.epoch = int(state["epoch"])
        self._start = self._consumed = int(state["consumed"])


def _spread(order: np.ndarray, window: int, max_tries: int = 4096) -> int:
    """Swap items so that no row appears twice within a step window; returns repeats left unresolved."""
    n = len(order)
    if window <= 1 or n <= window:
        return _repeats(order, window)
    nwin = (n + window - 1) // window
    counts = [Counter(order[w * window : (w + 1) * window].tolist()) for w in range(nwin)]
    left = 0
    for w in range(nwin):
        lo, hi = w * window, min(n, (w + 1) * window)
        for i in range(lo, hi):
            row = int(order[i])
            if counts[w][row] <= 1:
                continue
            fixed = False
            for t in range(1, min(nwin, max_tries)):
                w2 = (w + t) % nwin
                c2 = counts[w2]
                if c2[row]:
                    continue
                for j in range(w2 * window, min(n, (w2 + 1) * window)):
                    r2 = int(order[j])
                    if counts[w][r2] == 0 and c2[r2] == 1:
                        order[i], order[j] = r2, row
                        counts[w][row] -= 1
                        counts[w][r2] += 1
                        c2[r2] -= 1
                        c2[row] += 1
                        fixed = True
                        break
                if fixed:
                    break
            left += not fixed
    return left


def _repeats(order: np.ndarray, window: int) -> int:
    chunks = (order[i : i + window] for i in range(0, len(order), window))
    return sum(len(c) - len(set(c.tolist())) for c in chunks)


def _group_values(data: Any, column: str) -> list[str]:
    if isinstance(data, ClipDataset):
        values = data.column(column)
    elif isinstance(data, _Records):
        values = data.column(column)
    else:
        values = _Records(data).column(column)
    return [MISSING_GROUP if v is None or v == "" else str(v) for v in values]


def _durations(data: Any) -> np.ndarray:
    if isinstance(data, ClipDataset):
        return data.durations()
    return ClipDataset(data, short="pad").durations()


class BalancedSampler(ClipSampler):
    """Draws items so each group of `column` gets its share of sampled seconds per epoch.

    `data`: a `ClipDataset` (or the dataset it wraps; indices then refer to its rows). `column`:
    any record field, dotted for nested ones ("source", "attributes.ethnicity", "language").
    `mode`: "equal" (every group the same seconds), "population" (shares of `table`, a shipped
    table name or a {group: size} dict), "natural" (one shuffled pass, as stored) or "weights"
    (`weights` {group: relative seconds}). `groups` restricts sampling to those groups; a target
    group with no clips is an error naming it. `epoch_seconds` sets the epoch's length (default:
    the seconds of video in the groups sampled), or `num_samples` its expected number of draws.
    For a streaming dataset pass the stream and `num_samples`, then hand the sampler to
    `ClipDataset(stream, sampler=...)`.
    """

    def __init__(
        self,
        data: Any,
        column: str = "source",
        mode: Mode = "equal",
        *,
        weights: Mapping[str, float] | None = None,
        table: str | Mapping[str, float] | None = None,
        groups: Sequence[str] | None = None,
        epoch_seconds: float | None = None,
        num_samples: int | None = None,
        seed: int = 0,
        batch_size: int = 1,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
        buffer_size: int = 256,
    ):
        super().__init__(seed=seed, batch_size=batch_size, rank=rank, world_size=world_size, drop_last=drop_last)
        if mode not in ("equal", "population", "natural", "weights"):
            raise ValueError(f"mode={mode!r}: use 'equal', 'population', 'natural' or 'weights'")
        if mode == "weights" and not weights:
            raise ValueError("mode='weights' needs weights={group: relative seconds}")
        self.column, self.mode = column, mode
        self.epoch_seconds, self.num_samples, self.buffer_size = epoch_seconds, num_samples, buffer_size
        self._table = table
        self._groups_arg = list(groups) if groups is not None else None
        self._weights = dict(weights) if weights else None
        import datasets

        self.streaming = isinstance(data, datasets.IterableDataset)
        self.excluded: list[str] = []
        if self.streaming:
            self.shares = self._target_shares(self._groups_arg)
            if mode != "natural" and not self.shares:
                raise ValueError("a streaming BalancedSampler needs groups=, weights= or a population table")
            if mode != "natural" and not num_samples:
                raise ValueError("a streaming BalancedSampler needs num_samples (draws per epoch, all ranks)")
            return
        self.values = _group_values(data, column)
        self.durations = _durations(data)
        present = sorted(set(self.values))
        self.shares = self._target_shares(self._groups_arg or (present if mode == "equal" else None))
        self._rows_by_group = {g: np.flatnonzero(np.asarray(self.values, dtype=object) == g) for g in present}
        if mode != "natural":
            empty = [g for g in self.shares if g not in self._rows_by_group]
            if empty:
                raise ValueError(
                    f"group(s) {empty} of column {column!r} have no clips (groups present: {present}); "
                    "pass groups= or weights= without them"
                )
            self.excluded = [g for g in present if g not in self.shares]
            if self.excluded:
                warnings.warn(f"{column}: group(s) {self.excluded} have no target share and are not sampled",
                              stacklevel=2)

    def _target_shares(self, groups: Sequence[str] | None) -> dict[str, float]:
        if self.mode == "natural":
            return {}
        if self.mode == "weights":
            shares = population_shares(self._weights or {})
        elif self.mode == "population":
            table = self._table or DEFAULT_TABLE_FOR_COLUMN.get(self.column)
            if table is None:
                raise ValueError(f"no shipped population table for column {self.column!r}: pass table={{group: size}}")
            shares = population_shares(table)
        else:
            shares = {g: 1.0 for g in (groups or [])}
        if groups is not None:
            unknown = [g for g in groups if g not in shares]
            if unknown:
                raise ValueError(f"group(s) {unknown} are not in the {self.mode} table/weights: {sorted(shares)}")
            shares = {g: shares[g] for g in groups}
        total = sum(shares.values())
        return {g: v / total for g, v in shares.items() if v > 0} if total else {}

    # --- map-style -----------------------------------------------------------------------------
    def global_order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        if self.mode == "natural":
            n = self.num_samples or len(self.values)
            return np.concatenate([rng.permutation(len(self.values)) for _ in range(-(-n // len(self.values)))])[:n]
        included = [g for g in self.shares]
        means = {g: float(self.durations[self._rows_by_group[g]].mean()) or 1.0 for g in included}
        if self.epoch_seconds:
            budget = self.epoch_seconds
        elif self.num_samples:  # seconds for which the expected number of draws is num_samples
            budget = self.num_samples / sum(self.shares[g] / means[g] for g in included)
        else:
            budget = float(sum(self.durations[self._rows_by_group[g]].sum() for g in included))
        picks = []
        for g in included:
            rows = self._rows_by_group[g]
            target = self.shares[g] * budget
            picks.append(_fill_seconds(rows, self.durations[rows], target, rng))
        order = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
        order = order[rng.permutation(len(order))]
        left = _spread(order, self.world_size * self.batch_size)
        if left:
            logger.warning("%d repeated clips share a step: a group has fewer clips than it draws per step", left)
        return order

    def group_of(self, row: int) -> str:
        """The group of item `row` (map-style only)."""
        return self.values[row]

    def expected_seconds(self) -> dict[str, float]:
        """Seconds per group in this epoch's global order (what the shares produced)."""
        order = self._order()
        out: dict[str, float] = {}
        for r in order:
            g = self.values[int(r)]
            out[g] = out.get(g, 0.0) + float(self.durations[int(r)])
        return out

    # --- streaming -----------------------------------------------------------------------------
    def stream_draws(self, stream: Any) -> Iterator[tuple[Draw, Mapping[str, Any]]]:
        """(draw, record) pairs of this rank for the epoch, mixing `stream` by group seconds.

        Every (rank, worker) runs the same deterministic mixer over the stream and keeps its own
        items; small groups are re-read from a per-group reservoir instead of re-scanning the
        stream, large ones are read past (natural down-sampling), and a step never repeats a clip.
        """
        rank, world, B = self.rank, self.world_size, self.batch_size
        start, self._start = self._start, 0
        step_size = world * B
        if self.mode == "natural":
            for j, rec in enumerate(iter_records(stream)):
                step, r = divmod(j, step_size)
                pos = step * B + r % B
                if self.num_samples and j >= self.num_samples:
                    return
                if r // B == rank and pos >= start:
                    yield Draw(j, self.epoch, pos, j), rec
            return
        mixer = _StreamMixer(stream, self.shares, self.column, self.buffer_size,
                             np.random.default_rng([self.seed, self.epoch, 1]))
        assert self.num_samples is not None
        for p in range(self.num_samples):
            step, r = divmod(p, step_size)
            if r == 0:
                mixer.new_window()
            j, rec = mixer.draw()
            pos = step * B + r % B
            if r // B == rank and pos >= start:
                yield Draw(j, self.epoch, pos, p), rec


def _fill_seconds(rows: np.ndarray, durations: np.ndarray, target: float, rng: np.random.Generator) -> np.ndarray:
    """Rows drawn in shuffled passes until their seconds reach `target` (rounded to the nearest clip)."""
    out: list[np.ndarray] = []
    acc = 0.0
    mean = float(durations.mean()) if len(durations) else 0.0
    if mean <= 0:
        return np.zeros(0, dtype=np.int64)
    while acc < target:
        perm = rng.permutation(len(rows))
        csum = acc + np.cumsum(durations[perm])
        # take clips while the running total stays closer to the target than without them
        k = int(np.searchsorted(csum - durations[perm] / 2, target, side="left"))
        out.append(rows[perm[:k]])
        acc = float(csum[k - 1]) if k else acc
        if k < len(rows):
            break
    picked = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return picked if len(picked) else rows[:1]


class _StreamMixer:
    """Deficit scheduler over a stream: the group furthest below its share of seconds draws next."""

    def __init__(self, stream: Any, shares: Mapping[str, float], column: str, buffer_size: int,
                 rng: np.random.Generator):
        self.stream, self.shares, self.column = stream, dict(shares), column
        self.rng, self.cap = rng, buffer_size
        self.fresh: dict[str, list[tuple[int, Mapping[str, Any]]]] = {g: [] for g in shares}
        self.pool: dict[str, list[tuple[int, Mapping[str, Any]]]] = {g: [] for g in shares}
        self.seen = {g: 0 for g in shares}
        self.emitted = {g: 0.0 for g in shares}
        self.dur_sum = {g: 0.0 for g in shares}
        self.window: set[str] = set()
        self._it: Iterator[Mapping[str, Any]] | None = None
        self._j = 0
        self._pass_groups: set[str] = set()
        self._passes = 0

    def new_window(self) -> None:
        self.window = set()

    def _pick(self, g: str) -> tuple[int, Mapping[str, Any]]:
        """A fresh record of `g` if any, else one from its reservoir; avoids clips already in this step."""
        candidates = [(buf, k) for buf in (self.fresh[g], self.pool[g]) for k in range(len(buf))]
        new = [c for c in candidates if str(c[0][c[1]][1].get("clip_id")) not in self.window]
        fresh_new = [c for c in new if c[0] is self.fresh[g]]
        choice = fresh_new or new or candidates
        buf, k = choice[int(self.rng.integers(len(choice)))]
        return buf.pop(k) if buf is self.fresh[g] else buf[k]

    def _read(self) -> bool:
        """Read one record into its group's buffers; False at the end of a pass."""
        if self._it is None:
            self._it = iter_records(self.stream)
        try:
            rec = next(self._it)
        except StopIteration:
            self._passes += 1
            missing = [g for g in self.shares if g not in self._pass_groups and not self.seen[g]]
            if missing:
                raise ValueError(f"group(s) {missing} of column {self.column!r} have no clips in the stream") from None
            self._it, self._pass_groups = None, set()
            return False
        j, self._j = self._j, self._j + 1
        g = column_values([rec], self.column)[0]
        g = MISSING_GROUP if g is None or g == "" else str(g)
        if g not in self.shares:
            return True
        self._pass_groups.add(g)
        self.seen[g] += 1
        self.dur_sum[g] += _rec_duration(rec)
        item = (j, rec)
        for buf in (self.fresh[g], self.pool[g]):
            if len(buf) < self.cap:
                buf.append(item)
            else:
                buf[int(self.rng.integers(len(buf)))] = item
        return True

    def _mean(self, g: str) -> float:
        if self.seen[g]:
            return self.dur_sum[g] / self.seen[g]
        total = sum(self.seen.values())
        return sum(self.dur_sum.values()) / total if total else 1.0

    def draw(self) -> tuple[int, Mapping[str, Any]]:
        total = sum(self.emitted.values())
        g = max(self.shares, key=lambda k: self.shares[k] * (total + self._mean(k)) - self.emitted[k])
        lookahead = self.cap * max(1, len(self.shares)) * 4
        read = 0
        while not self.fresh[g] and (read < lookahead or not self.pool[g]):
            if not self._read() and self._passes > 1 and self.pool[g]:
                break
            read += 1
        item = self._pick(g)
        self.window.add(str(item[1].get("clip_id")))
        self.emitted[g] += _rec_duration(item[1])
        return item


def _rec_duration(rec: Mapping[str, Any]) -> float:
    d = rec.get("duration")
    if d:
        return float(d)
    n, f = rec.get("num_frames"), rec.get("fps")
    return float(n) / float(f) if n and f else 0.0
