"""EMO's weak conditions: head-rotation speed on known trajectories, speed buckets, face-region masks."""

from pathlib import Path

import numpy as np
import pytest

from facevid_datasets.training.conditions import (
    SpeedBuckets,
    boxes_from_keypoints,
    context_times,
    face_region_mask,
    head_speed,
    rotation_angle,
)

SAMPLE = Path(__file__).resolve().parents[1] / "facevid_datasets" / "sample_data"


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_angle_about_one_axis_is_the_angle_difference(axis):
    a = np.zeros((50, 3))
    b = np.zeros((50, 3))
    a[:, axis] = np.linspace(-70, 70, 50)
    b[:, axis] = a[:, axis] + np.linspace(-9, 9, 50)
    b[:, (axis + 1) % 3] = 0.0
    np.testing.assert_allclose(rotation_angle(a, b), np.abs(b[:, axis] - a[:, axis]), atol=1e-6)


def test_angle_ignores_composition_for_a_fixed_offset():
    base = np.array([20.0, -15.0, 5.0])
    turned = base + np.array([4.0, 0.0, 0.0])  # yaw only, with pitch and roll held
    assert rotation_angle(base, turned) == pytest.approx(4.0, abs=1e-6)


def test_unknown_pose_gives_nan_angle_and_masked_speed():
    track = np.zeros((10, 3), dtype=np.float32)
    track[4] = np.nan
    speed, known = head_speed(track, 25.0, np.arange(10) / 25.0, 25.0)
    assert not known[0]  # no frame before the clip's first
    assert not known[4] and not known[5]  # both speeds touching the NaN pose
    assert known[[1, 2, 3, 6, 7, 8, 9]].all() and np.all(speed[known] == 0)


def test_speed_resampled_to_the_output_rate_matches_the_trajectory():
    src_fps, out_fps = 30.0, 25.0
    t_src = np.arange(300) / src_fps
    track = np.zeros((300, 3))
    track[:, 0] = 30 * np.sin(2 * np.pi * 0.5 * t_src)  # yaw only: the angle is exactly |d yaw|
    times = 1.0 + np.arange(16) / out_fps
    speed, known = head_speed(track, src_fps, times, out_fps)
    assert known.all()
    cur = track[np.floor(times * src_fps + 1e-6).astype(int), 0]
    prev = track[np.floor((times - 1 / out_fps) * src_fps + 1e-6).astype(int), 0]
    np.testing.assert_allclose(speed, np.abs(cur - prev), atol=1e-4)


def test_sample_clips_speed_equals_the_trajectory_derivative():
    """The sample's per-frame angles are exact by construction: speed per frame follows their derivative."""
    files = sorted((SAMPLE / "head_pose").glob("*.npy"))
    assert files, "the embedded sample ships head-pose tracks"
    worst = 0.0
    for f in files:
        track = np.load(f, allow_pickle=False).astype(np.float64)
        fps = 25.0
        times = np.arange(len(track)) / fps
        speed, known = head_speed(track, fps, times, fps)
        deriv = np.linalg.norm(np.diff(track, axis=0), axis=1)  # degrees per frame, small steps
        assert not known[0] and known[1:].all()
        worst = max(worst, float(np.abs(speed[1:] - deriv).max()))
    assert worst < 0.5, worst


def test_speed_buckets_code_and_stack():
    buckets = SpeedBuckets(centres=(0.0, 20.0, 40.0), radii=(10.0, 10.0, 10.0), context=1)
    speeds = np.array([0.0, 20.0, 40.0, 20.0, 0.0])  # window of 3 plus one frame each side
    known = np.ones(5, dtype=bool)
    codes, mask = buckets.encode(speeds, known)
    assert codes.shape == (3, buckets.dim) == (3, 9) and mask.all()
    centre = codes[:, 3:6]  # the frame itself is the middle of its +-1 stack
    np.testing.assert_allclose(centre[0], np.tanh(np.array([20.0, 0.0, -20.0]) / 10 * 3), atol=1e-6)
    assert centre[1, 2] == pytest.approx(0.0)  # 40 deg/s sits on the third bucket's centre
    known[0] = False
    codes, mask = buckets.encode(speeds, known)
    assert mask.tolist() == [False, True, True] and np.all(codes[0, :3] == 0)


def test_speed_buckets_reject_bad_settings():
    with pytest.raises(ValueError, match="one radius per centre"):
        SpeedBuckets(centres=(0.0, 10.0), radii=(5.0,))
    with pytest.raises(ValueError, match="positive"):
        SpeedBuckets(centres=(0.0,), radii=(0.0,))


def test_context_times_extend_the_window():
    t = context_times(np.array([1.0, 1.04, 1.08]), 25.0, 2)
    np.testing.assert_allclose(t, [0.92, 0.96, 1.0, 1.04, 1.08, 1.12, 1.16])


def test_face_region_mask_is_the_union_and_covers_every_keypoint():
    rng = np.random.default_rng(0)
    pts = np.zeros((6, 68, 3))
    for t in range(6):
        pts[t, :, 0] = rng.uniform(40 + 5 * t, 120 + 5 * t, 68)
        pts[t, :, 1] = rng.uniform(60, 150, 68)
        pts[t, :, 2] = 1
    pts[3, :, 2] = 0  # an unknown frame adds nothing
    boxes, known = boxes_from_keypoints(pts)
    assert known.tolist() == [True, True, True, False, True, True]
    union = face_region_mask(boxes, known, (200, 220))
    per_frame = face_region_mask(boxes, known, (200, 220), per_frame=True)
    assert union.shape == (1, 200, 220) and per_frame.shape == (6, 200, 220)
    assert np.array_equal(union[0], per_frame.any(0)) and not per_frame[3].any()
    for t in np.flatnonzero(known):
        xs = np.clip(pts[t, :, 0].astype(int), 0, 219)
        ys = np.clip(pts[t, :, 1].astype(int), 0, 199)
        assert per_frame[t, ys, xs].all() and union[0, ys, xs].all()
    assert not union[0, :, 215:].any()  # nothing far right of every face
