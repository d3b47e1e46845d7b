"""`ClipSampler`: what every sampler shares (as lhotse's `sampling/base.py`).

Rank / world size, `set_epoch`, the consumption the trainer reports, and a state that saves the
epoch's *global* position (MosaicML streaming's `sample_in_epoch`), so an epoch resumes under
another world size or batch size with nothing repeated or skipped. A subclass plans the epoch's
global order, which must not depend on the world size.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from ..plan import Draw


def rank_world() -> tuple[int, int]:
    """(rank, world size) of torch.distributed, or (0, 1) outside it."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ClipSampler(Sampler[Draw]):
    """Base: lays an epoch's global order out across ranks, tracks consumption, resumes elastically.

    The global order (all ranks together, one entry per window) does not depend on the world size.
    From the resume point on it is cut into steps of `world_size * batch_size` windows; in each step
    rank r takes the r-th block of `batch_size`, so a visit's consecutive windows stay on one rank.
    A final short step is padded (wrapping to the epoch's start) to the same count on every rank,
    or dropped with `drop_last`.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        batch_size: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
        windows_per_visit: int = 1,
    ):
        dist_rank, dist_world = rank_world()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world size {self.world_size}")
        if windows_per_visit < 1:
            raise ValueError(f"windows_per_visit must be >= 1, got {windows_per_visit}")
        self.seed = seed
        self.drop_last = drop_last
        self.windows_per_visit = windows_per_visit
        self.batch_size = windows_per_visit
        self.batch_size_given = batch_size is not None  # else the loader's batch size is adopted (`bind_batch_size`)
        if batch_size is not None:
            self.batch_size = check_batch_size(batch_size, windows_per_visit)
        self.epoch = 0
        self._base = 0  # global position this rank's slicing starts from (a resume point, else 0)
        self._iterated = False  # once iterated, the next iteration starts the epoch from 0
        self._consumed = 0  # items of this rank's slicing used (as reported, else as yielded)
        self._marked = False  # True once the trainer reports consumption (workers read ahead)
        self._cache: tuple[int, np.ndarray] | None = None
        self._layout_cache: tuple[tuple[int, int], np.ndarray] | None = None
        self._warned = False

    # --- what subclasses provide -------------------------------------------------------------
    def global_order(self, epoch: int) -> np.ndarray:
        """Item (row) of every window of the epoch, all ranks together, in draw order; the windows of
        one visit are consecutive."""
        raise NotImplementedError

    def step_repeats(self, order: np.ndarray, base: int) -> str:
        """A message when steps of this layout would repeat a clip ("" when none do)."""
        return ""

    def data_fingerprint(self) -> dict[str, Any]:
        """What the epoch is planned on ({part: count or digest}), saved with the state and checked on
        resume so a state never continues on other data. Subclasses name their parts."""
        return {}

    # --- shared machinery --------------------------------------------------------------------
    def bind_batch_size(self, batch_size: int | None) -> int:
        """The batch size a loader over this sampler uses: the sampler's own when `batch_size` is None;
        adopted when the sampler was built without one; an error when both are given and differ."""
        if batch_size is None:
            return self.batch_size
        if self.batch_size_given and batch_size != self.batch_size:
            raise ValueError(f"the loader's batch_size={batch_size} differs from the sampler's batch_size="
                             f"{self.batch_size}: the sampler lays out ranks by batches, give one of them only")
        self.batch_size = check_batch_size(batch_size, self.windows_per_visit)
        self.batch_size_given = True
        self._layout_cache = None
        return self.batch_size

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the planned epoch (millions of entries), e.g. when a collator holding the
        sampler for `replacement_row` goes to DataLoader workers; it is re-planned if needed."""
        state = dict(self.__dict__)
        state.update(_cache=None, _layout_cache=None, _links=None)
        return state

    def _order(self) -> np.ndarray:
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, np.asarray(self.global_order(self.epoch), dtype=np.int64))
        return self._cache[1]

    def _start(self) -> int:
        return 0 if self._iterated else self._base

    def _layout(self, base: int | None = None) -> np.ndarray:
        """Global indices of this rank's windows, in its order, from `base` (default: the next start)."""
        base = self._start() if base is None else base
        key = (self.epoch, base)
        if self._layout_cache is None or self._layout_cache[0] != key:
            order = self._order()
            self._layout_cache = (key, layout_indices(len(order), base, self.rank, self.world_size, self.batch_size,
                                                      self.windows_per_visit, self.drop_last))
            if not self._warned and self.rank == 0:
                msg = self.step_repeats(order, base)
                if msg:
                    self._warned = True
                    warnings.warn(msg, stacklevel=3)
        return self._layout_cache[1]

    def rank_rows(self) -> np.ndarray:
        """This rank's rows for the current epoch, in order (from the resume point, if any)."""
        return self._order()[self._layout() % max(1, len(self._order()))]

    def __len__(self) -> int:
        return len(self._layout())

    def __iter__(self) -> Iterator[Draw]:
        layout = self._layout()
        order = self._order()
        self._base = self._start()
        self._iterated = True
        self._consumed = 0
        self._marked = False
        n = len(order)
        for i, g in enumerate(layout.tolist()):
            if not self._marked:
                self._consumed = i + 1
            yield Draw(int(order[g % n]), self.epoch, g, g % n, self.windows_per_visit)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (a new order); keeps a resume point loaded for this same epoch."""
        if epoch != self.epoch:
            self._base = 0
            self._consumed = 0
            self._iterated = False
        self.epoch = epoch

    def mark_consumed(self, positions: torch.Tensor | Sequence[int] | int) -> None:
        """Record that the trainer has used the items at these epoch positions (a batch's `position`).

        `clip_loader` calls it for every batch it hands over, so a trainer using it never needs to."""
        p = torch.as_tensor(positions)
        if p.numel():
            new = int(np.searchsorted(self._layout(self._base), int(p.max()), side="right"))
            self._consumed = max(self._consumed, new) if self._marked else new
        self._marked = True

    def sample_in_epoch(self) -> int:
        """Windows of the epoch's global order used by all ranks together (steps are in lockstep)."""
        n = len(self._order())
        layout_len = len(layout_indices(n, self._base, self.rank, self.world_size, self.batch_size,
                                        self.windows_per_visit, self.drop_last))
        if self._consumed >= layout_len:
            return n
        return min(n, self._base + (self._consumed // self.batch_size) * self.world_size * self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        """Where the epoch stands: its global position, and what must match to resume it."""
        return {
            "epoch": self.epoch,
            "sample_in_epoch": self.sample_in_epoch(),
            "epoch_windows": len(self._order()),
            "seed": self.seed,
            "windows_per_visit": self.windows_per_visit,
            "world_size": self.world_size,
            "batch_size": self.batch_size,
            "rank": self.rank,
            "consumed": self._consumed,
            "data": self.data_fingerprint(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the saved epoch from its global position, under any world size or batch size."""
        if "sample_in_epoch" not in state:
            raise ValueError("cannot resume: this state has no global position (saved by a sampler before elastic "
                             "resume); restart the epoch")
        for key in ("seed", "windows_per_visit"):
            if state[key] != getattr(self, key):
                raise ValueError(f"cannot resume: saved {key}={state[key]}, this sampler has {getattr(self, key)}")
        check_fingerprint(state.get("data"), self.data_fingerprint())
        self.epoch = int(state["epoch"])
        self._cache = None
        if state["epoch_windows"] != len(self._order()):
            raise ValueError(f"cannot resume: the saved epoch had {state['epoch_windows']} windows, this sampler "
                             f"plans {len(self._order())} (different data or settings)")
        self._base = int(state["sample_in_epoch"])
        if self._base % self.windows_per_visit:
            raise ValueError(f"cannot resume: position {self._base} is inside a visit")
        self._iterated = False
        self._consumed = 0
        self._marked = False


def fingerprint(data: str | bytes) -> str:
    """A short digest of `data` (what a saved state checks the data against)."""
    import hashlib

    return hashlib.sha1(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def check_fingerprint(saved: Mapping[str, Any] | None, now: Mapping[str, Any]) -> None:
    """Raise naming what differs between the data a state was saved on and the data now."""
    if saved is None:
        return
    changed = [k for k in now if k in saved and saved[k] != now[k]]
    if not changed:
        return
    parts = []
    for k in changed:
        if isinstance(now[k], int):
            parts.append(f"{saved[k]} {k} when saved, {now[k]} now")
        else:
            parts.append(f"the {k} differ")
    raise ValueError("cannot resume: the data changed since the state was saved (" + "; ".join(parts) + "); the "
                     "rest of the epoch would not be the uninterrupted one: restart the epoch on this data")


def check_batch_size(batch_size: int, windows_per_visit: int) -> int:
    """`batch_size`, checked: at least 1 and a whole number of visits."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if batch_size % windows_per_visit:
        raise ValueError(f"batch_size {batch_size} must be a multiple of windows_per_visit {windows_per_visit}, "
                         "so a visit's windows stay in one batch")
    return batch_size


def layout_indices(n: int, base: int, rank: int, world: int, batch: int, k: int, drop_last: bool) -> np.ndarray:
    """Global indices rank `rank` takes from `base` on: steps of world x batch windows, one block of
    `batch` per rank; the last short step is split evenly (padded past `n`, taken modulo `n`)."""
    rem = max(0, n - base)
    step = world * batch
    full = rem // step
    idx = (base + np.arange(full, dtype=np.int64)[:, None] * step + rank * batch
           + np.arange(batch, dtype=np.int64)[None, :]).ravel()
    tail = rem - full * step
    if tail and not drop_last:
        per = -(-tail // (world * k)) * k
        idx = np.concatenate([idx, base + full * step + rank * per + np.arange(per, dtype=np.int64)])
    return idx
