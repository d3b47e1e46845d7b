"""Fault suite of `facevid curate`: user mistakes and bad inputs, one case each, each checking the
outcome a user should get.

- A bad option (threshold, model plugin, limit, output path, empty input): one line on stderr
  naming what is wrong, exit 1, and the previous run's outputs (decisions, records, summary) left
  as they were.
- A re-run into an output folder inside the input: the previous output is not read as input (ids
  once each in decisions and records), with a note.
- The recorded values mean what the thresholds test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from facevid_datasets.cli import app
from facevid_datasets.curation import Thresholds, curate, decide_clip, read_decisions
from facevid_datasets.curation.pipeline import is_curated_folder, list_videos
from facevid_datasets.errors import AnnotationError
from facevid_datasets.testing import make_index_video

PREVIOUS = {"decisions.parquet": b"previous decisions", "records.jsonl": b"previous records",
            "summary.json": b'{"kept": 7}'}  # fmt: skip


def broken_sync() -> object:
    """A sync plugin whose weights are missing: its factory raises."""
    raise FileNotFoundError("sync.pt: no such weights file")


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("faultvid") / "v.mp4", 5, 10.0, (32, 32), audio=False)


@pytest.fixture
def workspace(tmp_path, video) -> dict[str, Path]:
    """`vids/` with two small videos, `out/` holding a previous run's outputs, `rel/` a release."""
    vids = tmp_path / "vids"
    vids.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(video, vids / name)
    out = tmp_path / "out"
    out.mkdir()
    for name, data in PREVIOUS.items():
        (out / name).write_bytes(data)
    rel = tmp_path / "rel"
    (rel / "videos").mkdir(parents=True)
    shutil.copy(video, rel / "videos" / "000001.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no videos here")
    (tmp_path / "afile").write_text("a file, not a folder")
    return {"vids": vids, "out": out, "rel": rel, "empty": empty, "afile": tmp_path / "afile", "tmp": tmp_path}


def _invoke(args: list[str]) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.stdout, res.stderr


# -- one-line errors, nothing touched ------------------------------------------------------------

#: (id, arguments after `curate`, the words the one line must hold)
ERRORS = [
    ("model-module-missing", ["{vids}", "--model", "sync=nope.mod:load"],
     ["sync model 'nope.mod:load'", "cannot import 'nope.mod'", "No module named 'nope'"]),
    ("model-attr-missing", ["{vids}", "--model", "sync=json:load_sync"], ["module 'json' has no callable 'load_sync'"]),
    ("model-name-unknown", ["{vids}", "--model", "sync=syncnet"], ["unknown sync model 'syncnet'", "av-regression"]),
    ("model-kind-unknown", ["{vids}", "--model", "lipsync=av-regression"], ["unknown model kind", "lipsync"]),
    ("model-no-equals", ["{vids}", "--model", "syncnet"], ["bad --model 'syncnet'", "kind=spec"]),
    ("model-unknown-ray", ["{vids}", "--model", "sync=nope.mod:load", "--ray-address", "local"],
     ["sync model 'nope.mod:load'", "cannot import"]),
    ("model-factory-raises", ["{vids}", "--model", f"sync={__name__}:broken_sync", "--workers", "1"],
     ["sync model", "failed to load", "sync.pt: no such weights file"]),
    ("model-factory-raises-pool", ["{vids}", "--model", f"sync={__name__}:broken_sync", "--workers", "2"],
     ["sync model", "failed to load", "sync.pt: no such weights file"]),
    ("threshold-unknown-name", ["{vids}", "--threshold", "max_brisqe=40"],
     ["bad threshold 'max_brisqe=40'", "max_brisque", "sync_wrong_below"]),
    ("threshold-no-value", ["{vids}", "--threshold", "max_brisque"], ["bad threshold 'max_brisque'", "name=value"]),
    ("threshold-not-a-number", ["{vids}", "--threshold", "max_brisque=high"],
     ["bad threshold 'max_brisque=high'", "not a valid float"]),
    ("threshold-int-as-float", ["{vids}", "--threshold", "min_resolution=512.5"],
     ["bad threshold 'min_resolution=512.5'", "not a valid int"]),
    ("threshold-bool", ["{vids}", "--threshold", "require_audio=maybe"], ["'require_audio=maybe'", "not a valid bool"]),
    ("threshold-nan", ["{vids}", "--threshold", "max_brisque=nan"], ["'max_brisque=nan'", "finite number >= 0"]),
    ("threshold-inf", ["{vids}", "--threshold", "sync_min_seconds=inf"], ["'sync_min_seconds=inf'", "finite"]),
    ("threshold-negative", ["{vids}", "--threshold", "sync_near_offset=-1"], ["'sync_near_offset=-1'", ">= 0"]),
    ("limit-zero", ["{vids}", "--limit", "0"], ["--limit 0", "1 or more"]),
    ("out-is-a-file", ["{vids}", "--out", "{afile}"], ["afile", "must be a folder"]),
    ("no-videos", ["{empty}"], ["empty", "no video files"]),
    ("out-inside-release", ["facevid-1k", "--data-dir", "{rel}", "--out", "{rel}/curated"],
     ["inside the release folder", "rel"]),
]  # fmt: skip


SLOW = {"model-factory-raises-pool"}  # starts two worker processes


@pytest.mark.parametrize(
    "args,words", [pytest.param(a, w, id=i, marks=[pytest.mark.slow] if i in SLOW else []) for i, a, w in ERRORS]
)
def test_bad_option_is_one_line_and_touches_nothing(workspace, args, words):
    argv = [a.format(**{k: str(v) for k, v in workspace.items()}) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(workspace["out"])]
    before = sorted(p.relative_to(workspace["tmp"]) for p in workspace["tmp"].rglob("*"))
    code, stdout, stderr = _invoke(["curate", *argv])
    # the progress bar may have started (a factory that raises is met when the first clip is measured)
    lines = [x for x in stderr.replace("\r", "\n").splitlines() if x.strip() and not x.startswith("measuring")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in stderr, (code, stdout, stderr)
    assert lines[0].startswith("facevid: error: ")
    for w in words:
        assert w in lines[0], (w, lines[0])
    for name, data in PREVIOUS.items():
        assert (workspace["out"] / name).read_bytes() == data, f"{name} was overwritten"
    assert not (workspace["rel"] / "curated").exists()
    if not any("broken_sync" in a for a in args):  # a factory that raises is found when a clip is measured
        # otherwise resolved before anything was written: not even the measurement cache folder
        assert sorted(p.relative_to(workspace["tmp"]) for p in workspace["tmp"].rglob("*")) == before


@pytest.mark.slow
def test_bad_option_through_the_installed_entry_point(workspace):
    """The same one line and exit 1 from a real `facevid` process (not the in-process runner)."""
    cmd = [sys.executable, "-c", "from facevid_datasets.cli import main; main()", "curate", str(workspace["vids"]),
           "--out", str(workspace["out"]), "--model", "sync=nope.mod:load"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "nope.mod" in lines[0], proc.stderr
    assert (workspace["out"] / "decisions.parquet").read_bytes() == PREVIOUS["decisions.parquet"]


# -- re-runs: the output is never read back as input ------------------------------------------------


def _ids(out: Path) -> tuple[list[str], list[str]]:
    decisions = [r["clip_id"] for r in pq.read_table(out / "decisions.parquet").to_pylist()]
    records = [json.loads(line)["clip_id"] for line in (out / "records.jsonl").read_text().splitlines()]
    return decisions, records


def _as_if_kept_segments(out: Path, video: Path) -> None:
    """What a run that split and kept a clip leaves in `clips/`: cut segments (videos)."""
    shutil.copy(video, out / "clips" / "a_s000.mp4")
    shutil.copy(video, out / "clips" / "a_s001.mp4")


@pytest.mark.parametrize("where", ["inside", "is-input", "old-curated-sibling"])
def test_rerun_does_not_read_its_own_output(tmp_path, video, where):
    vids = tmp_path / "in"
    vids.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(video, vids / name)
    out = {"inside": vids / "curated", "is-input": vids, "old-curated-sibling": vids / "curated"}[where]
    args = ["curate", str(vids), "--out", str(out), "--workers", "1"]
    code, stdout, stderr = _invoke(args)
    assert code == 0, stderr
    _as_if_kept_segments(out, video)
    if where == "old-curated-sibling":  # an earlier run's output under another name is skipped too
        shutil.copytree(out, vids / "curated-2025")
    code, stdout, stderr = _invoke(args)
    assert code == 0, stderr
    decisions, records = _ids(out)
    assert sorted(decisions) == ["a", "b"], decisions  # once each, no `a_s000` read back as a clip
    assert len(records) == len(set(records))
    assert "not read as input" in stderr
    if where == "old-curated-sibling":
        assert "curated-2025: a curated folder" in stderr
    assert "reused 2" in stdout  # the second run measured nothing again


def test_rerun_with_changed_thresholds_in_place(tmp_path, video):
    vids = tmp_path / "in"
    vids.mkdir()
    shutil.copy(video, vids / "a.mp4")
    out = vids / "curated"
    assert _invoke(["curate", str(vids), "--out", str(out), "--workers", "1"])[0] == 0
    _as_if_kept_segments(out, video)
    code, stdout, stderr = _invoke(["curate", str(vids), "--out", str(out), "--threshold", "min_resolution=16",
                                   "--threshold", "min_detail=0"])
    assert code == 0 and "1 clips" in stdout and "reused 1" in stdout, stdout + stderr
    rows = read_decisions(out)
    assert [r["clip_id"] for r in rows] == ["a"] and rows[0]["stage"] != "resolution"
    assert json.loads((out / "summary.json").read_text())["thresholds"]["min_resolution"] == 16


def test_api_refuses_its_own_cut_segments_as_input(tmp_path, video):
    out = tmp_path / "out"
    (out / "clips").mkdir(parents=True)
    seg = shutil.copy(video, out / "clips" / "a_s000.mp4")
    with pytest.raises(AnnotationError, match="a_s000.mp4: lies inside the output folder"):
        curate([video, seg], out, workers=1, progress=False)
    assert not (out / "decisions.parquet").exists()


def test_listing_skips_curated_folders_and_hidden_ones(tmp_path, video):
    root = tmp_path / "in"
    for rel in ("a.mp4", "sub/b.mp4", ".hidden/c.mp4", "old/clips/a_s000.mp4", "out/clips/x.mp4"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, root / rel)
    for name in ("decisions.parquet", "summary.json"):
        (root / "old" / name).write_text("x")
    assert is_curated_folder(root / "old") and not is_curated_folder(root / "sub")
    listing = list_videos(root, root / "out")
    assert [p.relative_to(root).as_posix() for p in listing.videos] == ["a.mp4", "sub/b.mp4"]
    assert sorted(p.name for p in listing.skipped) == ["old", "out"]


# -- recorded values mean what their thresholds test ------------------------------------------------


def test_face_fraction_column_is_what_its_threshold_tests():
    seg = {"start_frame": 0, "end_frame": 50, "duration": 10.0, "face_count": 1, "face_size": 150.0,
           "face_frames": 1.0, "has_audio": False}  # fmt: skip
    meta = {"clip": {"clip_id": "a", "fps": 25.0, "width": 1024, "height": 768, "num_frames": 50, "duration": 2.0,
                     "has_audio": False}, "segments": [seg]}  # fmt: skip
    t = Thresholds(min_face_size=100.0)
    (row,) = decide_clip(meta, t)
    assert row["face_fraction"] == pytest.approx(150 / 768) and row["face_frames"] == 1.0
    assert (row["decision"], row["stage"]) == ("drop", "face_size") and "0.20 of the frame" in row["reason"]
    (kept,) = decide_clip(meta, t.replace(min_face_fraction=0.15))
    assert kept["decision"] == "keep" and kept["face_fraction"] == pytest.approx(150 / 768)


def test_model_error_raised_in_a_ray_worker_reaches_the_driver_as_one_line():
    """Ray hands a worker's exception back wrapped (`RayTaskError.cause`, chained by Ray Data): the
    runner finds the model's own error inside, so the CLI prints its one line, not a remote traceback."""
    from facevid_datasets.curation.models import ModelLoadError
    from facevid_datasets.curation.ray_runner import _model_error

    class RayTaskError(Exception):  # the shape of ray.exceptions.RayTaskError
        def __init__(self, cause: BaseException):
            super().__init__("ray::_measure_row() (pid=1, ip=10.0.0.1)\nTraceback (most recent call last): ...")
            self.cause = cause

    inner = ModelLoadError("sync model 'x.y:load' failed to load: OSError: no GPU")
    outer = RuntimeError("Ray Data stream failed")
    outer.__cause__ = RayTaskError(inner)
    assert _model_error(outer) is inner
    assert _model_error(RayTaskError(ValueError("a clip's own problem"))) is None
