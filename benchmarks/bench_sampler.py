"""Sampler benchmark: planning an epoch over 270,043 rows, and the sampler's cost per batch.

    .venv/bin/python benchmarks/bench_sampler.py [--rows 270043] [--batch 8] [--world 8] [--cache /tmp/fvbench-sampler]

Rows are synthetic DH-FaceVid-1K records in an Arrow `datasets.Dataset` (the shape a built dataset
has): the paper's 204,690 collected clips plus CelebV-HQ 9,841, CelebV-Text 32,595 and
TalkingHead-1KH 22,917; durations 3-15 s for 56.6% and 15-30 s for 43.4% of clips (the paper's
"43.4% longer than 15 s", clips at most 30 s), frame rates 23.976 / 25 / 29.97 / 30.

It prints, for `BalancedSampler` equal mode over `ClipDataset(frames=16, fps=25)` on rank 0 of
`--world` ranks: the time to build the sampler (columns, delivered seconds, window positions) and
to plan the epoch (visit counts, spread order, rank layout); the per-batch time to hand out draws
next to torch's `DistributedSampler` and `WeightedRandomSampler` over the same rows; and the
sampler's share of a measured batch time (ClipDataset plans + VideoCollator decode of 16-frame,
256 px windows from generated H.264 clips, one process). Target: under 1% of the batch time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SOURCES = {"facevid-1k": 204_690, "celebv-text": 32_595, "talkinghead-1kh": 22_917, "celebv-hq": 9_841}


def synthetic_dataset(rows: int, seed: int = 0):
    """An Arrow dataset of `rows` records with realistic durations, rates and sources (no media)."""
    import datasets

    rng = np.random.default_rng(seed)
    total = sum(SOURCES.values())
    counts = {s: int(round(n * rows / total)) for s, n in SOURCES.items()}
    counts["facevid-1k"] += rows - sum(counts.values())
    source = np.repeat(list(counts), list(counts.values()))
    long_ = rng.random(rows) < 0.434
    seconds = np.where(long_, rng.uniform(15, 30, rows), rng.uniform(3, 15, rows))
    fps = rng.choice([23.976, 25.0, 29.97, 30.0], rows)
    frames = np.floor(seconds * fps).astype(np.int64)
    return datasets.Dataset.from_dict({
        "clip_id": [f"clip{i:06d}" for i in range(rows)],
        "video": [{"path": f"/data/clip{i:06d}.mp4", "bytes": None} for i in range(rows)],
        "source": source.tolist(),
        "fps": fps.tolist(),
        "num_frames": frames.tolist(),
        "duration": (frames / fps).tolist(),
        "audio_source": ["video"] * rows,
    })


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def per_batch_draws(sampler, batch: int, batches: int) -> float:
    """Seconds per batch to take `batches` batches of indices from an already planned sampler."""
    it = iter(sampler)
    next(it)  # epoch set-up happens at the first index; timed apart
    t = time.perf_counter()
    for _ in range(batches * batch):
        next(it)
    return (time.perf_counter() - t) / batches


def measured_batch_time(cache: Path, batch: int, batches: int) -> float:
    """Seconds per batch for plans + decode of 16-frame 256 px windows (one process, no workers)."""
    from facevid_datasets.schema import empty_record
    from facevid_datasets.testing import make_index_video
    from facevid_datasets.training import AudioOptions, ClipDataset, VideoCollator

    cache.mkdir(parents=True, exist_ok=True)
    recs = []
    for i in range(4):
        path = cache / f"clip{i}.mp4"
        if not path.exists():
            make_index_video(path, num_frames=250, fps=25.0, size=(256, 256), gop=16)
        r = empty_record()
        r.update(clip_id=path.stem, video={"path": str(path), "bytes": None}, audio_source="video", fps=25.0,
                 num_frames=250, duration=10.0, width=256, height=256)
        recs.append(r)
    ds = ClipDataset(recs, frames=16, seed=0)
    col = VideoCollator(256, audio=AudioOptions(window=2))
    col([ds[0]])  # warm up
    t = time.perf_counter()
    for b in range(batches):
        col([ds[(b * batch + j) % len(ds)] for j in range(batch)])
    return (time.perf_counter() - t) / batches


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=270_043)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--world", type=int, default=8)
    p.add_argument("--batches", type=int, default=200, help="batches timed for the per-batch figures")
    p.add_argument("--decode-batches", type=int, default=6)
    p.add_argument("--cache", type=Path, default=Path("/tmp/fvbench-sampler"))
    args = p.parse_args()

    import torch
    from torch.utils.data import DistributedSampler, WeightedRandomSampler

    from facevid_datasets.training import BalancedSampler, ClipDataset

    t_data, hf = timed(lambda: synthetic_dataset(args.rows))
    print(f"synthetic dataset: {args.rows} rows, {sum(hf['duration']) / 3600:.0f} h ({t_data:.1f} s to make)")
    t_clips, clips = timed(lambda: ClipDataset(hf, frames=16, fps=25))
    t_build, sampler = timed(lambda: BalancedSampler(clips, "source", "equal", seed=0, batch_size=args.batch,
                                                     rank=0, world_size=args.world))
    t_plan, order = timed(lambda: sampler.global_order(0), repeat=3)
    t_layout, n_rank = timed(lambda: len(sampler))  # plans again, then lays out rank 0 and checks steps
    windows = len(order)
    print(f"ClipDataset over the rows:         {t_clips:7.2f} s")
    print(f"BalancedSampler build (columns):   {t_build:7.2f} s")
    print(f"plan the epoch (best of 3):        {t_plan:7.2f} s  -> {windows:,} windows "
          f"({windows * 0.64 / 3600:.0f} h delivered, each stored second once on average)")
    print(f"plan + rank layout + step check:   {t_layout:7.2f} s  -> {n_rank:,} windows on rank 0 of {args.world}")
    print(sampler.format_report(whole_epoch=True))

    ours = per_batch_draws(sampler, args.batch, args.batches)
    ds = DistributedSampler(range(windows), num_replicas=args.world, rank=0, shuffle=True, seed=0)
    t_ds_plan, _ = timed(lambda: next(iter(ds)))
    dist_batch = per_batch_draws(ds, args.batch, args.batches)
    weights = torch.as_tensor(np.asarray(sampler.weights, dtype=np.float64))
    wrs = WeightedRandomSampler(weights, num_samples=windows // args.world, replacement=True)
    t_wrs, _ = timed(lambda: next(iter(wrs)))
    wrs_batch = per_batch_draws(wrs, args.batch, args.batches)
    print(f"\nper batch of {args.batch} indices (planned, rank 0):")
    print(f"  BalancedSampler            {1e6 * ours:8.1f} us")
    print(f"  DistributedSampler         {1e6 * dist_batch:8.1f} us   (its epoch set-up {t_ds_plan:.2f} s)")
    print(f"  WeightedRandomSampler      {1e6 * wrs_batch:8.1f} us   (its epoch set-up {t_wrs:.2f} s)")

    batch_time = measured_batch_time(args.cache, args.batch, args.decode_batches)
    batches_per_epoch = max(1, n_rank // args.batch)
    amortised = t_layout / batches_per_epoch
    share = (ours + amortised) / batch_time
    print(f"\nmeasured batch time (plans + decode, {args.batch} x 16 frames at 256 px, 1 process): "
          f"{1000 * batch_time:.0f} ms")
    print(f"sampler per batch: {1e6 * ours:.1f} us draws + {1e6 * amortised:.1f} us epoch planning amortised over "
          f"{batches_per_epoch:,} batches = {100 * share:.3f}% of the batch time (target < 1%)")


if __name__ == "__main__":
    main()
