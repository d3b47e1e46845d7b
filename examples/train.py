"""A small real training loop fed by the facevid loader: balanced sampling, DDP, exact resume.

Single process:      python examples/train.py --synthetic /tmp/fv --epochs 2
Two processes (CPU): torchrun --nproc_per_node 2 examples/train.py --synthetic /tmp/fv --ckpt /tmp/fv/ckpt.pt
Resume:              ... add --resume (continues mid-epoch from the checkpoint's global position, under
                     any number of processes: the epoch's order does not depend on the world size)
On a built dataset:  python examples/train.py --dataset facevid-1k --config sample --column source
Hallo/EMO-style inputs: ... --reference 1 --motion 2 --mel   (reference and motion frames, log-mel per frame)

The model is a tiny 3D CNN that predicts each frame's audio loudness from the frames (an
audio-visual toy task), enough to exercise the batches a talking-face model consumes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from facevid_datasets.training import DEFAULT_FPS, BalancedSampler, ClipDataset, VideoCollator, clip_loader


class TinyAVNet(nn.Module):
    """Frames (B, T, C, H, W) -> per-frame audio loudness (B, T).

    Context frames (reference, motion) go in front of the window along time, as Hallo's ReferenceNet
    and motion frames condition the window; log-mel frames, when given, are added per frame.
    """

    def __init__(self, width: int = 16, n_mels: int = 0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, width, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)), nn.ReLU(),
            nn.Conv3d(width, width, (3, 3, 3), stride=(1, 2, 2), padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool3d((None, 1, 1)),
        )
        self.mel = nn.Linear(n_mels, width) if n_mels else None
        self.head = nn.Linear(width, 1)

    def forward(self, video: torch.Tensor, context: torch.Tensor | None = None,
                mel: torch.Tensor | None = None) -> torch.Tensor:
        T = video.shape[1]
        frames = video if context is None else torch.cat([context, video], dim=1)
        x = self.net(frames.transpose(1, 2)).flatten(2).transpose(1, 2)[:, -T:]  # (B, T, width)
        if self.mel is not None and mel is not None:
            x = x + self.mel(mel.mean(2))  # (B, T, mels_per_frame, n_mels) -> per frame
        return self.head(x).squeeze(-1)


def synthetic_records(root: Path, sizes: dict[str, int], frames: int = 40, px: int = 64) -> list[dict]:
    """Tiny index videos (two sources of different sizes) and their records; made once."""
    from facevid_datasets.schema import empty_record
    from facevid_datasets.testing import make_index_video

    records = []
    for source, n in sizes.items():
        for i in range(n):
            path = root / f"{source}_{i:03d}.mp4"
            length = frames + 10 * (i % 3)
            if not path.exists():
                make_index_video(path, num_frames=length, fps=25.0, size=(px, px), gop=8)
            r = empty_record()
            r.update(clip_id=path.stem, dataset="synthetic", source=source, video={"path": str(path), "bytes": None},
                     audio_source="video", fps=25.0, num_frames=length, duration=length / 25.0, width=px, height=px,
                     caption=f"synthetic clip {i} of {source}")
            records.append(r)
    return records


def load_records(args: argparse.Namespace) -> object:
    if args.synthetic:
        root = Path(args.synthetic)
        root.mkdir(parents=True, exist_ok=True)
        sizes = {"big": 12, "small": 3}
        if is_main():
            synthetic_records(root, sizes)
        barrier()
        return synthetic_records(root, sizes)
    from facevid_datasets import load_dataset

    return load_dataset(args.dataset, args.config, data_dir=args.data_dir, split=args.split)


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synthetic", help="folder for generated tiny clips (instead of --dataset)")
    p.add_argument("--dataset", default="facevid-1k")
    p.add_argument("--config", default="sample")
    p.add_argument("--data-dir")
    p.add_argument("--split", default="train")
    p.add_argument("--column", default="source", help="column to balance (dotted for nested)")
    p.add_argument("--mode", default="equal", choices=["equal", "population", "natural"])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--fps", type=float, default=DEFAULT_FPS, help="output frame rate (any mix of source rates)")
    p.add_argument("--windows-per-visit", type=int, default=1, help="windows cut from each clip drawn (same batch)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: run all epochs)")
    p.add_argument("--ckpt", help="checkpoint file (written every --ckpt-every steps and at the end)")
    p.add_argument("--ckpt-every", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--log-draws", help="append one JSON line per consumed clip (rank, epoch, position, clip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", type=int, default=0, help="reference frames of the clip outside the window")
    p.add_argument("--motion", type=int, default=0, help="motion frames before the window (Hallo)")
    p.add_argument("--mel", action="store_true", help="log-mel frames per video frame as an input")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    device = torch.device(args.device, int(os.environ.get("LOCAL_RANK", 0))) if args.device == "cuda" else \
        torch.device("cpu")
    torch.manual_seed(args.seed)

    data = load_records(args)
    clips = ClipDataset(data, frames=args.frames, fps=args.fps, seed=args.seed, reference=args.reference,
                        motion=args.motion)
    sampler = BalancedSampler(clips, args.column, args.mode, seed=args.seed, batch_size=args.batch_size,
                              windows_per_visit=args.windows_per_visit)
    collator = VideoCollator(args.size, device=device, audio_window=0, mel=args.mel)
    model = TinyAVNet(n_mels=80 if args.mel else 0).to(device)
    if dist.is_initialized():
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    step, start_epoch = 0, 0
    if args.resume and args.ckpt and Path(args.ckpt).exists():
        ckpt = torch.load(args.ckpt, map_location=device, weights_only=False)
        (model.module if dist.is_initialized() else model).load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sampler.load_state_dict(ckpt["sampler"])
        step, start_epoch = ckpt["step"], ckpt["sampler"]["epoch"]
        if is_main():
            print(f"resumed at step {step}, epoch {start_epoch}, {ckpt['sampler']['sample_in_epoch']} windows into it "
                  f"(saved with {ckpt['sampler']['world_size']} processes, now {sampler.world_size})")

    def save() -> None:
        if args.ckpt and is_main():
            state = {"model": (model.module if dist.is_initialized() else model).state_dict(),
                     "optimizer": opt.state_dict(), "sampler": sampler.state_dict(), "step": step}
            tmp = Path(args.ckpt).with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(args.ckpt)
        barrier()

    for epoch in range(start_epoch, args.epochs):
        sampler.set_epoch(epoch)
        failed = torch.zeros(1, dtype=torch.int64)
        loader = clip_loader(clips, collator, sampler=sampler, num_workers=args.workers,  # batch size: the sampler's
                             multiprocessing_context="forkserver" if args.workers and dist.is_initialized() else None)
        bar = tqdm(loader, desc=f"epoch {epoch}", disable=not is_main(), total=len(loader))
        for batch in bar:
            spf = collator.samples_per_frame(float(batch["fps"][0]))
            T = batch["video"].shape[1]
            target = batch["audio"].reshape(len(batch["clip_id"]), T, spf).pow(2).mean(-1).sqrt().to(device)
            context = [batch[k] for k in ("reference", "motion") if k in batch]
            pred = model(batch["video"], torch.cat(context, dim=1) if context else None, batch.get("mel"))
            loss = nn.functional.mse_loss(pred, target * 10)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            failed += len(batch["errors"])
            if args.log_draws:
                with open(args.log_draws, "a") as f:
                    for pos, cid, idx in zip(batch["position"].tolist(), batch["clip_id"], batch["indices"].tolist(),
                                             strict=True):
                        f.write(json.dumps({"rank": rank, "epoch": epoch, "position": pos, "clip": cid,
                                            "first_frame": idx[0], "world_size": sampler.world_size}) + "\n")
            bar.set_postfix(loss=f"{loss.item():.4f}", step=step)
            if args.ckpt and step % args.ckpt_every == 0:
                save()
            if args.max_steps and step >= args.max_steps:
                save()
                if is_main():
                    print(f"stopped at step {step} (--max-steps)")
                bar.close()
                shutdown()
                return
        if dist.is_initialized():
            dist.all_reduce(failed)
        if is_main():  # the sampler counts the whole epoch, also the part before a resume
            print(f"epoch {epoch} balance achieved:")
            print(sampler.format_report())
            print(f"  clips that failed to decode (replaced in their batch): {int(failed)}")
    save()
    shutdown()


def shutdown() -> None:
    """Leave the process group cleanly (every rank stops at the same step), so no thread outlives it."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
