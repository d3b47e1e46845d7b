"""Build a simulated full-size DH-FaceVid-1K release (270,043 metadata rows) and report time and peak memory.

The rows mimic the real mix (204,690 collected, 9,841 CelebV-HQ, 32,595 CelebV-Text, 22,917
TalkingHead-1KH clips; 20,000 identities; captions, labels, BRISQUE) and point through the
`video` column at a few small reused files. Half of the rows carry the probe fields (no probe),
half do not (probed once per file through the cache). Targets on a 2-core machine: build <= 5 min,
peak memory < 2 GB and not growing with the number of clips beyond the Arrow table.

    .venv/bin/python benchmarks/bench_build_scale.py                 # full size
    .venv/bin/python benchmarks/bench_build_scale.py --rows 27004    # a tenth, to compare memory
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
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="facevid_scale_"))
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
