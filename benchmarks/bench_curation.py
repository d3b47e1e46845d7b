"""Curation benchmark: per-stage precision/recall on generated defect clips, throughput of
`facevid curate`, time per stage, re-decision cost, and local Ray vs local process pool.

    .venv/bin/python benchmarks/bench_curation.py [--copies 2] [--clean 4] [--workers N] [--no-ray]

Each defect clip must be rejected by its own stage (the first failing stage of its row; for a
scene cut, the clip must be split); clean clips must be kept. Precision and recall are computed
per stage over all clips.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from facevid_datasets.curation import STAGES, Thresholds, curate, read_decisions
from facevid_datasets.curation.synthetic import DEFECTS, make_clip


def generate(folder: Path, copies: int, clean: int) -> dict[str, str]:
    """Write the labelled set; return clip_id -> defect."""
    labels = {}
    jobs = [("clean", i) for i in range(clean)] + [(d, i) for d in DEFECTS if d != "clean" for i in range(copies)]
    for k, (defect, i) in enumerate(jobs):
        clip = make_clip(defect, folder / f"{defect}_{i}.mp4", seed=100 + k)
        labels[clip.clip_id] = defect
    return labels


def precision_recall(rows: list[dict], labels: dict[str, str]) -> list[tuple[str, int, int, int]]:
    """(stage, tp, fp, fn) per stage, from each input clip's first failing stage."""
    from facevid_datasets.curation.synthetic import EXPECTED_STAGE

    predicted = {r["clip_id"]: (r["stage"] if r["decision"] != "keep" else None) for r in rows if r["kind"] == "clip"}
    out = []
    for stage in STAGES[1:]:
        tp = sum(predicted[c] == stage and EXPECTED_STAGE[d] == stage for c, d in labels.items())
        fp = sum(predicted[c] == stage and EXPECTED_STAGE[d] != stage for c, d in labels.items())
        fn = sum(predicted[c] != stage and EXPECTED_STAGE[d] == stage for c, d in labels.items())
        out.append((stage, tp, fp, fn))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=2, help="clips per defect")
    ap.add_argument("--clean", type=int, default=4, help="clean clips")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="local worker processes")
    ap.add_argument("--no-ray", action="store_true", help="skip the local Ray comparison")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        videos = work / "videos"
        t = time.perf_counter()
        labels = generate(videos, args.copies, args.clean)
        took = time.perf_counter() - t
        print(f"generated {len(labels)} clips (512 px, 2 s at 25 fps; scene cut 4 s) in {took:.1f} s")

        out = work / "curated"
        facevid = Path(sys.executable).with_name("facevid")
        cmd = [str(facevid), "curate", str(videos), "--out", str(out), "--workers", str(args.workers)]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        print("\n$ " + " ".join(["facevid", *cmd[1:]]))
        print(proc.stdout.strip())

        rows = read_decisions(out)
        summary = json.loads((out / "summary.json").read_text())
        frames = sum(r["num_frames"] or 0 for r in rows if r["kind"] == "clip")
        print(f"\nthroughput, {args.workers} worker(s) on {os.cpu_count()} cores: {len(labels) / wall:.2f} clips/s, "
              f"{frames / wall:.0f} frames/s ({wall:.1f} s wall, incl. start-up and writing outputs)")  # fmt: skip
        secs = summary["stage_seconds"]
        total = secs.pop("total")
        steady = (total - secs.get("load_models", 0.0)) / len(labels)
        print(f"steady state per worker (one-off model loading excluded): {steady:.2f} s/clip, "
              f"{frames / len(labels) / steady:.0f} frames/s")  # fmt: skip
        print(f"where the time goes (sum over clips of in-worker time, {total:.1f} s):")
        for stage, s in sorted(secs.items(), key=lambda kv: -kv[1]):
            print(f"  {stage:12s} {s:7.2f} s  {100 * s / total:5.1f}%")

        print("\nper-stage precision / recall (first failing stage of each input clip; scene = split):")
        print(f"  {'stage':12s} {'TP':>3s} {'FP':>3s} {'FN':>3s} {'precision':>9s} {'recall':>7s}")
        for stage, tp, fp, fn in precision_recall(rows, labels):
            p = tp / (tp + fp) if tp + fp else float("nan")
            r = tp / (tp + fn) if tp + fn else float("nan")
            print(f"  {stage:12s} {tp:3d} {fp:3d} {fn:3d} {p:9.2f} {r:7.2f}")
        kept_clean = sum(1 for r in rows if r["kind"] == "clip" and labels[r["clip_id"]] == "clean"
                         and r["decision"] == "keep")  # fmt: skip
        print(f"  clean clips kept: {kept_clean}/{args.clean}")
        wrong = [(r["clip_id"], r["stage"], r["reason"]) for r in rows if r["kind"] == "clip"
                 and (r["stage"] if r["decision"] != "keep" else None) != _expected(labels[r["clip_id"]])]  # fmt: skip
        for w in wrong:
            print(f"  MISMATCH {w}")

        t = time.perf_counter()
        again = curate(sorted(videos.glob("*.mp4")), out, thresholds=Thresholds(max_brisque=45.0), progress=False)
        print(f"\nre-decide with max_brisque=45: {time.perf_counter() - t:.2f} s, measured {again.measured}, "
              f"reused {again.reused}, kept {again.summary['kept']} (was {summary['kept']})")  # fmt: skip

        if not args.no_ray:
            import ray

            ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
            t = time.perf_counter()
            curate(sorted(videos.glob("*.mp4")), work / "curated_ray", ray_address="local", progress=False)
            ray_wall = time.perf_counter() - t
            ray.shutdown()
            keys = ("clip_id", "decision", "stage", "reason")
            a = sorted(tuple(r[k] for k in keys) for r in read_decisions(work / "curated_ray"))
            b = sorted(tuple(r[k] for k in keys) for r in rows)  # the local run, default thresholds
            print(f"\nlocal Ray ({args.workers} CPUs): {len(labels) / ray_wall:.2f} clips/s ({ray_wall:.1f} s); "
                  f"decisions identical to the local run: {a == b} ({len(a)} rows)")  # fmt: skip


def _expected(defect: str) -> str | None:
    from facevid_datasets.curation.synthetic import EXPECTED_STAGE

    return EXPECTED_STAGE[defect]


if __name__ == "__main__":
    main()
