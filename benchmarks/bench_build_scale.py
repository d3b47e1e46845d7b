"""Build a simulated full-size DH-FaceVid-1K release (270,043 metadata rows) and report time and peak memory.

The rows mimic the real mix (204,690 collected, 9,841 CelebV-HQ, 32,595 CelebV-Text, 22,917
TalkingHead-1KH clips; 20,000 identities; captions, labels, BRISQUE) and point through the
`video` column at a few small reused files. Half of the rows carry the probe fields (no probe),
half do not (probed once per file through the cache). Targets on a 2-core machine: build <= 5 min,
peak memory < 2 GB and not growing with the number of clips beyond the Arrow table.

    .venv/bin/python benchmarks/bench_build_scale.py                 # full size
    .venv/bin/python benchmarks/bench_build_scale.py --rows 27004    # a tenth, to compare memory

`--bare N` measures the other release users have: a folder of N bare `.mp4` files and nothing
else (the public Hub copies hold 270,043). Files are hard links, under distinct names, to the
real DH-FaceVid-1K calibration clips when `../shared/real` is there (else to generated clips), so
each is probed as its own file. It times the former probe (an ffprobe subprocess per file) and
the in-process probe side by side on the same files, one process each, then the whole bare build
(`num_proc` = cores), extrapolates both to 270,043 files, and rebuilds after adding one file:
the probe cache keeps the other files from being opened again.

    .venv/bin/python benchmarks/bench_build_scale.py --bare 3000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from facevid_datasets.loading import load_builder
from facevid_datasets.testing import make_index_video

MIX = (("collected", 204_690), ("celebv-hq", 9_841), ("celebv-text", 32_595), ("talkinghead-1kh", 22_917))
ETHNICITY = ("Asian",) * 16 + ("White", "White", "African", "Indian")
EMOTION = ("Neutral",) * 13 + ("Happy",) * 4 + ("Angry", "Sad", "Surprise")
POSES = ("frontal",) * 15 + ("profile_right", "profile_right", "profile_left", "profile_up", "extreme")


def clip_name(origin: str, i: int) -> str:
    if origin == "collected":
        return f"{i:06d}"
    if origin == "talkinghead-1kh":
        return f"{i:011d}_0001_S0_E99_L0_T0_R512_B512"
    return f"c{i:010d}_{i % 7}"


def write_release(root: Path, rows: int, files: int) -> None:
    """Metadata for `rows` clips (scaled from the real mix) pointing at `files` small videos."""
    pool = root / "videos" / "pool"
    pool.mkdir(parents=True)
    src = make_index_video(pool / "f0.mp4", num_frames=25, fps=25, size=(64, 64))
    for k in range(1, files):
        shutil.copy(src, pool / f"f{k}.mp4")
    rng = random.Random(0)
    total = sum(n for _, n in MIX)
    i = 0
    with (root / "metadata.jsonl").open("w") as f:
        for origin, n in MIX:
            for _ in range(round(n * rows / total)):
                row = {
                    "clip_id": clip_name(origin, i), "video": f"videos/pool/f{i % files}.mp4",
                    "source": origin, "identity": f"id{rng.randrange(20_000):05d}",
                    "caption": "A young Asian woman with long black hair talks to the camera in a bright room.",
                    "attributes": {"ethnicity": rng.choice(ETHNICITY), "gender": rng.choice(("male", "female")),
                                   "age_group": rng.choice(("minor", "adult", "adult", "middle-aged")),
                                   "appearance": ["Long hair", "Black hair"], "emotion": rng.choice(EMOTION),
                                   "action": ["Talk"], "light": ["Bright"], "environment": "indoor"},
                    "head_pose": rng.choice(POSES), "quality": {"brisque": round(rng.uniform(5, 45), 2)},
                }  # fmt: skip
                if i % 2 == 0:
                    row.update(fps=25.0, num_frames=25, width=512, height=512, duration=1.0, audio_source="video")
                f.write(json.dumps(row) + "\n")
                i += 1


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"
FULL_RELEASE = 270_043


def write_bare_release(root: Path, files: int) -> list[Path]:
    """`files` bare .mp4 names in `root/videos` (hard links to real or generated clips)."""
    src = sorted(REAL.rglob("*.mp4")) if REAL.is_dir() else []
    if not src:
        gen = root.parent / "gen"
        gen.mkdir(parents=True, exist_ok=True)
        src = [make_index_video(gen / f"g{k}.mp4", num_frames=50 + 25 * k, fps=25, size=(256, 256)) for k in range(4)]
    out = root / "videos"
    out.mkdir(parents=True)
    paths = []
    for i in range(files):
        p = out / f"{i:06d}.mp4"
        try:
            p.hardlink_to(src[i % len(src)])
        except OSError:
            shutil.copy(src[i % len(src)], p)
        paths.append(p)
    return paths


def bare(args: argparse.Namespace, work: Path) -> None:
    """Old vs new probe on a bare folder, the full bare build, and a rebuild after one added file."""
    import importlib
    import os

    probe_mod = importlib.import_module("facevid_datasets.media.probe")

    root, cache = work / "bare", work / "bare_cache"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    paths = write_bare_release(root, args.bare)
    cores = os.cpu_count() or 1
    sample = paths[: min(len(paths), args.old_sample)]
    t0 = time.perf_counter()
    for p in sample:
        probe_mod.probe_ffprobe(p)
    old = (time.perf_counter() - t0) / len(sample)
    t0 = time.perf_counter()
    for p in sample:
        probe_mod.probe(p)
    new = (time.perf_counter() - t0) / len(sample)
    same = sum(probe_mod.probe_ffprobe(p).num_frames == probe_mod.probe(p).num_frames for p in sample[:50])
    print(f"source clips         {'real DH-FaceVid-1K calibration clips' if REAL.is_dir() else 'generated clips'}, "
          f"{len(paths):,} names")  # fmt: skip
    print(f"probe, one process   ffprobe subprocess {old * 1e3:.1f} ms/file, in-process {new * 1e3:.2f} ms/file "
          f"({old / new:.0f}x faster; same frame counts on {same}/{min(50, len(sample))} files)")  # fmt: skip
    t0 = time.perf_counter()
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    builder.download_and_prepare(num_proc=cores)
    t_build = time.perf_counter() - t0
    n = sum(len(d) for d in builder.as_dataset().values())
    per_file = t_build / len(paths)
    print(f"bare build           {n:,} records in {t_build:.1f} s with num_proc={cores} "
          f"({per_file * 1e3:.2f} ms/file)")  # fmt: skip
    full_new = per_file * FULL_RELEASE
    print(f"extrapolated 270,043 in-process build {full_new / 60:.1f} min (target <= 15 min: "
          f"{'ok' if full_new <= 900 else 'MISSED'}); ffprobe probing alone {old * FULL_RELEASE / 3600:.1f} h on one "
          f"core, {old * FULL_RELEASE / cores / 3600:.1f} h on {cores}")  # fmt: skip
    shutil.copy(paths[0], root / "videos" / "new_clip.mp4")
    t0 = time.perf_counter()
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    builder.download_and_prepare(num_proc=cores)
    t_re = time.perf_counter() - t0
    print(f"rebuild, 1 file added {t_re:.1f} s ({t_build / t_re:.0f}x faster than the first build: one file probed, "
          f"{len(paths):,} from the probe cache)")  # fmt: skip
    t0 = time.perf_counter()
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    builder.download_and_prepare(num_proc=cores)
    builder.as_dataset()
    t_same = time.perf_counter() - t0
    print(f"load again, no change {t_same:.2f} s (the file-state fingerprint, then the Arrow cache; "
          f"{t_same / (len(paths) + 1) * FULL_RELEASE:.0f} s extrapolated to 270,043 files)")  # fmt: skip
    print(f"report               {builder.report.summary()}")
    load = os.getloadavg()[0]
    print(f"machine load         {load:.1f} (1-min load average on {cores} cores: other work slows every figure above)")


def rss_now() -> int:
    """Resident memory of this process now, in bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=270_043)
    ap.add_argument("--files", type=int, default=8, help="distinct video files the rows share")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the release and cache here")
    ap.add_argument("--bare", type=int, default=0, help="measure a folder of this many bare .mp4 files instead")
    ap.add_argument("--old-sample", type=int, default=300, help="files timed through both probes (--bare)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="facevid_scale_"))
    if args.bare:
        bare(args, work)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        return
    root, cache = work / "release", work / "cache"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    t0 = time.perf_counter()
    write_release(root, args.rows, args.files)
    t_gen = time.perf_counter() - t0

    base = rss_now()
    t0 = time.perf_counter()
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    builder.download_and_prepare()
    t_build = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ds = builder.as_dataset()
    peak_open = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    n = sum(len(d) for d in ds.values())
    arrow = sum(d.data.nbytes for d in ds.values())
    print(f"metadata rows        {args.rows:,} ({(root / 'metadata.jsonl').stat().st_size / 2**20:.0f} MiB jsonl, "
          f"{args.files} video files; written in {t_gen:.1f} s)")  # fmt: skip
    print(f"records built        {n:,} (" + ", ".join(f"{s} {len(d):,}" for s, d in ds.items()) + ")")
    print(f"build time           {t_build:.1f} s ({n / t_build:,.0f} records/s)")
    print(f"peak RSS             {peak / 2**20:.0f} MiB (before the build {base / 2**20:.0f} MiB, "
          f"growth {(peak - base) / 2**20:.0f} MiB)")  # fmt: skip
    print(f"peak RSS with open   {peak_open / 2**20:.0f} MiB (after as_dataset(): the cache file memory-mapped)")
    print(f"Arrow table          {arrow / 2**20:.0f} MiB in {sum(len(d.data.to_batches()) for d in ds.values())} "
          f"record batches")  # fmt: skip
    print(f"report               {builder.report.summary()}")
    print(f"targets              time <= 300 s: {'ok' if t_build <= 300 else 'MISSED'}; "
          f"peak < 2048 MiB: {'ok' if max(peak, peak_open) < 2 * 2**30 else 'MISSED'}")  # fmt: skip
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
