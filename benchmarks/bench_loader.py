"""Training-loader benchmark: the same random 16-frame clips through four ways of loading them.

    .venv/bin/python benchmarks/bench_loader.py [--workers 2] [--clips 48] [--cache ~/.cache/facevid-bench]

Sources: 20-24 s H.264 clips (testsrc2 with motion, AAC audio, x264's default 250-frame GOP as in
typical downloads) at 1920x1080 and 512x512, generated once with ffmpeg into --cache. Every
method gets the same (file, start frame) list, the same DataLoader worker count, and returns
uint8 (B, 16, 3, 512, 512) batches (centre crop + resize):

  decode_all    decode the whole file, then index the 16 frames (what some training repos do)
  decord_new    a new decord VideoReader per item
  tc_new        a new torchcodec VideoDecoder per item (seek_mode="exact", the default)
  loader        ClipDataset + VideoCollator (+ 16 kHz audio with +-2 frame windows) on the originals
  tc_new_copy   tc_new on the training copies (what the copies give without this loader)
  loader_copy   the loader on training copies (training_copies: 512 px short side, GOP 16, no B-frames,
                -tune fastdecode); their one-time encode cost is reported apart

Each method runs in its own process (peak RSS = the largest process of that run, main or worker).
With --gpu (and a CUDA device) it adds NVDEC rows: the loader on the GPU and raw NVDEC throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

FRAMES, SIZE, BATCH = 16, 512, 4
SOURCES = {"1080p": ((1920, 1080), 20.0, 3), "512p": ((512, 512), 24.0, 3)}


def make_sources(cache: Path) -> dict[str, list[Path]]:
    """Generate the benchmark sources once (ffmpeg testsrc2 + sine, libx264 defaults)."""
    from facevid_datasets.media import run_ffmpeg

    out: dict[str, list[Path]] = {}
    for name, ((w, h), dur, count) in SOURCES.items():
        out[name] = []
        for i in range(count):
            path = cache / f"src_{name}_{i}.mp4"
            tmp = path.with_suffix(".tmp.mp4")
            if not path.exists():
                print(f"generating {path} ...", flush=True)
                run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=25:duration={dur}",
                            "-f", "lavfi", "-i", f"sine=frequency={300 + 100 * i}:duration={dur}:sample_rate=44100",
                            "-vf", f"rotate=0.2*sin(t+{i}):fillcolor=gray", "-c:v", "libx264", "-preset", "veryfast",
                            "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(tmp)], path)
                tmp.rename(path)
            out[name].append(path)
    return out


def records_for(paths: list[Path]) -> list[dict]:
    from facevid_datasets.media import probe
    from facevid_datasets.schema import empty_record

    recs = []
    for p in paths:
        info = probe(p)
        r = empty_record()
        r.update(clip_id=p.stem, video={"path": str(p), "bytes": None}, audio_source="video", fps=info.fps,
                 num_frames=info.num_frames, duration=info.duration, width=info.width, height=info.height)
        recs.append(r)
    return recs


def clip_list(recs: list[dict], n: int, seed: int = 0) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    return [(int(i), int(rng.integers(0, recs[i]["num_frames"] - FRAMES + 1))) for i in rng.integers(0, len(recs), n)]


def _crop_resize(frames: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms.v2 import functional as TF

    h, w = frames.shape[-2:]
    s = min(h, w)
    return TF.resized_crop(frames, (h - s) // 2, (w - s) // 2, s, s, [SIZE, SIZE], antialias=True)


class BaselineItems(torch.utils.data.Dataset):
    def __init__(self, method: str, recs: list[dict], clips: list[tuple[int, int]]):
        self.method, self.recs, self.clips = method, recs, clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> torch.Tensor:
        r, start = self.clips[i]
        path = self.recs[r]["video"]["path"]
        idx = list(range(start, start + FRAMES))
        if self.method == "decord_new":
            import decord

            vr = decord.VideoReader(path, num_threads=1)
            frames = torch.from_numpy(vr.get_batch(idx).asnumpy()).permute(0, 3, 1, 2)
        else:
            from torchcodec.decoders import VideoDecoder

            dec = VideoDecoder(path, num_ffmpeg_threads=1)
            if self.method in ("tc_new", "tc_new_copy"):
                frames = dec.get_frames_at(idx).data
            else:  # decode_all
                frames = dec.get_frames_in_range(0, len(dec)).data[idx]
        return _crop_resize(frames)


def run_one(method: str, name: str, cache: Path, n: int, workers: int, device: str) -> dict:
    """One method on one source set, in this process; returns its figures."""
    from facevid_datasets.training import ClipDataset, VideoCollator, clip_loader
    from facevid_datasets.training.plan import Draw

    srcs = make_sources(cache)[name]
    recs = records_for(srcs)
    if method.endswith("_copy"):
        recs = json.loads((cache / f"copies_{name}.json").read_text())
    clips = clip_list(recs, n)
    t0 = time.perf_counter()
    if method.startswith("loader"):
        ds = ClipDataset(recs, frames=FRAMES, start="first")
        spec = ds.spec

        class Fixed(torch.utils.data.Dataset):  # the shared clip list, as ClipPlans
            def __len__(self) -> int:
                return len(clips)

            def __getitem__(self, i: int):
                r, start = clips[i]
                spec.start = start / recs[r]["fps"]
                return ds[Draw(r)]

        col = VideoCollator(SIZE, dtype=torch.uint8, device=device, audio_window=2)
        loader = clip_loader(Fixed(), col, batch_size=BATCH, num_workers=workers,
                             prefetch_factor=2 if workers else None)
        count = 0
        for batch in loader:
            count += batch["video"].shape[0]
            if device == "cuda":
                torch.cuda.synchronize()
    else:
        loader = torch.utils.data.DataLoader(BaselineItems(method, recs, clips), batch_size=BATCH, num_workers=workers,
                                             prefetch_factor=2 if workers else None)
        count = sum(b.shape[0] for b in loader)
    dt = time.perf_counter() - t0
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"method": method, "source": name, "clips": count, "seconds": dt, "clips_per_s": count / dt,
            "frames_per_s": count * FRAMES / dt, "peak_rss_mb": max(self_rss, child_rss) / 1024}


def profile(name: str, cache: Path, n: int, copies: bool) -> dict[str, float]:
    """Where the loader's time goes, per clip, in one process."""
    from facevid_datasets.training import ClipDataset, VideoCollator

    recs = json.loads((cache / f"copies_{name}.json").read_text()) if copies else records_for(make_sources(cache)[name])
    ds = ClipDataset(recs, frames=FRAMES, seed=1)
    col = VideoCollator(SIZE, dtype=torch.uint8, audio_window=2)
    parts = {"plan": 0.0, "open+decode": 0.0, "resize": 0.0, "audio": 0.0}
    for i in range(2):  # warm-up: library loading and first-call set-up are not per-clip costs
        col.decode_one(ds[i % len(ds)])
    for i in range(n):
        t = time.perf_counter()
        plan = ds[i % len(ds)]
        t1 = time.perf_counter()
        frames, pts = col.decode_frames(plan)
        t2 = time.perf_counter()
        col.transform(plan, frames)
        t3 = time.perf_counter()
        col._audio(plan, pts.numpy() + 0.0)
        t4 = time.perf_counter()
        for k, v in zip(parts, (t1 - t, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[k] += v
    return {k: 1000 * v / n for k, v in parts.items()}


def nvdec_capacity(name: str, cache: Path) -> dict:
    """Raw NVDEC throughput: sequential decode of every source file at once from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    from torchcodec.decoders import VideoDecoder

    paths = make_sources(cache)[name]

    def decode_all(p: Path) -> int:
        dec = VideoDecoder(str(p), device="cuda")
        n = 0
        for i in range(0, len(dec), 32):
            n += dec.get_frames_in_range(i, min(len(dec), i + 32)).data.shape[0]
        return n

    out = {}
    for threads in (1, 7):
        t = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            frames = sum(pool.map(decode_all, paths * max(1, threads // len(paths) + 1)))
        torch.cuda.synchronize()
        out[f"sequential_{threads}_threads_fps"] = frames / (time.perf_counter() - t)
    return out


def _run(cmd: list[str]) -> dict:
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description="facevid training-loader benchmark")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "facevid-bench")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--clips", type=int, default=48, help="clips per method (decode_all gets a quarter)")
    p.add_argument("--gpu", action="store_true", help="add the NVDEC rows (needs CUDA)")
    p.add_argument("--one", nargs=3, metavar=("METHOD", "SOURCE", "N"), help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.one:
        method, name, n = args.one
        print(json.dumps(run_one(method, name, args.cache, int(n), args.workers, args.device)))
        return

    srcs = make_sources(args.cache)
    from facevid_datasets.training import training_copies

    copy_cost = {}
    for name, paths in srcs.items():
        out, cost_file = args.cache / f"copies_{name}.json", args.cache / f"copies_{name}.seconds"
        t = time.perf_counter()
        copies = training_copies(records_for(paths), args.cache / "copies", short_side=SIZE, gop=16,
                                 num_threads=1)
        if not cost_file.exists():  # the copies were made just now: that is their one-time cost
            cost_file.write_text(f"{time.perf_counter() - t:.1f}")
        copy_cost[name] = float(cost_file.read_text())
        out.write_text(json.dumps(copies))
    methods = ["decode_all", "decord_new", "tc_new", "loader", "tc_new_copy", "loader_copy"]
    rows = []
    for name in srcs:
        for m in methods:
            n = max(3 * BATCH, args.clips // 4) if m == "decode_all" else args.clips
            if name == "1080p" and m not in ("loader_copy", "tc_new_copy", "decode_all"):
                n = max(BATCH, n // 2)
            cmd = [sys.executable, __file__, "--one", m, name, str(n), "--workers", str(args.workers),
                   "--cache", str(args.cache)]
            res = _run(cmd)
            rows.append(res)
            print(f"{name:6s} {m:12s} {res['clips']:4d} clips {res['clips_per_s']:7.2f} clips/s "
                  f"{res['frames_per_s']:8.1f} frames/s  peak RSS {res['peak_rss_mb']:7.0f} MB", flush=True)
        if args.gpu and torch.cuda.is_available():
            for m in ("loader", "loader_copy"):
                cmd = [sys.executable, __file__, "--one", m, name, str(args.clips), "--workers", str(args.workers),
                       "--cache", str(args.cache), "--device", "cuda"]
                res = _run(cmd)
                res["method"] = m + "_nvdec"
                rows.append(res)
                print(f"{name:6s} {res['method']:12s} {res['clips']:4d} clips {res['clips_per_s']:7.2f} clips/s "
                      f"{res['frames_per_s']:8.1f} frames/s  peak RSS {res['peak_rss_mb']:7.0f} MB", flush=True)
            print(f"{name:6s} NVDEC capacity (sequential decode, frames/s): {nvdec_capacity(name, args.cache)}")
    print(f"\nworkers per method: {args.workers}; one-time training-copy encode (1 ffmpeg at a time): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in copy_cost.items()))
    for name in srcs:
        base = [r for r in rows if r["source"] == name and r["method"] in ("decode_all", "decord_new", "tc_new")]
        best = max(base, key=lambda r: r["clips_per_s"])
        for r in rows:
            if r["source"] == name and r["method"].startswith("loader"):
                print(f"{name}: {r['method']} = {r['clips_per_s'] / best['clips_per_s']:.2f}x the best baseline "
                      f"({best['method']}, {best['clips_per_s']:.2f} clips/s)")
        same = {r["method"]: r["clips_per_s"] for r in rows if r["source"] == name}
        if same.get("tc_new_copy"):  # what the copies alone give, without this loader
            print(f"{name}: on the same training copies, loader_copy = "
                  f"{same['loader_copy'] / same['tc_new_copy']:.2f}x a new torchcodec decoder per item")
    for name in srcs:
        for copies in (False, True):
            prof = profile(name, args.cache, 16, copies)
            label = "copies" if copies else "originals"
            print(f"{name} {label}: ms per clip in one process: " + ", ".join(f"{k} {v:.0f}" for k, v in prof.items()))


if __name__ == "__main__":
    main()
