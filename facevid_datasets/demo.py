"""The main job on the embedded sample: build it, load it, pull decoded batches, show what came out.

`make demo` runs this through `facevid demo`. It exercises the whole path a trainer uses:
raw release -> builder -> typed records -> balanced sampler -> decoding collator -> batch.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import vocab
from .loading import load_dataset
from .training import AudioOptions, BalancedSampler, ClipDataset, VideoCollator


def _pose_name(pose_id: int) -> str:
    return vocab.HEAD_POSE[pose_id] if 0 <= pose_id < len(vocab.HEAD_POSE) else "pose unknown"


def contact_sheet(batches: list[dict[str, Any]], path: Path, per_row: int = 8) -> Path:
    """A PNG grid: one row per clip with `per_row` of its frames, keypoints drawn, caption as title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(b, i) for b in batches for i in range(b["video"].shape[0])][:8]
    fig, axes = plt.subplots(len(rows), per_row, figsize=(per_row * 1.6, len(rows) * 1.9), squeeze=False)
    for r, (batch, i) in enumerate(rows):
        video = batch["video"][i]  # (T, C, H, W) float in [0, 1]
        t_idx = np.linspace(0, video.shape[0] - 1, per_row).round().astype(int)
        for c, t in enumerate(t_idx):
            ax = axes[r][c]
            ax.imshow(video[t].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            if batch["keypoints_mask"][i, t]:
                kp = batch["keypoints"][i, t].cpu().numpy()
                ax.scatter(kp[:, 0], kp[:, 1], s=0.4, c="lime")
            ax.set_axis_off()
        axes[r][0].set_title(
            f"{batch['source'][i]} | {batch['clip_id'][i][:18]} | {_pose_name(int(batch['head_pose_id'][i]))}",
            fontsize=7, loc="left",
        )  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(out: Path, batches: int = 4, batch_size: int = 4, num_workers: int = 2) -> dict[str, Any]:
    """Build and load the sample, pull `batches` balanced batches, write a contact sheet; returns a summary."""
    t0 = time.perf_counter()
    ds = load_dataset("facevid-1k", "sample", split="train")
    built = time.perf_counter() - t0
    clips = ClipDataset(ds, frames=16, fps=12.5, start="random", short="pad", seed=0)
    sampler = BalancedSampler(clips, "source", "equal", seed=0, num_samples=batches * batch_size)
    plan_check = BalancedSampler(clips, "source", "equal", seed=0)  # one whole epoch, to show the balance
    collator = VideoCollator((128, 128), device="cpu", value_range=(0.0, 1.0), audio=AudioOptions(window=2))
    loader = DataLoader(clips, batch_size=batch_size, sampler=sampler, collate_fn=collator, num_workers=num_workers)
    pulled: list[dict[str, Any]] = []
    seconds: Counter[str] = Counter()
    t1 = time.perf_counter()
    for batch in tqdm(loader, total=batches, desc="batches", unit="batch"):
        pulled.append(batch)
        delivered = batch["frame_mask"].sum(1).double() / batch["fps"]  # valid frames / fps: what training got
        for src, sec in zip(batch["source"], delivered.tolist(), strict=True):
            seconds[src] += sec
    elapsed = time.perf_counter() - t1
    first = pulled[0]
    sheet = contact_sheet(pulled, Path(out) / "contact_sheet.png")
    n_clips = sum(b["video"].shape[0] for b in pulled)
    summary = {
        "dataset": f"facevid-1k/sample: {ds.num_rows} train clips, {len(set(ds['identity']))} identities",
        "build_or_cache_seconds": round(built, 2),
        "batch_shapes": {k: f"{tuple(v.shape)} {v.dtype}".replace("torch.", "") for k, v in first.items()
                         if isinstance(v, torch.Tensor)},
        "captions": first["caption"][:2],
        "delivered_seconds_by_source": {k: round(v, 1) for k, v in sorted(seconds.items())},
        "equal_mode_epoch_plan": {s.group: f"{s.share:.1%} of {s.seconds:.0f} s delivered, {s.windows} windows"
                                  for s in plan_check.report(whole_epoch=True)},
        "clips_per_second": round(n_clips / elapsed, 2),
        "contact_sheet": str(sheet),
    }
    return summary
