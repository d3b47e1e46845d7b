"""Buckets: batches whose clips share one output shape, chosen from each clip's native aspect ratio.

Open-Sora and other native-aspect trainers group clips into buckets of (height, width) near one pixel
area, so portrait, square and landscape clips are trained on without crops that cut faces off.
`aspect_buckets` makes such a set, `bucket_of` picks a clip's bucket by the closest aspect ratio,
and `BucketBatchSampler` regroups the draws of any sampler (balanced or not) into batches of one
bucket. It only reorders draws, so the sampler's balance over an epoch holds; a resume replays the
epoch's draws (row numbers only, nothing decoded) up to the batches already consumed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from torch.utils.data import Sampler

#: Aspect ratios (width / height) of the default buckets: 9:16 portrait to 16:9 landscape.
DEFAULT_RATIOS = (9 / 16, 3 / 4, 1.0, 4 / 3, 16 / 9)


def aspect_buckets(area: int = 512 * 512, ratios: Sequence[float] = DEFAULT_RATIOS,
                   multiple: int = 16) -> list[tuple[int, int]]:
    """(height, width) per ratio, about `area` pixels each, sides rounded to `multiple` (VAE-friendly)."""
    if area <= 0 or multiple <= 0 or not ratios:
        raise ValueError(f"need a positive area and multiple and at least one ratio, got {area}, {multiple}, {ratios}")
    out = []
    for r in ratios:
        h = max(multiple, round(math.sqrt(area / r) / multiple) * multiple)
        w = max(multiple, round(math.sqrt(area * r) / multiple) * multiple)
        out.append((int(h), int(w)))
    return out


def bucket_of(width: float | None, height: float | None, buckets: Sequence[tuple[int, int]]) -> int:
    """Index of the bucket whose aspect ratio is closest (in log ratio) to `width` x `height`; square if unknown."""
    ratio = width / height if width and height else 1.0
    return min(range(len(buckets)), key=lambda i: abs(math.log(ratio * buckets[i][0] / buckets[i][1])))


class BucketBatchSampler(Sampler[list[Any]]):
    """Batches of `batch_size` draws of one bucket, from the draws of `sampler` in its order.

    `sizes[row]` is item `row`'s stored (width, height) (e.g. from a `ClipDataset`'s records); each
    draw goes to its bucket's queue and a batch is yielded when a queue is full, so each batch is one
    shape. Leftovers at the end of the epoch are yielded as smaller batches (or dropped with
    `drop_last`, which then loses those draws' seconds from the epoch). Use as the DataLoader's
    `batch_sampler`; each batch's bucket is `bucket_for(batch)`, the output size `buckets[...]`.
    """

    def __init__(self, sampler: Iterable[Any], sizes: Sequence[tuple[float | None, float | None]],
                 buckets: Sequence[tuple[int, int]], batch_size: int, *, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sampler, self.buckets, self.batch_size, self.drop_last = sampler, list(buckets), batch_size, drop_last
        self._bucket = [bucket_of(w, h, self.buckets) for w, h in sizes]
        self.epoch = 0
        self._skip = 0  # batches to replay silently on the next iteration (resume)
        self._yielded = 0
        self._consumed: int | None = None  # batches the trainer used (`mark_consumed`), when reported
        self._start = 0  # batches skipped at the start of the current iteration (a resume point)
        if hasattr(sampler, "bind_batch_size"):  # the sampler lays ranks out in batches of this size too
            sampler.bind_batch_size(batch_size)

    def bucket_for(self, batch: Sequence[Any]) -> int:
        """The bucket index of a batch this sampler yielded."""
        return self._bucket[_row(batch[0])]

    def size_for(self, batch: Sequence[Any]) -> tuple[int, int]:
        """The output (height, width) of a batch this sampler yielded."""
        return self.buckets[self.bucket_for(batch)]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the wrapped sampler (and forget a resume point of another epoch)."""
        if epoch != self.epoch:
            self._skip = 0
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[Any]]:
        queues: dict[int, list[Any]] = {}
        skip, self._skip = self._skip, 0
        self._yielded = 0
        self._consumed = None
        self._start = skip
        for draw in self.sampler:
            q = queues.setdefault(self._bucket[_row(draw)], [])
            q.append(draw)
            if len(q) == self.batch_size:
                batch = q.copy()
                q.clear()
                self._yielded += 1
                if self._yielded > skip:
                    yield batch
        if not self.drop_last:
            for b in sorted(queues):
                if queues[b]:
                    self._yielded += 1
                    if self._yielded > skip:
                        yield queues[b]

    def __len__(self) -> int:
        counts: dict[int, int] = {}
        for draw in self.sampler:
            b = self._bucket[_row(draw)]
            counts[b] = counts.get(b, 0) + 1
        if self.drop_last:
            return sum(c // self.batch_size for c in counts.values())
        return sum(-(-c // self.batch_size) for c in counts.values())

    def mark_consumed(self, positions: Any = None) -> None:
        """Record that the trainer used one more batch of this epoch (`clip_loader` calls it per batch)."""
        self._consumed = (self._start if self._consumed is None else self._consumed) + 1

    def state_dict(self, consumed_batches: int | None = None) -> dict[str, Any]:
        """Epoch and batches consumed: `consumed_batches`, else as marked (`mark_consumed`), else yielded so far."""
        n = consumed_batches if consumed_batches is not None else (
            self._consumed if self._consumed is not None else self._yielded)
        return {"epoch": self.epoch, "batches": int(n)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: the next iteration replays the epoch's draws and skips the batches already consumed."""
        self.set_epoch(int(state["epoch"]))
        self._skip = int(state["batches"])


def _row(draw: Any) -> int:
    return int(draw[0]) if isinstance(draw, tuple) else int(draw)
