"""Kill -9 at several points of a build, then build again: nothing lost, nothing duplicated.

A subprocess builds a small release and SIGKILLs itself at a chosen point (inside the parallel
probe, while records are made, after the first Arrow table, just before the file state is
saved); the next build in this process must give every clip exactly once with a complete report,
and the probe cache must still open.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facevid_datasets.loading import load_builder
from facevid_datasets.testing import make_index_video

CLIPS = [f"{i:06d}" for i in range(1, 9)]

_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    point, root, cache = sys.argv[1:4]
    from facevid_datasets.loading import load_builder
    from facevid_datasets.media import probe_cache
    from facevid_datasets.builders import _layout
    from facevid_datasets import builder_state

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    calls = {"n": 0}

    def after(n, fn):
        def wrapped(*a, **k):
            calls["n"] += 1
            if calls["n"] > n:
                die()
            return fn(*a, **k)
        return wrapped

    if point == "probe":
        probe_cache.ProbeCache.put = after(3, probe_cache.ProbeCache.put)
    elif point == "record":
        _layout.LayoutBuilder._record = after(4, _layout.LayoutBuilder._record)
    elif point == "table":
        orig = _layout.LayoutBuilder._generate_tables
        def tables(self, *a, **k):
            for i, t in enumerate(orig(self, *a, **k)):
                yield i, t[1]
                die()
        _layout.LayoutBuilder.TABLE_ROWS = 2
        _layout.LayoutBuilder._generate_tables = tables
    elif point == "state":
        builder_state.FileState.save = lambda self, path: die()
    b = load_builder("facevid-1k", "all", data_dir=root, cache_dir=cache, probe_workers=1)
    b.download_and_prepare()
    """
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("k") / "c.mp4", num_frames=8, fps=25, size=(64, 64))


@pytest.mark.parametrize("point", ["probe", "record", "table", "state"])
def test_kill_9_then_rebuild(point, clip, tmp_path):
    root = tmp_path / "rel"
    (root / "videos").mkdir(parents=True)
    for c in CLIPS:
        shutil.copy(clip, root / "videos" / f"{c}.mp4")
    (root / "videos" / "000099.mp4").write_bytes(b"broken")
    rows = [{"clip_id": c, "identity": f"p{i}", "split": "train" if i % 4 else "test"} for i, c in enumerate(CLIPS)]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, point, str(root), str(cache)], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    b = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    b.download_and_prepare()
    dsd = b.as_dataset()
    ids = [r["clip_id"] for s in dsd for r in dsd[s].select_columns(["clip_id"])]
    assert sorted(ids) == CLIPS  # every clip once: no loss, no duplicate from the killed run
    report = b.report.rows()
    assert [(r.clip_id, r.status) for r in report] == [("000099", "error")]
