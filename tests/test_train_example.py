"""examples/train.py under torchrun with 2 CPU processes (gloo): stop, resume on another world size, exact epoch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from facevid_datasets.training import BalancedSampler, ClipDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


def free_port() -> int:
    """A port nobody listens on now (other test runs on this machine use torchrun too)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], cwd: Path, nproc: int = 2) -> str:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port",
           str(free_port()),
           str(ROOT / "examples" / "train.py"), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_torchrun_two_ranks_stop_then_one_process_finishes_the_same_epoch(tmp_path):
    data, ckpt, log = tmp_path / "clips", tmp_path / "ckpt.pt", tmp_path / "draws.jsonl"
    common = ["--synthetic", str(data), "--ckpt", str(ckpt), "--log-draws", str(log), "--batch-size", "2",
              "--seed", "3", "--frames", "8"]
    out = torchrun([*common, "--max-steps", "2", "--workers", "1"], tmp_path)  # workers read ahead of the trainer
    assert "stopped at step 2" in out and ckpt.exists()
    out = torchrun([*common, "--resume"], tmp_path, nproc=1)  # elastic: the rest of the epoch on one process
    assert "resumed at step 2, epoch 0, 8 windows into it (saved with 2 processes, now 1)" in out
    assert "balance achieved" in out and "small" in out and "big" in out
    assert "clips that failed to decode (replaced in their batch): 0" in out

    draws = [json.loads(line) for line in log.read_text().splitlines()]
    assert [d["world_size"] for d in draws] == [2] * 8 + [1] * (len(draws) - 8)
    from train import synthetic_records  # the example's own data, to replay the uninterrupted epoch here

    clips = ClipDataset(synthetic_records(data, {"big": 12, "small": 3}), frames=8, seed=3)
    whole = BalancedSampler(clips, "source", "equal", seed=3, batch_size=2, rank=0, world_size=1)
    expected = sorted((clips[d].clip_id, int(clips[d].indices[0])) for d in whole)
    assert sorted((d["clip"], d["first_frame"]) for d in draws) == expected, "resumed epoch differs"
    # no clip twice in one step of the two-rank part
    by_step: dict[int, list[str]] = {}
    for d in draws[:8]:
        by_step.setdefault(d["position"] // 4, []).append(d["clip"])  # steps of 2 ranks x batch 2
    assert all(len(v) == len(set(v)) for v in by_step.values())
    # the report counts the whole epoch, both parts
    windows = sum(int(line.split()[4]) for line in out.splitlines() if line.strip().startswith(("big", "small")))
    assert windows == len(draws)


def test_torchrun_with_reference_motion_and_mel(tmp_path):
    """Issue #12's training step: reference and motion frames and log-mel in the batch, under torchrun on CPU."""
    out = torchrun(["--synthetic", str(tmp_path / "clips"), "--batch-size", "2", "--frames", "8", "--reference", "1",
                    "--motion", "2", "--mel", "--max-steps", "2"], tmp_path)
    assert "stopped at step 2" in out
