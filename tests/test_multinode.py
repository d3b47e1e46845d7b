"""Two nodes on this machine: `torchrun --nnodes 2` (two agents, rendezvous on 127.0.0.1, gloo), each node
reading the shared records' files under its own path through FACEVID_PATH_MAP. The union of the two
nodes' epoch is the one-node epoch, and a resume on one node continues it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facevid_datasets.training import BalancedSampler, ClipDataset
from facevid_datasets.training.plan import local_path, path_map

ROOT = Path(__file__).resolve().parents[1]
BUILT_AT = "/data/facevid-built-elsewhere"  # the path the records were built at: no node has it


def test_path_map_replaces_the_longest_prefix_and_rejects_a_bad_pair():
    pairs = path_map(f"/data=/a{os.pathsep}/data/x=/b")
    assert local_path("/data/x/c.mp4", pairs) == "/b/c.mp4"
    assert local_path("/data/y/c.mp4", pairs) == "/a/y/c.mp4"
    assert local_path("/database/c.mp4", pairs) == "/database/c.mp4"  # a prefix is a whole folder
    with pytest.raises(ValueError, match="FACEVID_PATH_MAP.*'nope' is not OLD=NEW"):
        path_map("nope")


def _agent(node: int, nnodes: int, port: int, args: list[str], data: Path, cwd: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", str(nnodes), "--nproc_per_node", "1",
           "--node_rank", str(node), "--master_addr", "127.0.0.1", "--master_port", str(port),
           str(ROOT / "examples" / "train.py"), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACEVID_PATH_MAP": f"{BUILT_AT}={data}"}
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(procs: list[subprocess.Popen]) -> list[str]:
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-4000:]
        outs.append(out)
    return outs


@pytest.mark.slow
def test_two_nodes_share_one_epoch_and_one_node_resumes_it(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    from test_train_example import free_port
    from train import synthetic_records

    made = tmp_path / "built"
    recs = synthetic_records(made, {"big": 12, "small": 3})
    for node in (0, 1):  # each node's own copy of the media, under its own path
        shutil.copytree(made, tmp_path / f"node{node}")
    shutil.rmtree(made)  # the path the records name exists nowhere
    shared = tmp_path / "records.jsonl"
    shared.write_text("".join(json.dumps({**r, "video": {"path": r["video"]["path"].replace(str(made), BUILT_AT),
                                                         "bytes": None}}) + "\n" for r in recs))
    ckpt = tmp_path / "ckpt.pt"
    common = ["--records", str(shared), "--ckpt", str(ckpt), "--batch-size", "2", "--seed", "3", "--frames", "8"]

    port = free_port()
    logs = [tmp_path / f"draws{n}.jsonl" for n in (0, 1)]
    _wait([_agent(n, 2, port, [*common, "--log-draws", str(logs[n]), "--max-steps", "2"], tmp_path / f"node{n}",
                  tmp_path) for n in (0, 1)])
    assert ckpt.exists()
    resumed = tmp_path / "draws_resumed.jsonl"
    out = _wait([_agent(0, 1, free_port(), [*common, "--log-draws", str(resumed), "--resume"], tmp_path / "node1",
                        tmp_path)])[0]  # the rest on one node, which reads node 1's copy
    assert "resumed at step 2, epoch 0, 8 windows into it (saved with 2 processes, now 1)" in out

    per_node = [[json.loads(line) for line in log.read_text().splitlines()] for log in logs]
    assert [len(d) for d in per_node] == [4, 4] and {d["rank"] for d in per_node[1]} == {1}
    rest = [json.loads(line) for line in resumed.read_text().splitlines()]
    clips = ClipDataset(json.loads("[" + ",".join(shared.read_text().splitlines()) + "]"), frames=8, seed=3)
    whole = BalancedSampler(clips, "source", "equal", seed=3, batch_size=2, rank=0, world_size=1)
    positions = sorted(d["position"] for d in per_node[0] + per_node[1] + rest)
    assert positions == list(range(len(whole)))  # every window of the epoch once, none twice
    got = sorted((d["clip"], d["first_frame"]) for d in per_node[0] + per_node[1] + rest)
    assert got == sorted((clips[d].clip_id, int(clips[d].indices[0])) for d in whole)
