"""`facevid curate` as a user runs it: one-line errors, and no orphan workers after `kill -9`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facevid_datasets.testing import make_index_video

CLI = [sys.executable, "-c", "from facevid_datasets.cli import main; main()"]


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_duplicate_clip_ids_are_one_line_error(tmp_path):
    for sub in ("a", "b"):
        make_index_video(tmp_path / "vids" / sub / "same.mp4", 5, 10.0, (32, 32), audio=False)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([*CLI, "curate", str(tmp_path / "vids"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "'same' appears twice" in lines[0] and "a/same.mp4" in lines[0] and "b/same.mp4" in lines[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_of_curate_leaves_no_worker(tmp_path):
    for i in range(6):
        make_index_video(tmp_path / "vids" / f"v{i}.mp4", 240, 25.0, (96, 96), audio=True)
    cmd = [*CLI, "curate", str(tmp_path / "vids"), "--out", str(tmp_path / "out"), "--workers", "2"]
    parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and parent.poll() is None:
            workers = _children(parent.pid)
            if len(workers) >= 2:  # the pool's workers (and multiprocessing's resource tracker) are up
                break
            time.sleep(0.2)
        assert len(workers) >= 2, "curate never started its workers"
        time.sleep(1.0)  # let them reach their work
        workers = _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        # a worker still starting (importing torch: half a minute on a loaded 2-core machine) exits
        # when it reaches its initializer, which sees the parent gone; one at work, within a second
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(_running(p) for p in workers):
            time.sleep(0.2)
        left = [p for p in workers if _running(p)]
        assert not left, f"workers still running 90 s after kill -9 of their parent: {left}"
    finally:
        for p in [parent.pid, *workers]:
            if _running(p):
                os.kill(p, signal.SIGKILL)
