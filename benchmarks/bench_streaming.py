"""Streaming against map-style loading of the same clips with keypoints, side by side in one run.

    .venv/bin/python benchmarks/bench_streaming.py [--clips DIR] [--workers 2] [--batch 4] [--frames 16] \
        [--windows 160] [--shards 8]

Clips: the real 256 px DH-FaceVid-1K calibration clips in --clips (default
/work/shared/real/dhfv-calibration; any folder of .mp4 works), each given synthetic 68-point
keypoints (x, y, confidence) for every frame, plus per-frame head pose and face boxes, as
DH-FaceVid-1K ships them. Records are typed with `FEATURES`, in an Arrow `datasets.Dataset`.

Rows, each the same `VideoCollator(256)` decode (16-frame windows, 25 fps, audio, keypoints) in
`--workers` DataLoader workers, `--windows` windows per row:

  map_style        BalancedSampler(ClipDataset(ds)) through clip_loader
  streaming        StreamingClipDataset(ds.to_iterable_dataset(num_shards=--shards)) through clip_loader:
                   typed Arrow rows, side arrays stay arrays (the path a release or export streams on)
  streaming_rows   the same stream read as Python rows (every keypoint a Python float: the path
                   streams took before, kept here as the reference for the change)

Printed: clips/s (wall, after one warm-up batch) and ratio to map_style; plans/s (rows to plans in one
process, no decoding: the part that differs between the paths) and ratio; shards per stream.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def records(folder: Path, seed: int = 0) -> list[dict]:
    """Typed records of every .mp4 in `folder`, with synthetic per-frame keypoints, head pose and boxes."""
    from facevid_datasets.media import probe
    from facevid_datasets.schema import empty_record

    rng = np.random.default_rng(seed)
    out = []
    for p in sorted(folder.glob("*.mp4")):
        info = probe(p)
        n, w, h = info.num_frames, info.width, info.height
        centre = np.array([w / 2, h / 2]) + rng.normal(0, 2, (n, 1, 2))
        pts = np.concatenate([centre + rng.normal(0, w / 8, (n, 68, 2)), rng.uniform(0.5, 1, (n, 68, 1))], -1)
        r = empty_record()
        r.update(clip_id=p.stem, source="dh-facevid", video={"path": str(p), "bytes": None},
                 audio_source="video" if info.has_audio else "none", fps=info.fps, num_frames=n,
                 duration=info.duration, width=w, height=h,
                 keypoints={"format": "ibug68", "points": pts.astype(np.float32).tolist()},
                 head_pose={"label": "front", **{k: rng.normal(0, 5, n).astype(np.float32).tolist()
                                                 for k in ("yaw", "pitch", "roll")}},
                 face_boxes={"detector": "synthetic",
                             "boxes": [[w / 4, h / 4, 3 * w / 4, 3 * h / 4, 1.0]] * n})
        out.append(r)
    return out


def run(loader, windows: int, batch: int) -> float:
    """Clips per second over `windows` windows, timed after the first batch (worker start-up excluded)."""
    it = iter(loader)
    next(it)
    t0 = time.perf_counter()
    n = 0
    for b in it:
        n += len(b["clip_id"])
        assert b["keypoints"].shape[-1] == 3
        if n >= windows - batch:
            break
    return n / (time.perf_counter() - t0)


def plans_per_s(loader, n: int) -> float:
    """Plans per second in this process, no decoding: the cost of turning stored rows into plans
    (keypoints, head pose, boxes for the window), where streams used to fall behind."""
    dataset, sampler = loader.dataset, loader.sampler
    if hasattr(dataset, "reader_draws"):
        dataset.num_workers = None  # planned here, in one process
    t0 = time.perf_counter()
    count = 0
    items = iter(dataset) if hasattr(dataset, "reader_draws") else (dataset[d] for d in sampler)
    for _ in items:
        count += 1
        if count >= n:
            break
    return count / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=Path, default=Path("/work/shared/real/dhfv-calibration"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--windows", type=int, default=160)
    p.add_argument("--shards", type=int, default=8)
    args = p.parse_args()

    import datasets

    import facevid_datasets as fd
    from facevid_datasets.schema import FEATURES

    recs = records(args.clips)
    ds = datasets.Dataset.from_list(recs, features=FEATURES)
    print(f"{len(recs)} clips from {args.clips}, {sum(r['num_frames'] for r in recs)} frames with 68 keypoints each; "
          f"{args.workers} workers, batch {args.batch}, {args.frames}-frame windows, {args.windows} windows per row")
    col = fd.VideoCollator(256)
    n = args.windows + 2 * args.batch

    def map_style():
        clips = fd.ClipDataset(ds, frames=args.frames)
        sampler = fd.BalancedSampler(clips, "source", "natural", num_samples=n, batch_size=args.batch)
        return fd.clip_loader(clips, col, sampler=sampler, num_workers=args.workers), 0

    def streaming():
        stream = ds.to_iterable_dataset(num_shards=args.shards)
        sds = fd.StreamingClipDataset(stream, frames=args.frames, num_samples=n, batch_size=args.batch)
        return fd.clip_loader(sds, col, num_workers=args.workers), stream.num_shards

    def streaming_rows():
        stream = ds.to_iterable_dataset(num_shards=args.shards)
        stream.info.features = None  # read as Python rows (`stream.iter`), as every stream was before
        sds = fd.StreamingClipDataset(stream, frames=args.frames, num_samples=n, batch_size=args.batch)
        return fd.clip_loader(sds, col, num_workers=args.workers), stream.num_shards

    results = {}
    for name, make in (("map_style", map_style), ("streaming", streaming), ("streaming_rows", streaming_rows)):
        loader, shards = make()
        planned = plans_per_s(make()[0], n)  # a fresh one: the loader's is set for its workers
        results[name] = (run(loader, args.windows, args.batch), planned, shards)
    base, base_plans = results["map_style"][:2]
    print(f"{'row':<16} {'clips/s':>8} {'ratio':>6} {'plans/s':>8} {'ratio':>6} {'shards':>6}")
    for name, (rate, planned, shards) in results.items():
        print(f"{name:<16} {rate:8.2f} {rate / base:6.2f} {planned:8.1f} {planned / base_plans:6.2f} "
              f"{shards or '-':>6}")


if __name__ == "__main__":
    main()
