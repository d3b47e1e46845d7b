"""Plans carry motion frames, reference frames, face boxes and head-rotation speed."""

from __future__ import annotations

import numpy as np
import pytest

import facevid_datasets as fvd
from facevid_datasets.training import Draw
from facevid_datasets.training.conditions import rotation_angle
from facevid_datasets.training.context_frames import motion_frames, reference_frames


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return fvd.load_dataset("facevid-1k", "sample", split="train", cache_dir=str(tmp_path_factory.mktemp("c")))


def test_motion_frames_pad_before_the_clip_start():
    m = motion_frames(0.08, 4, 25.0, 30.0)  # window starts at output frame 2
    assert m.valid.tolist() == [False, False, True, True]
    np.testing.assert_allclose(m.times[2:], [0.0, 0.04])
    assert m.indices.tolist() == [0, 0, 0, 1]


def test_reference_frames_stay_outside_the_window():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ref = reference_frames(np.arange(40, 56), 120, 3, 25.0, rng)
        assert ref.valid.all() and not np.isin(ref.indices, np.arange(40, 56)).any()
        assert len(set(ref.indices.tolist())) == 3
    covered = reference_frames(np.arange(0, 16), 16, 2, 25.0, rng)
    assert not covered.valid.any()  # the window is the whole clip: nothing outside, said so


def test_plans_from_the_sample_carry_every_option(sample):
    clips = fvd.ClipDataset(sample, frames=8, fps=25, motion=2, reference=1, seed=3)
    for i in range(0, len(clips), 5):
        p = clips[Draw(i, 0, 0, i)]
        rec = sample[i]
        assert p.motion.indices.shape == (2,) and p.motion.keypoints.shape[:2] == (2, 68)
        first = p.times[0]
        np.testing.assert_allclose(p.motion.times[p.motion.valid], (first - np.array([2, 1]) / 25.0)[p.motion.valid])
        window = p.indices[p.valid]
        if rec["num_frames"] > window.max() - window.min() + 1:
            assert p.reference.valid.all() and not np.isin(p.reference.indices, window).any()
        assert p.face_boxes.shape == (8, 5) and (p.face_boxes[:, 4] == 1).all()
        kp = p.keypoints
        assert (kp[..., 0] >= p.face_boxes[:, None, 0]).all() and (kp[..., 1] <= p.face_boxes[:, None, 3]).all()
        assert p.head_speed.shape == (8 + 4,) and p.head_speed_known.shape == (12,)
        track = np.stack([rec["head_pose"][k] for k in ("yaw", "pitch", "roll")], -1)
        known = np.flatnonzero(p.head_speed_known)
        t = p.times[0] + (np.arange(12) - 2) / 25.0
        cur = np.floor(t * p.source_fps + 1e-6).astype(int)
        prev = np.floor((t - 1 / 25.0) * p.source_fps + 1e-6).astype(int)
        expect = rotation_angle(track[prev[known]], track[cur[known]])
        np.testing.assert_allclose(p.head_speed[known], expect, atol=1e-4)


def test_identity_reference_comes_from_another_clip_of_the_person(sample):
    clips = fvd.ClipDataset(sample, frames=8, reference=2, reference_from="identity", seed=0)
    idents = sample["identity"]
    ids = sample["clip_id"]
    for i in range(0, len(clips), 3):
        p = clips[Draw(i, 0, 0, i)]
        assert p.reference.clip_id != ids[i] and p.reference.video != p.video
        assert idents[ids.index(p.reference.clip_id)] == idents[i]
        assert p.reference.keypoints.shape[0] == 2 and p.reference.width == 256
    with pytest.raises(ValueError, match="reference_from"):
        fvd.ClipDataset(sample, reference=1, reference_from="speaker")
