"""The Ray Data runner gives the same decisions as the local process pool (local Ray instance)."""

from __future__ import annotations

import pytest

from facevid_datasets.curation import MeasureConfig, Thresholds, curate, read_decisions
from facevid_datasets.curation.synthetic import make_clip

ray = pytest.importorskip("ray")


@pytest.mark.slow
def test_ray_run_matches_local_run(tmp_path):
    defects = ("clean", "black_bars", "scene_cut")
    paths = [make_clip(d, tmp_path / f"{d}.mp4", seed=i).path for i, d in enumerate(defects)]
    synthetic = Thresholds(min_detail=0.0)  # its faces are enlarged photo crops (see test_curation.SYNTHETIC)
    dlib = MeasureConfig(models={"face_detector": "dlib-hog", "landmarks": "dlib-68", "keypoints": "dlib-68"})
    local = curate(paths, tmp_path / "local", thresholds=synthetic, config=dlib, workers=1, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        seen = []
        distributed = curate(paths, tmp_path / "ray", thresholds=synthetic, config=dlib, ray_address="local",
                             progress=False, on_result=seen.append)  # fmt: skip
    finally:
        ray.shutdown()
    assert sorted(seen) == sorted(p.stem for p in paths) and distributed.measured == 3

    def table(out):
        keep = ("clip_id", "decision", "stage", "reason", "face_count", "border_px", "sync_offset", "head_pose")
        return sorted(tuple(r[k] for k in keep) for r in read_decisions(out))

    assert table(tmp_path / "ray") == table(tmp_path / "local")
    assert distributed.summary == local.summary and local.summary["kept"] == 3  # clean + both scene segments
