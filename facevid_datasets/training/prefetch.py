"""Run the collator where decoding is fastest: CPU worker processes, or NVDEC in the main process.

torchcodec cannot create CUDA decoders inside DataLoader worker processes, so on CUDA the workers
plan clips and decode their audio (`VideoCollator.prepare`), and `CudaPrefetcher` decodes the video
of the next batches on NVDEC in background threads of the main process, on side CUDA streams, while
the current training step runs: `depth` batches are in flight at once and each spreads its files
over the collator's decode sessions (one per NVDEC engine), so the engines work side by side.
`clip_loader` also wires the collator's replacement hook (a failed clip is replaced by one of its
group) and keeps an epoch report.
"""

from __future__ import annotations

import copy
import queue
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from .collate import VideoCollator
from .recovery import EpochReport, Replacer
from .sampling.streaming import StreamingClipDataset


class CudaPrefetcher:
    """Decodes batches of plans (or `Prepared` clips) from `loader` with `collator` on the GPU, `depth`
    batches in flight at once (each in its own thread and side CUDA stream), yielded in order."""

    def __init__(self, loader: Iterable[list[Any]], collator: VideoCollator, depth: int = 3):
        if collator.device.type != "cuda":
            raise ValueError("CudaPrefetcher needs a collator with a CUDA device")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.loader, self.collator, self.depth = loader, collator, depth

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        device = self.collator.device
        streams: queue.Queue = queue.Queue()
        for _ in range(self.depth):
            streams.put(torch.cuda.Stream(device=device))

        def collate(plans: list[Any]) -> tuple[dict[str, Any], torch.cuda.Event]:
            stream = streams.get()
            try:
                with torch.cuda.device(device), torch.cuda.stream(stream):
                    batch = self.collator(plans)
                    event = torch.cuda.Event()
                    event.record(stream)
                return batch, event
            finally:
                streams.put(stream)

        def hand_over(fut: Future) -> dict[str, Any]:
            batch, event = fut.result()  # re-raises a decode error in the training thread
            current = torch.cuda.current_stream(device)
            current.wait_event(event)
            for v in batch.values():
                if isinstance(v, torch.Tensor) and v.is_cuda:
                    v.record_stream(current)
            return batch

        pool = ThreadPoolExecutor(self.depth, thread_name_prefix="facevid-nvdec")
        pending: deque[Future] = deque()
        try:
            for plans in self.loader:
                pending.append(pool.submit(collate, plans))
                if len(pending) >= self.depth:
                    yield hand_over(pending.popleft())
            while pending:
                yield hand_over(pending.popleft())
        finally:
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


class ClipLoader:
    """Decoded batches of one epoch per iteration, with `report`: that epoch's failures by file and
    reason (read from each batch's `errors`, so it counts clips decoded in worker processes too).

    The loader keeps the resume bookkeeping itself (as MosaicML streaming's `StreamingDataLoader`):
    each batch it hands over is marked consumed on `resumable` (the sampler, batch sampler or
    streamed dataset that plans the epoch), so `state_dict()` after any step resumes exactly after
    it, however far the workers have read ahead; no `mark_consumed` call in the training loop."""

    def __init__(self, batches: Iterable[dict[str, Any]], dataloader: DataLoader, collator: VideoCollator,
                 resumable: Any = None):
        self.batches, self.dataloader, self.collator, self.resumable = batches, dataloader, collator, resumable
        self.report = EpochReport()

    def __len__(self) -> int:
        return len(self.dataloader)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.report = EpochReport()
        for batch in self.batches:
            self.report.add(batch)
            if self.resumable is not None:
                self.resumable.mark_consumed(batch["position"])
            yield batch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of whatever plans it (sampler, batch sampler, streamed dataset)."""
        for owner in (self.resumable, self.dataloader.dataset):
            if hasattr(owner, "set_epoch"):
                owner.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Where the epoch stands after the batches handed over so far (the planner's own state)."""
        if self.resumable is None:
            raise TypeError("this loader's sampler keeps no resume state: use a BalancedSampler, a "
                            "BucketBatchSampler or a StreamingClipDataset to resume mid-epoch")
        return self.resumable.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue a saved epoch (see the planner's `load_state_dict`)."""
        if self.resumable is None:
            raise TypeError("this loader's sampler keeps no resume state")
        self.resumable.load_state_dict(state)

    def __getattr__(self, name: str) -> Any:  # the DataLoader's attributes (dataset, sampler, batch_size...)
        if name in ("batches", "dataloader", "collator", "report", "resumable"):
            raise AttributeError(name)
        return getattr(self.dataloader, name)


def clip_loader(
    dataset: Dataset | IterableDataset,
    collator: VideoCollator,
    *,
    batch_size: int | None = None,
    sampler: Sampler | None = None,
    num_workers: int = 0,
    prefetch_factor: int | None = None,
    persistent_workers: bool = False,
    multiprocessing_context: str | None = None,
    depth: int = 3,
    replace: bool = True,
    seed: int = 0,
) -> ClipLoader:
    """Batches of decoded clips: on CPU the collator decodes in `num_workers` processes; on CUDA the
    workers plan and decode audio and the main process decodes video on NVDEC, `depth` batches ahead.

    `sampler`: a sampler of items (`BalancedSampler`, `DistributedSampler`, ...) or of whole batches
    (`BucketBatchSampler`, `torch.utils.data.BatchSampler`). `batch_size` is taken from the sampler
    (or the streamed dataset) when not given; given to both, the two must agree; given here only, the
    sampler adopts it. The loader marks each batch it hands over consumed (`ClipLoader`), so its
    `state_dict()` resumes exactly.

    With `replace` (map-style datasets), a clip that fails is replaced by another of its group
    (`sampler.replacement_row`, else a uniformly random row) through a copy of `collator` whose
    `replace` hook is set; the returned loader's `report` counts the epoch's failures.
    Under torch.distributed pass `multiprocessing_context="forkserver"`: forking a process that runs
    communication threads can deadlock a worker."""
    cuda = collator.device.type == "cuda"
    map_style = not isinstance(dataset, IterableDataset) and hasattr(dataset, "__len__")
    batch_sampler, batch_size = _batching(dataset, sampler, batch_size)
    if batch_sampler is not None:
        sampler = getattr(batch_sampler, "sampler", None)  # the item sampler inside (replacement rows)
    if replace and map_style and collator.replace is None:
        collator = copy.copy(collator)
        collator.replace, collator.report = Replacer(dataset, sampler, seed), EpochReport()
    if isinstance(dataset, StreamingClipDataset):  # its shards and resume point follow the worker count
        dataset.num_workers = num_workers
    kwargs: dict[str, Any] = {}
    if num_workers > 0 and not cuda:  # loaded once here: forked workers inherit it instead of each importing it
        import torchvision.transforms.v2.functional  # noqa: F401
    if num_workers > 0:
        kwargs.update(persistent_workers=persistent_workers, multiprocessing_context=multiprocessing_context)
        if prefetch_factor is not None:
            kwargs.update(prefetch_factor=prefetch_factor)
    if batch_sampler is not None:
        kwargs.update(batch_sampler=batch_sampler)
    else:
        kwargs.update(batch_size=batch_size, sampler=sampler)
    loader = DataLoader(
        dataset,
        num_workers=num_workers,
        collate_fn=collator.prepare if cuda else collator,
        **kwargs,
    )
    planner = batch_sampler if batch_sampler is not None else sampler
    resumable = next((p for p in (planner, dataset) if hasattr(p, "mark_consumed") and hasattr(p, "state_dict")),
                     None)
    return ClipLoader(CudaPrefetcher(loader, collator, depth=depth) if cuda else loader, loader, collator, resumable)


def _batching(dataset: Any, sampler: Any, batch_size: int | None) -> tuple[Any, int]:
    """(the batch sampler or None, the batch size): one batch size for loader and sampler (see `clip_loader`)."""
    from torch.utils.data import BatchSampler

    from .buckets import BucketBatchSampler

    if isinstance(sampler, BatchSampler | BucketBatchSampler):
        own = int(sampler.batch_size)
        if batch_size is not None and batch_size != own:
            raise ValueError(f"the loader's batch_size={batch_size} differs from the batch sampler's batch_size="
                             f"{own}: give it to the batch sampler only")
        return sampler, own
    for planner in (sampler, dataset):
        if hasattr(planner, "bind_batch_size"):
            return None, int(planner.bind_batch_size(batch_size))
    return None, 1 if batch_size is None else batch_size
