"""Contact sheets of the head-pose labels a curation gave: one PNG per label, each tile the
middle sampled frame of a kept or dropped row with its smoothed yaw / pitch, to check by eye.

    .venv/bin/python benchmarks/pose_sheets.py [--curated /tmp/facevid-bench-curation/curated]
        [--only ../shared/real/dhfv-calibration] [--out benchmarks/out/pose_sheets]

Run `benchmarks/bench_curation.py` first (its curated folder holds the decisions). The sheets show
licensed footage (non-commercial research, no redistribution): `benchmarks/out/` is git-ignored,
and they must not be committed or published.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from facevid_datasets.curation import read_decisions
from facevid_datasets.media.decode import TorchcodecReader

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curated", type=Path, default=Path("/tmp/facevid-bench-curation/curated"))
    ap.add_argument("--only", type=Path, default=REAL, help="only rows of videos in this folder")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "pose_sheets")
    ap.add_argument("--per-row", type=int, default=6)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_decisions(args.curated) if r["decision"] != "split" and r["head_pose"]
            and Path(r["path"]).resolve().parent == args.only.resolve()]  # fmt: skip
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_label[r["head_pose"]].append(r)
    args.out.mkdir(parents=True, exist_ok=True)
    for label, items in sorted(by_label.items()):
        cols = min(args.per_row, len(items))
        nrows = int(np.ceil(len(items) / cols))
        fig, axes = plt.subplots(nrows, cols, figsize=(2.2 * cols, 2.5 * nrows), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, r in zip(axes.ravel(), items, strict=False):
            k = len(r["sample_frames"]) // 2
            frame = TorchcodecReader(r["path"]).get_frames([r["sample_frames"][k]])[0][0].permute(1, 2, 0).numpy()
            ax.imshow(frame)
            yaw, pitch = r["pose_yaw"][k], r["pose_pitch"][k]
            angles = f"yaw {yaw:.0f} pitch {pitch:.0f}" if yaw is not None and pitch is not None else "no face"
            ax.set_title(f"{r['clip_id'][:16]}\n{angles}", fontsize=7)
        fig.suptitle(f"head pose: {label} ({len(items)} rows)")
        fig.tight_layout()
        path = args.out / f"pose_{label}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(f"{label:14s} {len(items):3d} rows -> {path}")


if __name__ == "__main__":
    main()
