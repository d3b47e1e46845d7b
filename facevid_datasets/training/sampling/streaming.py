"""Clip plans over streamed datasets: split by shard across ranks and workers, mixed by delivered seconds.

A `StreamingClipDataset` takes one `datasets.IterableDataset` per group (or a single stream). Every
reader (one DataLoader worker of one rank) owns a disjoint set of each stream's shards, so no reader
reads every shard, and mixes its streams by the seconds of video it delivers: the group furthest
below its share goes next. Inside a group a record is visited in proportion to its window positions
through a shuffle buffer, so every stored second is equally likely to be delivered; a small group is
read again (a new pass) when its shards run out, a large one is read only as far as its share needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..plan import (
    ClipPlan,
    ClipSpec,
    Draw,
    column_values,
    draw_rng,
    iter_records,
    make_plan,
    timing_arrays,
    video_source,
)
from .base import check_batch_size, check_fingerprint, fingerprint, rank_world
from .mixing import resolve_mode, target_shares

logger = logging.getLogger(__name__)

#: Group name of a single stream passed without groups.
ALL = "all"


def undecoded(stream: Any) -> Any:
    """The stream with its Video / Audio columns left as {"path", "bytes"}: plans need no decoder."""
    import datasets

    features = getattr(stream, "features", None) or {}
    for name, feature in features.items():
        if isinstance(feature, datasets.Video | datasets.Audio) and getattr(feature, "decode", False):
            stream = stream.cast_column(name, type(feature)(decode=False))
    return stream


def reader_records(stream: Any, reader: int, readers: int) -> Iterator[Mapping[str, Any]]:
    """The records reader `reader` of `readers` owns: whole shards when the stream has enough, else its
    share of one shard's records (readers sharing a shard split its records, none reads them all)."""
    n_shards = max(1, int(getattr(stream, "num_shards", 1)))
    if n_shards >= readers:
        yield from iter_records(stream.shard(num_shards=readers, index=reader, contiguous=False))
        return
    shard = reader % n_shards
    sharing = len(range(shard, readers, n_shards))
    mine = reader // n_shards
    part = stream.shard(num_shards=n_shards, index=shard, contiguous=False) if n_shards > 1 else stream
    for j, rec in enumerate(iter_records(part)):
        if j % sharing == mine:
            yield rec


class _GroupReader:
    """One group's records for one reader: passes over its shards and a buffer of visits to make."""

    def __init__(self, name: str, stream: Any, spec: ClipSpec, k: int, reader: int, readers: int, buffer: int,
                 rng: np.random.Generator, epoch: int = 0,
                 left_out: Callable[[Mapping[str, Any]], str] = lambda rec: ""):
        self.name, self.stream, self.spec, self.k, self.epoch = name, stream, spec, k, epoch
        self.left_out = left_out
        self.reader, self.readers, self.cap, self.rng = reader, readers, buffer, rng
        self.it: Iterator[Mapping[str, Any]] | None = None
        self.buffer: list[list[Any]] = []  # [record, visits left, delivered per window, index]
        self.passes = 0
        self.read_in_pass = 0
        self.index = 0
        self.weight_sum = 0.0
        self.seen = 0
        self.visit_seconds = 0.0  # running mean of a visit's delivered seconds
        self.skipped = 0
        self.selected_out: dict[str, int] = {}  # records the selection (where, filter, ids, deletions) left out

    def _next_record(self) -> Mapping[str, Any] | None:
        for _ in range(2):
            if self.it is None:
                if hasattr(self.stream, "set_epoch"):  # a shuffled stream reads each pass in another order
                    self.stream.set_epoch(self.epoch * 100_000 + self.passes)
                self.it = reader_records(self.stream, self.reader, self.readers)
                self.read_in_pass = 0
            try:
                rec = next(self.it)
                self.read_in_pass += 1
                return rec
            except StopIteration:
                if not self.read_in_pass:
                    raise ValueError(f"group {self.name!r}: reader {self.reader} of {self.readers} got no records "
                                     f"(the stream has {getattr(self.stream, 'num_shards', 1)} shard(s)); "
                                     "export it with more shards or use fewer ranks x workers") from None
                self.it, self.passes = None, self.passes + 1
        return None

    def _fill(self) -> None:
        tries = 0
        while len(self.buffer) < self.cap and tries < 100 * self.cap:
            tries += 1
            rec = self._next_record()
            if rec is None:
                return
            fps, frames = timing_arrays([rec.get("fps")], [rec.get("num_frames")], [rec.get("duration")])
            why = self.left_out(rec)
            if why:
                self.index += 1  # selected out: not a fault, not logged
                self.selected_out[why] = self.selected_out.get(why, 0) + 1
                continue
            if frames[0] <= 0:
                why = "no fps, frame count or duration"
            elif self.spec.short == "skip" and frames[0] < self.spec.spans(fps)[0]:
                why = f"{frames[0]} frames, a clip needs {self.spec.spans(fps)[0]}"
            else:
                try:
                    video_source(rec)
                except ValueError as e:
                    why = str(e)
            if why:  # never planned, so a training run does not stop at it
                self.skipped += 1
                logger.warning("group %r: skipped %s: %s", self.name, rec.get("clip_id"), why)
                continue
            weights, seconds = self.spec.window_terms(frames, fps)
            weight, delivered = float(weights[0]), float(seconds[0])
            self.seen += 1
            self.weight_sum += weight
            self.visit_seconds += (self.k * delivered - self.visit_seconds) / self.seen
            # visits in proportion to window positions: about one per record on average
            x = weight / (self.weight_sum / self.seen)
            visits = int(x) + int(self.rng.random() < x - int(x))
            if visits:
                self.buffer.append([rec, visits, delivered, self.index])
            self.index += 1

    def visit(self, avoid: set[str]) -> tuple[Mapping[str, Any], float, int]:
        """A record to visit (not one of `avoid` when the buffer allows), its seconds per window, its index."""
        self._fill()
        if not self.buffer:
            left = "; ".join(f"{why} left out {n}" for why, n in self.selected_out.items())
            raise ValueError(f"group {self.name!r} has no record to plan" + (f" ({left})" if left else
                             f" ({self.skipped} skipped: too short or unreadable)"))
        left = np.array([b[1] for b in self.buffer], dtype=np.float64)
        ok = np.array([str(b[0].get("clip_id")) not in avoid for b in self.buffer])
        if ok.any():
            left = left * ok
        i = int(np.searchsorted(np.cumsum(left), self.rng.random() * left.sum(), side="right"))
        i = min(i, len(self.buffer) - 1)
        entry = self.buffer[i]
        entry[1] -= 1
        if entry[1] <= 0:
            self.buffer.pop(i)
        return entry[0], entry[2], entry[3]


class StreamingClipDataset(IterableDataset):
    """Clip plans from streams, one per group, mixed by delivered seconds; resumes mid-epoch.

    `data`: `{group: datasets.IterableDataset}` (or one stream: a single group, every stored second
    equally likely). `mode` "equal", "population" (`table`) or "weights" (`weights`) sets each group's
    share of delivered seconds. `num_samples`: windows per epoch, all ranks together (rounded up to
    whole batches per rank). Clip arguments as in `ClipDataset` (references come from the same clip:
    a stream has no random access to another clip of the identity). Use a DataLoader with the same
    `batch_size`: reader (rank r, worker w) fills the batches the DataLoader takes from worker w, and
    items carry their rank position so `mark_consumed` / `state_dict` work as for a sampler; resume
    needs the same world size, worker count and batch size (shards are assigned by them).
    `num_workers`: the DataLoader's worker count, when known (`clip_loader` sets it); it is saved
    with the state and checked when iterating, so a resume with another count fails with a clear
    error instead of silently replaying other items.
    """

    def __init__(
        self,
        data: Any,
        frames: int | ClipSpec = 16,
        *,
        mode: str | None = None,
        weights: Mapping[str, float] | None = None,
        table: str | Mapping[str, float] | None = None,
        groups: Sequence[str] | None = None,
        num_samples: int | None = None,
        epoch_seconds: float | None = None,
        windows_per_visit: int = 1,
        batch_size: int | None = None,
        drop_last: bool = False,
        where: Mapping[str, Iterable[Any]] | None = None,
        filter: Callable[[Mapping[str, Any]], bool] | None = None,  # noqa: A002 (as BalancedSampler)
        exclude_ids: Iterable[str] | None = None,
        min_gap: int | None = None,
        buffer_size: int = 64,
        rank: int | None = None,
        world_size: int | None = None,
        **options: Any,
    ):
        self.spec = ClipSpec.of(frames, options)
        for name, value, why in (
            ("reference_from='identity'", self.spec.reference_from == "identity",
             "a stream has no random access to another clip of the identity; use ClipDataset"),
            ("epoch_seconds=", epoch_seconds is not None,
             "a stream's seconds per window are only known as it is read; give num_samples= (windows)"),
            ("min_gap=", min_gap is not None,
             "a reader plans no order ahead; a clip is kept out of its own batch only"),
        ):
            if value:
                raise ValueError(f"{name} is not supported on a stream: {why}")
        if num_samples is None:
            raise ValueError("num_samples= is required on a stream (windows per epoch, all ranks together): a "
                             "stream's length is not known before it is read")
        streams = dict(data) if isinstance(data, Mapping) else {ALL: data}
        if groups is not None:
            missing = [g for g in groups if g not in streams]
            if missing:
                raise ValueError(f"group(s) {missing} have no stream (streams: {sorted(streams)})")
            streams = {g: streams[g] for g in groups}
        if not streams:
            raise ValueError("no streams given")
        self.streams = {g: undecoded(s) for g, s in streams.items()}
        mode = resolve_mode(mode, weights, table, allowed=("equal", "population", "natural", "weights"))
        if mode == "natural" and len(streams) > 1:
            raise ValueError("mode='natural' is not supported over several streams: their stored seconds are not "
                             "known before they are read; pass one stream holding every group, or weights=")
        shares = target_shares("equal" if mode == "natural" else mode, list(streams), weights=weights, table=table)
        self.shares = {g: shares[g] for g in streams}
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if windows_per_visit < 1:
            raise ValueError(f"windows_per_visit must be >= 1, got {windows_per_visit}")
        self.batch_size_given = batch_size is not None  # else the loader's batch size is adopted
        batch_size = windows_per_visit if batch_size is None else check_batch_size(batch_size, windows_per_visit)
        dist_rank, dist_world = rank_world()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        self.mode, self.num_samples, self.k, self.drop_last = mode, num_samples, windows_per_visit, drop_last
        self.batch_size, self.buffer_size, self.seed = batch_size, buffer_size, self.spec.seed
        self._where = {c: set(v) for c, v in (where or {}).items()}
        self._filter = filter
        self._exclude = set(map(str, exclude_ids)) if exclude_ids is not None else set()
        self.epoch = 0
        self._skip = 0  # rank items to skip at the next iteration (a resume point)
        self._consumed = 0
        self.num_workers: int | None = None

    def left_out(self, rec: Mapping[str, Any]) -> str:
        """Why a record is not sampled ("" when it is): the same selection as `BalancedSampler`'s."""
        cid = str(rec.get("clip_id"))
        if cid in self._exclude:
            return "excluded by id"
        for column, allowed in self._where.items():
            if column_values([rec], column)[0] not in allowed:
                return f"where={{{column!r}: {sorted(map(str, allowed))}}}"
        if self._filter is not None and not self._filter(rec):
            return "filter returned False"
        if self.spec.deletions is not None:
            why = self.spec.deletions.reason(cid, record=dict(rec))
            if why is not None:
                return f"deletion request: {why}"
        return ""

    def __len__(self) -> int:
        """Windows this rank yields per epoch: `num_samples` in whole batches per rank, rounded up (down with
        `drop_last`)."""
        step = self.world_size * self.batch_size
        steps = self.num_samples // step if self.drop_last else -(-self.num_samples // step)
        return steps * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """A new mix (and a new pass order of shuffled streams) for `epoch`; keeps a resume point of it."""
        if epoch != self.epoch:
            self._skip = 0
            self._consumed = 0
        self.epoch = epoch

    def bind_batch_size(self, batch_size: int | None) -> int:
        """The batch size a loader over this dataset uses (see `ClipSampler.bind_batch_size`)."""
        if batch_size is None:
            return self.batch_size
        if self.batch_size_given and batch_size != self.batch_size:
            raise ValueError(f"the loader's batch_size={batch_size} differs from the stream's batch_size="
                             f"{self.batch_size}: readers fill whole batches, give one of them only")
        self.batch_size = check_batch_size(batch_size, self.k)
        self.batch_size_given = True
        return self.batch_size

    def global_position(self, rank_position: int) -> int:
        """This rank's item `rank_position` as a position in the epoch (all ranks; as `ClipSampler` lays
        steps out: rank r takes the r-th block of `batch_size` of each step)."""
        B = self.batch_size
        step, offset = divmod(rank_position, B)
        return (step * self.world_size + self.rank) * B + offset

    def rank_position(self, position: int) -> int:
        """The inverse of `global_position` for a position of this rank."""
        B = self.batch_size
        step, offset = divmod(position, self.world_size * B)
        return step * B + offset - self.rank * B

    def mark_consumed(self, positions: torch.Tensor | Any) -> None:
        """Record that the trainer has used the items at these epoch positions (a batch's `position`);
        `clip_loader` calls it for every batch it hands over."""
        p = torch.as_tensor(positions)
        if p.numel():
            self._consumed = max(self._consumed, self.rank_position(int(p.max())) + 1)

    def data_fingerprint(self) -> dict[str, Any]:
        """What the mix is planned on: the streams (names, shards, shares) and the clip spec."""
        streams = [(g, int(getattr(s, "num_shards", 1)), repr(getattr(s, "info", None) and s.info.dataset_name))
                   for g, s in self.streams.items()]
        return {"streams": len(self.streams),
                "stream names, shards or shares": fingerprint(repr((streams, sorted(self.shares.items())))),
                "clip settings": fingerprint(repr(self.spec))}

    def state_dict(self) -> dict[str, Any]:
        """Epoch and items of this rank consumed (as reported with `mark_consumed`)."""
        return {"epoch": self.epoch, "consumed": self._consumed, "seed": self.seed, "world_size": self.world_size,
                "batch_size": self.batch_size, "windows_per_visit": self.k, "num_samples": self.num_samples,
                "num_workers": self.num_workers, "data": self.data_fingerprint()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the saved epoch (same world size, batch size, seed and worker count)."""
        check_fingerprint(state.get("data"), self.data_fingerprint())
        for key, mine in (("seed", self.seed), ("world_size", self.world_size), ("batch_size", self.batch_size),
                          ("windows_per_visit", self.k), ("num_samples", self.num_samples)):
            if state[key] != mine:
                raise ValueError(f"cannot resume a stream: saved {key}={state[key]}, this dataset has {mine} "
                                 "(streams are split by shard, so the layout must match)")
        saved = state.get("num_workers")
        if saved is not None and self.num_workers is not None and max(1, saved) != max(1, self.num_workers):
            raise ValueError(f"cannot resume a stream: saved with {saved} DataLoader workers, this loader has "
                             f"{self.num_workers} (each worker reads its own shards)")
        self.num_workers = saved if self.num_workers is None else self.num_workers
        self.epoch = int(state["epoch"])
        self._skip = self._consumed = int(state["consumed"])

    def reader_draws(self, worker: int, workers: int) -> Iterator[tuple[Draw, Mapping[str, Any], str]]:
        """(draw, record, group) for every item reader (this rank, `worker`) makes in the epoch, in order."""
        B, k = self.batch_size, self.k
        reader, readers = self.rank * workers + worker, self.world_size * workers
        groups = {g: _GroupReader(g, s, self.spec, k, reader, readers, self.buffer_size,
                                  np.random.default_rng([self.seed, self.epoch, reader, i]), self.epoch,
                                  self.left_out)
                  for i, (g, s) in enumerate(self.streams.items())}
        rank_batches = len(self) // B
        my_batches = len(range(worker, rank_batches, workers))
        done_batches = -(-self._skip // B)
        skip = len(range(worker, done_batches, workers)) * B
        delivered = dict.fromkeys(groups, 0.0)
        avoid: set[str] = set()
        j = 0
        while j < my_batches * B:
            if j % B == 0:
                avoid = set()
            total = sum(delivered.values())
            g = max(groups, key=lambda n: self.shares[n] * (total + groups[n].visit_seconds) - delivered[n])
            rec, seconds, index = groups[g].visit(avoid)
            avoid.add(str(rec.get("clip_id")))
            delivered[g] += k * seconds
            for _ in range(k):
                batch, offset = divmod(j, B)
                position = self.global_position((batch * workers + worker) * B + offset)
                if j >= skip:
                    yield Draw(index, self.epoch, position, position), rec, g
                j += 1

    def __iter__(self) -> Iterator[ClipPlan]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        if self.num_workers is not None and max(1, self.num_workers) != workers:
            raise RuntimeError(f"this stream is set for {self.num_workers} DataLoader workers (its saved state, or "
                               f"clip_loader) but runs in {workers}: shards and the resume point follow the count")
        for draw, rec, group in self.reader_draws(worker, workers):
            plan = make_plan(rec, self.spec, draw_rng(self.spec.seed, draw), row=-1)
            plan.epoch, plan.position = draw.epoch, draw.position
            plan.labels["group"] = group
            yield plan
