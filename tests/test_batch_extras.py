"""What a training step gets beside the window: context frames, face crops and masks, EMO conditions, mel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import facevid_datasets as fvd
from facevid_datasets.testing import make_index_video, read_index
from facevid_datasets.training import Draw
from facevid_datasets.training.conditions import SpeedBuckets


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return fvd.load_dataset("facevid-1k", "sample", split="train", cache_dir=str(tmp_path_factory.mktemp("c")))


@pytest.fixture(scope="module")
def index_records(tmp_path_factory):
    d = tmp_path_factory.mktemp("idx")
    recs = []
    for i, n in enumerate((60, 40)):
        path = make_index_video(d / f"v{i}.mp4", num_frames=n, fps=25, size=(96, 96))
        recs.append({"clip_id": f"v{i}", "video": {"path": str(path), "bytes": None}, "fps": 25.0, "num_frames": n,
                     "duration": n / 25, "width": 96, "height": 96, "audio_source": "video", "identity": "p"})
    return recs


_EXTRAS = ("face_masks", "face_region", "speed", "mel", "audio_features")


def _batch(clips, rows, **kw):
    extras = fvd.BatchExtras(**{k: kw.pop(k) for k in _EXTRAS if k in kw})
    col = fvd.VideoCollator(kw.pop("size", 96), extras=extras, **kw)
    return col([clips[Draw(r, 0, i, r)] for i, r in enumerate(rows)])


def test_motion_and_reference_frames_are_the_planned_frames(index_records):
    clips = fvd.ClipDataset(index_records, frames=6, motion=3, reference=2, seed=4)
    batch = _batch(clips, [0, 1], fit="pad", dtype=torch.uint8)
    assert batch["motion"].shape == (2, 3, 3, 96, 96) and batch["reference"].shape == (2, 2, 3, 96, 96)
    for b in range(2):
        window = batch["indices"][b].tolist()
        plan = clips[Draw(b, 0, b, b)]
        assert [read_index(f) for f in batch["video"][b]] == window
        got_ref = [read_index(f) for f in batch["reference"][b]]
        assert got_ref == plan.reference.indices.tolist() and not set(got_ref) & set(window)
        for j, ok in enumerate(batch["motion_mask"][b].tolist()):
            if ok:
                assert read_index(batch["motion"][b, j]) == plan.motion.indices[j]
            else:
                assert batch["motion"][b, j].abs().sum() == 0  # padding before the clip's start: a zero map


def test_motion_frames_at_the_clip_start_are_masked(index_records):
    clips = fvd.ClipDataset(index_records, frames=4, motion=2, start="first")
    batch = _batch(clips, [0], fit="pad")
    assert batch["motion_mask"].tolist() == [[False, False]] and batch["motion"].abs().sum() == 0


def test_identity_reference_is_decoded_from_the_other_clip(index_records):
    clips = fvd.ClipDataset(index_records, frames=4, reference=2, reference_from="identity", seed=1)
    batch = _batch(clips, [0, 1], fit="pad", dtype=torch.uint8)
    for b in range(2):
        plan = clips[Draw(b, 0, b, b)]
        assert plan.reference.clip_id == index_records[1 - b]["clip_id"]
        assert [read_index(f) for f in batch["reference"][b]] == plan.reference.indices.tolist()


def test_face_crop_masks_and_region_hold_the_keypoints(sample):
    clips = fvd.ClipDataset(sample, frames=8, seed=2)
    batch = _batch(clips, [0, 7, 16, 24], size=128, fit="face", face_masks=True, face_region="union")
    assert batch["face_crop"].all()
    kp, ok = batch["keypoints"], batch["keypoints_mask"]
    B, T = ok.shape
    for b in range(B):
        for t in range(T):
            if not ok[b, t]:
                continue
            x = kp[b, t, :, 0].round().long().clamp(0, 127)
            y = kp[b, t, :, 1].round().long().clamp(0, 127)
            assert batch["face_mask"][b, t, y, x].all()
            assert batch["face_region"][b, 0, y, x].all()  # EMO's region covers every keypoint of the window
            assert batch["mouth_mask"][b, t, y[48:68], x[48:68]].all()  # the mouth is in the lower-face box
            assert not (batch["mouth_mask"][b, t] & ~batch["face_mask"][b, t]).any()
    assert (batch["face_region_source"] == 1).all()  # the record's boxes, not keypoints
    # one box per window: the face fills more of the output than the plain crop, and never leaves it
    plain = _batch(clips, [0, 7, 16, 24], size=128, fit="crop")
    span = (kp[..., 0].amax(-1) - kp[..., 0].amin(-1)).mean()
    span_plain = (plain["keypoints"][..., 0].amax(-1) - plain["keypoints"][..., 0].amin(-1)).mean()
    assert span > span_plain * 1.05 and kp[..., :2].min() >= 0 and kp[..., :2].max() <= 128


def test_face_crop_without_keypoints_falls_back_to_the_centre(index_records):
    clips = fvd.ClipDataset(index_records, frames=4)
    batch = _batch(clips, [0], fit="face")
    assert batch["face_crop"].tolist() == [False] and batch["video"].shape[-2:] == (96, 96)


def test_head_speed_in_the_batch_follows_the_trajectory(sample):
    clips = fvd.ClipDataset(sample, frames=8, seed=5)
    buckets = SpeedBuckets()
    batch = _batch(clips, [0, 3], size=64, speed=buckets)
    assert batch["head_speed"].shape == (2, 8) and batch["head_speed_code"].shape == (2, 8, buckets.dim)
    for b, row in enumerate([0, 3]):
        plan = clips[Draw(row, 0, b, row)]
        m = buckets.context
        expect = plan.head_speed[m : m + 8] * plan.fps
        mask = batch["head_speed_mask"][b].numpy()
        np.testing.assert_allclose(batch["head_speed"][b].numpy()[mask], expect[mask], atol=1e-4)
        mid = batch["head_speed_code"][b, :, m * 9 : (m + 1) * 9].numpy()  # the frame's own buckets
        np.testing.assert_allclose(mid[mask], np.tanh((expect[mask, None] - np.arange(0, 90, 10)) / 10 * 3),
                                   atol=1e-5)


def test_mel_frames_per_video_frame(sample):
    clips = fvd.ClipDataset(sample, frames=8, seed=0)
    batch = _batch(clips, [0, 1], size=64, mel=True)
    assert batch["mel"].shape == (2, 8, 4, 80) and torch.isfinite(batch["mel"]).all()
    with pytest.raises(ValueError, match="keep audio on"):
        fvd.VideoCollator(64, audio=False, extras=fvd.BatchExtras(mel=True))


def test_audio_feature_hook_runs_per_window(sample):
    class Energy:
        sample_rate = 16_000

        def __call__(self, audio: torch.Tensor) -> torch.Tensor:  # 50 feature frames per second, as wav2vec2
            frames = audio.reshape(audio.shape[0], -1, 320)
            return frames.pow(2).mean(-1, keepdim=True).repeat(1, 1, 3)

    clips = fvd.ClipDataset(sample, frames=8, seed=0)
    batch = _batch(clips, [0, 1], size=64, audio_features=Energy())
    assert batch["audio_features"].shape == (2, 8, 3)
    energy = batch["audio"].reshape(2, 8, -1).pow(2).mean(-1)
    assert torch.corrcoef(torch.stack([batch["audio_features"][0, :, 0], energy[0]]))[0, 1] > 0.8


def test_audio_free_and_audio_stages_sample_from_one_dataset(sample):
    """EMO trains its first stage without audio (VFHQ) and later stages only on clips with audio."""
    from facevid_datasets.training import BalancedSampler

    clips = fvd.ClipDataset(sample, frames=8)
    kinds = clips.column("audio_source")
    silent = BalancedSampler(clips, "source", "natural", where={"audio_source": ["none"]}, seed=0)
    voiced = BalancedSampler(clips, "source", "equal", where={"audio_source": ["video", "file"]}, seed=0)
    silent_rows = [d.row for d in silent]
    voiced_rows = [d.row for d in voiced]
    assert silent_rows and {kinds[r] for r in silent_rows} == {"none"}
    assert voiced_rows and {kinds[r] for r in voiced_rows} <= {"video", "file"}
    assert {s.group for s in voiced.report(whole_epoch=True)} == {"facevid-1k", "celebv-hq"}
    batch = _batch(clips, voiced_rows[:3], size=64)
    assert batch["audio_mask"].all()
    batch = _batch(clips, silent_rows[:3], size=64)
    assert not batch["audio_mask"].any()
