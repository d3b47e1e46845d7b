"""Training copies: parallel, resumable after kill -9, failures keep the original, cost per hour reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facevid_datasets.media import keyframe_indices, probe
from facevid_datasets.schema import empty_record
from facevid_datasets.testing import make_index_video, read_index
from facevid_datasets.training.store import CopyReport, training_copies


def _records(d: Path, n: int, frames: int = 50) -> list[dict]:
    recs = []
    for i in range(n):
        p = make_index_video(d / f"src{i}.mp4", num_frames=frames, fps=25.0, size=(96, 128), gop=50)
        r = empty_record()
        r.update(clip_id=f"c{i}", video={"path": str(p), "bytes": None}, audio_source="video", fps=25.0,
                 num_frames=frames, duration=frames / 25.0, width=128, height=96)
        r["keypoints"] = {"format": "t", "points": [[[64.0, 48.0, 1.0]]] * frames}
        recs.append(r)
    return recs


def test_parallel_copies_have_short_gops_and_report_their_cost(tmp_path):
    recs = _records(tmp_path, 3)
    bad = empty_record()
    bad.update(clip_id="bad", video={"path": str(tmp_path / "bad.mp4"), "bytes": None}, fps=25.0, num_frames=10,
               duration=0.4, width=128, height=96)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    report = CopyReport()
    out = training_copies([*recs, bad], tmp_path / "copies", short_side=64, gop=8, workers=2, progress=False,
                          report=report)
    assert report.copied == 3 and report.reused == 0 and [f[0] for f in report.failed] == [str(tmp_path / "bad.mp4")]
    assert out[3] == bad  # a failed copy keeps the original record
    for rec in out[:3]:
        info = probe(rec["video"]["path"])
        assert (info.width, info.height) == (rec["width"], rec["height"]) == (86, 64)
        keys = keyframe_indices(rec["video"]["path"])
        assert max(keys[1:] - keys[:-1]) <= 8
        assert rec["keypoints"]["points"][0][0][:2] == pytest.approx([64 * 86 / 128, 48 * 64 / 96])
    cost = report.per_hour()
    assert cost["wall_s_per_video_hour"] > 0 and cost["cpu_s_per_video_hour"] > 0
    assert "per hour of video" in report.summary() and "bad.mp4" in report.summary()
    again = CopyReport()
    training_copies(recs, tmp_path / "copies", short_side=64, gop=8, workers=2, progress=False, report=again)
    assert (again.copied, again.reused) == (0, 3)


def test_a_changed_source_or_a_copy_without_marker_is_made_again(tmp_path):
    recs = _records(tmp_path, 2)
    out = training_copies(recs, tmp_path / "copies", short_side=64, gop=8, workers=1, progress=False)
    Path(out[0]["video"]["path"]).with_suffix(".done.json").unlink()  # killed between rename and marker
    os.utime(recs[1]["video"]["path"], ns=(time.time_ns(), time.time_ns() + 10**9))  # the source changed
    report = CopyReport()
    training_copies(recs, tmp_path / "copies", short_side=64, gop=8, workers=1, progress=False, report=report)
    assert (report.copied, report.reused) == (2, 0)


def test_a_killed_run_resumes_without_redoing_finished_copies(tmp_path):
    recs = _records(tmp_path, 6, frames=150)
    (tmp_path / "recs.json").write_text(json.dumps(recs))
    out_dir = tmp_path / "copies"
    script = ("import json, sys\nfrom facevid_datasets.training.store import training_copies\n"
              f"training_copies(json.load(open({str(tmp_path / 'recs.json')!r})), {str(out_dir)!r}, short_side=96, "
              "gop=8, workers=1, progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out_dir.glob("*.done.json")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its FFmpeg child, mid-way
    proc.wait()
    done_before = len(list(out_dir.glob("*.done.json")))
    assert 1 <= done_before < 6
    report = CopyReport()
    out = training_copies(recs, out_dir, short_side=96, gop=8, workers=2, progress=False, report=report)
    assert report.reused == done_before and report.copied == 6 - done_before and not report.failed
    assert not list(out_dir.glob("*.part.mp4"))  # the killed run's temporary file is gone
    for rec in out:
        frames = probe(rec["video"]["path"]).num_frames
        assert frames == 150
    from facevid_datasets.media import decode_clip

    assert read_index(decode_clip(out[-1]["video"]["path"], [149], audio=False).frames[0]) == 149


@pytest.mark.slow
def test_ray_tasks_make_the_same_copies(tmp_path):
    ray = pytest.importorskip("ray")
    recs = _records(tmp_path, 2)
    local = training_copies(recs, tmp_path / "local", short_side=64, gop=8, workers=1, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = CopyReport()
        distributed = training_copies(recs, tmp_path / "ray", short_side=64, gop=8, ray_address="local",
                                      progress=False, report=report)
    finally:
        ray.shutdown()
    assert report.copied == 2 and not report.failed
    for a, b in zip(local, distributed, strict=True):
        assert Path(a["video"]["path"]).name == Path(b["video"]["path"]).name
        assert probe(b["video"]["path"]).num_frames == probe(a["video"]["path"]).num_frames


def test_copies_are_recorded_on_the_ledger(tmp_path):
    """Each copy and its done marker are on the ledger with the clip id, so `facevid forget` finds them
    whatever their file names."""
    from facevid_datasets.licence.ledger import read_ledger

    recs = _records(tmp_path, 1, frames=10)
    out = training_copies(recs, tmp_path / "copies", short_side=64, workers=1, progress=False)
    copy = Path(out[0]["video"]["path"])
    entries = {e.path: e for e in read_ledger().entries if tmp_path in e.path.parents}
    assert set(entries) == {copy, copy.with_suffix(".done.json")}
    assert all(e.kind == "training-copy" and e.ids == ("c0",) for e in entries.values())
