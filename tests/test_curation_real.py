"""What real footage showed, kept as tests: the default face models and measures on official
DH-FaceVid-1K sample clips (256 px, already cleaned by their authors). Skipped when the shared
calibration clips are absent (`../shared/real` beside the repository, as in CI, or the folder named by
`FACEVID_REAL_CLIPS`)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from facevid_datasets.curation import Thresholds, curate, load_model, read_decisions
from facevid_datasets.curation import stages as st
from facevid_datasets.curation.decisions import sync_near_score
from facevid_datasets.media.decode import TorchcodecReader

REAL = Path(os.environ.get("FACEVID_REAL_CLIPS") or
            Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration")  # fmt: skip
CLIPS = sorted(REAL.glob("*.mp4")) if REAL.is_dir() else []
pytestmark = pytest.mark.skipif(not CLIPS, reason=f"no real calibration clips in {REAL}")


@pytest.fixture(scope="module")
def middle_frames() -> dict[str, np.ndarray]:
    """The middle frame of every calibration clip."""
    out = {}
    for p in CLIPS:
        r = TorchcodecReader(str(p))
        out[p.stem] = r.get_frames([r.num_frames // 2])[0].permute(0, 2, 3, 1).numpy()[0]
    return out


def test_default_detector_finds_one_big_enough_face_in_every_clip(middle_frames):
    det = load_model("face_detector", "mediapipe")
    t = Thresholds.for_resolution(256)
    for name, rgb in middle_frames.items():
        faces = det.detect(rgb)
        assert len(faces) == 1, name  # dlib's HOG missed clear frontal faces here
        side = max(faces[0].w, faces[0].h)
        assert side >= t.min_face_size and side >= t.min_face_fraction * 256, (name, side)


def test_dark_backgrounds_are_not_borders_but_bars_are(middle_frames):
    t = Thresholds.for_resolution(256)
    for name, rgb in middle_frames.items():
        assert st.black_border(rgb) <= t.max_border_px, name
        bars = cv2.copyMakeBorder(cv2.resize(rgb, (256, 208)), 24, 24, 0, 0, cv2.BORDER_CONSTANT, value=0)
        assert st.black_border(bars) >= 20, name


def test_detail_ratio_separates_native_from_upscaled(middle_frames):
    t = Thresholds.for_resolution(256)
    for name, rgb in middle_frames.items():
        up = cv2.resize(cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA), (256, 256),
                        interpolation=cv2.INTER_CUBIC)  # fmt: skip
        assert st.detail_ratio(up) < t.min_detail, name
    native = sorted(st.detail_ratio(rgb) for rgb in middle_frames.values())
    assert native[1] >= t.min_detail  # at most one single frame under it (whole clips use a 5-frame median)


def test_mesh_head_pose_of_clean_clips_is_mostly_frontal(middle_frames):
    det, mesh, pose = (load_model("face_detector", "mediapipe"), load_model("landmarks", "mediapipe-mesh"),
                       load_model("head_pose", "solvepnp"))  # fmt: skip
    labels = []
    for rgb in middle_frames.values():
        face = det.detect(rgb)[0]
        yaw, pitch, _ = pose.angles(mesh.landmarks(rgb, face), 256, 256)
        labels.append(st.head_pose_class(yaw, pitch))
    assert labels.count("frontal") >= 0.7 * len(labels)  # the paper: 74% frontal
    assert labels.count("profile_up") <= 2  # the old dlib pose called faces looking into the camera "up"


def test_short_clean_clips_are_kept_by_the_default_stages(tmp_path):
    short = [p for p in CLIPS if p.stem in ("Czb5Ml9VDsI_0", "UF2c01_glHU_3", "hM3nn30NxCE_0")]
    assert short
    result = curate(short, tmp_path / "out", thresholds=Thresholds.for_resolution(256), workers=1, progress=False)
    rows = [r for r in read_decisions(result.out) if r["decision"] != "split"]
    assert all(r["decision"] == "keep" for r in rows), [(r["clip_id"], r["reason"]) for r in rows]
    assert all(r["sync_status"] in ("in_sync", "unknown") for r in rows)


def test_another_speakers_audio_is_dropped_and_the_own_audio_kept(tmp_path):
    """The offline lip-sync test on real faces: two clips of 12-15 s keep their own audio (in sync),
    and one with the other's speech is dropped at `sync` (the envelope proxy could not tell)."""
    from facevid_datasets.curation.defects import make_defect

    a, b = (p for name in ("7n619EfuSPw_0", "XoGhKL6CKwg_12") for p in CLIPS if p.stem == name)
    swapped = make_defect("wrong_audio", a, tmp_path / "wrong_audio.mp4", other=b)
    result = curate([a, b, swapped.path], tmp_path / "out", thresholds=Thresholds.for_resolution(256), workers=1,
                    progress=False)  # fmt: skip
    rows = {r["clip_id"]: r for r in read_decisions(result.out)}
    t = Thresholds.for_resolution(256)
    for own in (a.stem, b.stem):
        assert rows[own]["decision"] == "keep" and rows[own]["sync_status"] == "in_sync", rows[own]
        # far from the lines, not next to them: own audio scores 4.0-4.3 near zero (wrong below 1.5)
        assert sync_near_score(rows[own], t) >= 2 * t.sync_wrong_below, rows[own]
        assert rows[own]["sync_confidence"] >= t.sync_min_confidence + 0.5, rows[own]
    wrong = rows["wrong_audio"]
    assert (wrong["decision"], wrong["stage"]) == ("drop", "sync") and "another speaker" in wrong["reason"], wrong
    assert sync_near_score(wrong, t) <= 0.75 * t.sync_wrong_below, wrong  # 0.8 measured
