"""examples/train.py under torchrun with 2 CPU processes (gloo): stop, resume, and the exact continuation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facevid_datasets.training import BalancedSampler, ClipDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


def torchrun(args: list[str], cwd: Path) -> str:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           str(ROOT / "examples" / "train.py"), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_torchrun_two_ranks_stop_resume_continues_exactly(tmp_path):
    data, ckpt, log = tmp_path / "clips", tmp_path / "ckpt.pt", tmp_path / "draws.jsonl"
    common = ["--synthetic", str(data), "--ckpt", str(ckpt), "--log-draws", str(log), "--batch-size", "2",
              "--seed", "3", "--frames", "8"]
    out = torchrun([*common, "--max-steps", "2", "--workers", "1"], tmp_path)  # workers read ahead of the trainer
    assert "stopped at step 2" in out and ckpt.exists()
    out = torchrun([*common, "--resume"], tmp_path)
    assert "resumed at step 2, epoch 0, 4 clips into it" in out
    assert "balance achieved" in out and "small" in out and "big" in out

    draws = [json.loads(line) for line in log.read_text().splitlines()]
    from train import synthetic_records  # the example's own data, to replay the expected order here

    clips = ClipDataset(synthetic_records(data, {"big": 12, "small": 3}), frames=8, seed=3)
    for rank in (0, 1):
        sampler = BalancedSampler(clips, "source", "equal", seed=3, batch_size=2, rank=rank, world_size=2)
        expected = [(clips[d].clip_id, int(clips[d].indices[0])) for d in sampler]
        got = [(d["clip"], d["first_frame"]) for d in draws if d["rank"] == rank]
        assert got == expected, f"rank {rank}: resumed run differs from the uninterrupted order"
    # no clip on both ranks in the same step
    by_step: dict[int, list[str]] = {}
    for d in draws:
        by_step.setdefault(d["position"] // 2, []).append(d["clip"])
    assert all(len(v) == len(set(v)) for v in by_step.values())
