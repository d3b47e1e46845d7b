"""Training-loader benchmark on original (long-GOP) files: per-item baselines against the loader with
GOP amortisation off and on, side by side in one run, ratios printed.

    .venv/bin/python benchmarks/bench_loader.py [--workers 2] [--visits 12] [--k 4] [--batch 8] \
        [--cache /tmp/fvbench] [--copies] [--gpu]

Sources: 20 s 1920x1080 and 24 s 512x512 H.264 clips (testsrc2 with motion, AAC audio, x264's
default 250-frame GOP and B-frames, as in downloads and the DH-FaceVid-1K release), plus 10 s and
60 s 512x512 clips for the random-window cost, generated once with ffmpeg into --cache.

The windows: `--visits` visits, each to a random file, each reading `--k` 16-frame windows whose
starts are uniform over the file (the sampler's own `facevid_datasets.training.plan.visit_starts`, "consecutive":
the k windows tile one stretch from a uniform anchor; "independent": k independent starts, what a
sampler's windows_per_visit gives without placement). Every method gets the same windows, the same
DataLoader worker count (equal cores) and returns uint8 (B, 16, 3, 512, 512) batches (crop + resize):

  tc_new          a new torchcodec VideoDecoder per item (seek_mode="exact", the default), video only
  decord_new      a new decord VideoReader per item, video only
  vloader         anchor, not a peer: decord.VideoLoader, random file order, sequential windows (not
                  random starts), one process with decord's own threads
  loader_off      VideoCollator, one decoder per clip, no reader cache (amortisation off)
  loader_indep    VideoCollator, one pass per file per batch + reader cache, independent starts
  loader_on       VideoCollator, one pass per file per batch + reader cache, consecutive windows
  (--copies)      tc_new_copy / loader_copy: the same on training copies (GOP 16, 512 px)
  (--gpu)         loader_gpu (7 NVDEC sessions) and loader_gpu_1s (one session) on CUDA, NVDEC use sampled
                  from `nvidia-smi dmon -s u` (dec column); ratio to loader_on (CPU) at 1080p

The loader rows also decode 16 kHz audio with +-2 frame windows and keypoint/mask tensors; the
baselines decode video only. Figures: clips/s (wall), CPU ms per clip (the method process and its
workers, so a loaded machine shows in clips/s but less in CPU ms), peak RSS of the largest process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

FRAMES, SIZE = 16, 512
SOURCES = {"1080p": ((1920, 1080), 20.0, 3), "512p": ((512, 512), 24.0, 3)}
LENGTHS = {"10s": ((512, 512), 10.0, 1), "60s": ((512, 512), 60.0, 1)}
BASELINES = ("tc_new", "decord_new")


def make_sources(cache: Path, sets: dict = SOURCES) -> dict[str, list[Path]]:
    """Generate the benchmark sources once (ffmpeg testsrc2 + sine, libx264 defaults)."""
    from facevid_datasets.media import run_ffmpeg

    out: dict[str, list[Path]] = {}
    for name, ((w, h), dur, count) in sets.items():
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


def visit_windows(recs: list[dict], visits: int, k: int, layout: str, seed: int = 0) -> list[list[tuple[int, int]]]:
    """`visits` lists of k (record, start frame) windows, each start uniform over its file."""
    from facevid_datasets.training.plan import visit_starts

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(visits):
        r = int(rng.integers(len(recs)))
        positions = recs[r]["num_frames"] - FRAMES + 1
        starts = (visit_starts(positions, k, FRAMES, rng) if layout == "consecutive"
                  else rng.integers(0, positions, k))  # "independent": k uniform starts, no placement
        out.append([(r, int(s)) for s in starts])
    return out


def _crop_resize(frames: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms.v2 import functional as TF

    h, w = frames.shape[-2:]
    s = min(h, w)
    return TF.resized_crop(frames, (h - s) // 2, (w - s) // 2, s, s, [SIZE, SIZE], antialias=True)


class BaselineItems(torch.utils.data.Dataset):
    """One window per item through a new decoder, as per-item training datasets do."""

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

            frames = VideoDecoder(path, num_ffmpeg_threads=1).get_frames_at(idx).data
        return _crop_resize(frames)


class PlannedBatches(torch.utils.data.Dataset):
    """Item b is batch b: a list of ClipPlans (visits packed in order), collated by the VideoCollator."""

    def __init__(self, recs: list[dict], batches: list[list[tuple[int, int]]]):
        from facevid_datasets.training import ClipDataset

        self.clips = ClipDataset(recs, frames=FRAMES, start="first")
        self.recs, self.batches = recs, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> list:
        from facevid_datasets.training.plan import make_plan

        spec, rng = self.clips.spec, np.random.default_rng(b)
        return [make_plan(self.recs[r], replace(spec, start=s / self.recs[r]["fps"]), rng, row=r)
                for r, s in self.batches[b]]


class DecSampler:
    """NVDEC utilisation (%) sampled from `nvidia-smi dmon -s u` (dec column) while a run lasts."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.proc = subprocess.Popen(["nvidia-smi", "dmon", "-s", "u", "-d", "1"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        col = None
        for line in self.proc.stdout:  # type: ignore[union-attr]
            parts = line.split()
            if line.startswith("#") and "dec" in parts:
                col = parts.index("dec") - 1  # the header starts with '#'
            elif col is not None and len(parts) > col and parts[col].replace(".", "").isdigit():
                self.values.append(float(parts[col]))

    def stop(self) -> dict[str, float]:
        self.proc.terminate()
        self.proc.wait()
        v = self.values or [float("nan")]
        return {"nvdec_mean_pct": float(np.mean(v)), "nvdec_max_pct": float(np.max(v)),
                "nvdec_samples": len(self.values)}


def run_one(method: str, name: str, cache: Path, args: argparse.Namespace) -> dict:
    """One method on one source set, in this process (and its DataLoader workers); returns its figures."""
    from facevid_datasets.training import VideoCollator
    from facevid_datasets.training.prefetch import CudaPrefetcher

    recs = records_for(make_sources(cache, {**SOURCES, **LENGTHS})[name])
    if method.endswith("_copy"):
        recs = json.loads((cache / f"copies_{name}.json").read_text())
    layout = "independent" if method == "loader_indep" else "consecutive"
    visits = visit_windows(recs, args.visits, args.k, layout)
    windows = [w for v in visits for w in v]
    batches = [windows[i : i + args.batch] for i in range(0, len(windows), args.batch)]
    workers = args.workers
    extra: dict = {}
    import decord  # noqa: F401  (libraries loaded before the workers fork, for every method alike)
    import torchcodec.decoders  # noqa: F401
    import torchvision.transforms.v2.functional  # noqa: F401
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # setup (ffprobe of the sources) is not loading
    t0, c0 = time.perf_counter(), time.process_time()
    count = 0
    if method == "vloader":
        import decord

        vl = decord.VideoLoader([r["video"]["path"] for r in recs], ctx=[decord.cpu(0)], shape=(FRAMES, SIZE, SIZE, 3),
                                interval=0, skip=0, shuffle=1)
        while count < len(windows):
            try:
                frames, _ = vl.next()
            except StopIteration:  # every file read through: start another pass
                vl.reset()
                continue
            count += 1 if frames.shape[0] == FRAMES else 0
    elif method in BASELINES or method == "tc_new_copy":
        base = "tc_new" if method == "tc_new_copy" else method
        loader = torch.utils.data.DataLoader(BaselineItems(base, recs, windows), batch_size=args.batch,
                                             num_workers=workers, prefetch_factor=2 if workers else None)
        count = sum(b.shape[0] for b in loader)
    else:
        cuda = method.startswith("loader_gpu")
        off = method == "loader_off"
        col = VideoCollator(SIZE, dtype=torch.uint8, audio_window=2, device="cuda" if cuda else "cpu",
                            one_pass=not off, reader_cache=0 if off else None,
                            decode_sessions=1 if method == "loader_gpu_1s" else None)
        loader = torch.utils.data.DataLoader(PlannedBatches(recs, batches), batch_size=None, num_workers=workers,
                                             collate_fn=col.prepare if cuda else col,
                                             prefetch_factor=2 if workers else None)
        sampler = DecSampler() if cuda else None
        for batch in CudaPrefetcher(loader, col) if cuda else loader:
            count += batch["video"].shape[0]
        if cuda:
            torch.cuda.synchronize()
            extra = sampler.stop()  # type: ignore[union-attr]
    dt = time.perf_counter() - t0
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (time.process_time() - c0) + (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    return {"method": method, "source": name, "clips": count, "seconds": dt, "clips_per_s": count / dt,
            "cpu_ms_per_clip": 1000 * cpu / max(count, 1), "peak_rss_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024,
            **extra}


def window_cost(cache: Path, n: int = 12) -> dict[str, dict[str, float]]:
    """CPU ms per random 16-frame window on 10 s against 60 s clips of the same 512 px encoding."""
    from facevid_datasets.training import VideoCollator

    torch.set_num_threads(1)  # one core, as in a DataLoader worker
    out: dict[str, dict[str, float]] = {}
    for name in LENGTHS:
        recs = records_for(make_sources(cache, LENGTHS)[name])
        wins = [w for v in visit_windows(recs, n, 1, "independent", seed=5) for w in v]
        row: dict[str, float] = {}
        base = BaselineItems("tc_new", recs, wins)
        base[0]
        t = time.process_time()
        for i in range(len(wins)):
            base[i]
        row["tc_new"] = 1000 * (time.process_time() - t) / len(wins)
        for label, k in (("loader k=1", 1), ("loader k=4 consecutive", 4)):
            wins = [w for v in visit_windows(recs, max(1, n // k), k, "consecutive", seed=6) for w in v]
            plans = PlannedBatches(recs, [wins[i : i + k] for i in range(0, len(wins), k)])
            col = VideoCollator(SIZE, dtype=torch.uint8, audio_window=2, reader_cache=0 if k == 1 else None)
            col(plans[0])
            t = time.process_time()
            for b in range(len(plans)):
                col(plans[b])
            row[label] = 1000 * (time.process_time() - t) / len(wins)
        out[name] = row
    return out


def _run(cmd: list[str]) -> dict:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.splitlines()[-1])


def _print_row(res: dict) -> None:
    nv = f"  NVDEC mean {res['nvdec_mean_pct']:.0f}% max {res['nvdec_max_pct']:.0f}%" if "nvdec_mean_pct" in res else ""
    print(f"{res['source']:6s} {res['method']:13s} {res['clips']:4d} clips {res['clips_per_s']:7.2f} clips/s "
          f"{res['cpu_ms_per_clip']:7.0f} CPU ms/clip  peak RSS {res['peak_rss_mb']:6.0f} MB{nv}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description="facevid training-loader benchmark (originals, GOP amortisation)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "facevid-bench")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--visits", type=int, default=12, help="visits per method and source (k windows each)")
    p.add_argument("--k", type=int, default=4, help="windows per visit")
    p.add_argument("--batch", type=int, default=8, help="clips per batch")
    p.add_argument("--copies", action="store_true", help="add rows on training copies (encoded once into --cache)")
    p.add_argument("--gpu", action="store_true", help="add the NVDEC rows (needs CUDA and nvidia-smi)")
    p.add_argument("--one", nargs=2, metavar=("METHOD", "SOURCE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.cache, args)))
        return

    srcs = make_sources(args.cache, {**SOURCES, **LENGTHS})
    methods = [*BASELINES, "vloader", "loader_off", "loader_indep", "loader_on"]
    if args.copies:
        from facevid_datasets.training import training_copies

        for name in SOURCES:
            copies = training_copies(records_for(srcs[name]), args.cache / "copies", short_side=SIZE, gop=16)
            (args.cache / f"copies_{name}.json").write_text(json.dumps(copies))
        methods += ["tc_new_copy", "loader_copy"]
    if args.gpu and torch.cuda.is_available():
        methods += ["loader_gpu", "loader_gpu_1s"]
    common = ["--workers", str(args.workers), "--visits", str(args.visits), "--k", str(args.k), "--batch",
              str(args.batch), "--cache", str(args.cache)]
    rows = []
    for name in SOURCES:
        for m in methods:
            res = _run([sys.executable, __file__, "--one", m, name, *common])
            rows.append(res)
            _print_row(res)
    print(f"\n{args.workers} DataLoader workers per method; {args.visits} visits x {args.k} windows, "
          f"batches of {args.batch}; loader rows include audio")
    for name in SOURCES:
        same = {r["method"]: r for r in rows if r["source"] == name}
        best = max((same[m] for m in BASELINES), key=lambda r: r["clips_per_s"])
        best_cpu = min((same[m] for m in BASELINES), key=lambda r: r["cpu_ms_per_clip"])
        for m in ("loader_off", "loader_indep", "loader_on", "loader_copy", "loader_gpu", "loader_gpu_1s"):
            if m in same:
                print(f"{name}: {m:13s} {same[m]['clips_per_s'] / best['clips_per_s']:5.2f}x the best baseline by "
                      f"clips/s ({best['method']}), {best_cpu['cpu_ms_per_clip'] / same[m]['cpu_ms_per_clip']:5.2f}x "
                      f"by CPU per clip ({best_cpu['method']})")
        off = same["loader_off"]["clips_per_s"]
        print(f"{name}: amortisation on/off = {same['loader_on']['clips_per_s'] / off:.2f}x "
              f"(consecutive), {same['loader_indep']['clips_per_s'] / off:.2f}x "
              f"(independent starts); vloader anchor {same['vloader']['clips_per_s']:.2f} windows/s")
        if "loader_gpu" in same and name == "1080p":
            print(f"1080p: GPU path = {same['loader_gpu']['clips_per_s'] / same['loader_on']['clips_per_s']:.2f}x "
                  f"the CPU path (loader_on)")
    print("\nrandom-window cost, CPU ms per 16-frame window at 512 px (10 s vs 60 s clips, one process):")
    for name, row in window_cost(args.cache).items():
        print(f"  {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
