"""ClipDataset: frame choice (stride, resampled fps), start modes, short clips, records and streams."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch

from facevid_datasets.schema import FEATURES, empty_record
from facevid_datasets.training import BalancedSampler, ClipDataset, StreamingClipDataset
from facevid_datasets.training.plan import Draw


def rec(clip_id: str = "c0", num_frames: int = 100, fps: float = 25.0, **extra) -> dict:
    r = empty_record()
    r.update(clip_id=clip_id, video={"path": f"/data/{clip_id}.mp4", "bytes": None}, audio_source="video",
             fps=fps, num_frames=num_frames, duration=num_frames / fps, width=64, height=48)
    r.update(extra)
    return r


def test_stride_and_start_modes():
    ds = ClipDataset([rec(num_frames=100)], frames=8, stride=3, start="first")
    p = ds[0]
    assert p.indices.tolist() == list(range(0, 24, 3)) and p.valid.all() and p.fps == pytest.approx(25 / 3)
    assert np.allclose(p.times, p.indices / 25.0)
    c = ClipDataset([rec(num_frames=100)], frames=8, stride=3, start="center")[0]
    assert c.indices[0] == (100 - 22) // 2
    s = ClipDataset([rec(num_frames=100)], frames=8, start=2.0)[0]
    assert s.indices[0] == 50


def test_target_fps_resamples_from_the_source_rate():
    p = ClipDataset([rec(num_frames=300, fps=30.0)], frames=10, fps=25.0, start="first")[0]
    # the frame on screen at k / 25 s in a 30 fps file: floor(k * 30 / 25)
    assert p.indices.tolist() == [int(np.floor(k * 30 / 25 + 1e-6)) for k in range(10)]
    assert p.fps == 25.0 and np.allclose(p.times, np.arange(10) / 25)
    up = ClipDataset([rec(num_frames=300, fps=12.5)], frames=6, fps=25.0, start="first")[0]
    assert up.indices.tolist() == [0, 0, 1, 1, 2, 2]  # upsampling repeats frames, as a player does


def test_random_start_is_seeded_by_draw_and_varies_across_draws():
    ds = ClipDataset([rec(num_frames=1000)], frames=16, seed=4)
    a = ds[Draw(0, epoch=1, position=3, key=7)]
    b = ds[Draw(0, epoch=1, position=3, key=7)]
    assert a.indices.tolist() == b.indices.tolist()
    starts = {int(ds[Draw(0, 1, k, k)].indices[0]) for k in range(20)}
    assert len(starts) > 10  # the same clip drawn again in an epoch gets another window
    assert all(0 <= s <= 1000 - 16 for s in starts)


def test_short_clips_pad_loop_or_skip_never_crash():
    short = rec("short", num_frames=5)
    pad = ClipDataset([short], frames=8, start="first")[0]
    assert pad.indices.tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    assert pad.valid.tolist() == [True] * 5 + [False] * 3
    loop = ClipDataset([short], frames=8, short="loop")[0]
    assert loop.indices.tolist() == [0, 1, 2, 3, 4, 0, 1, 2] and loop.valid.all()
    skip = ClipDataset([short, rec("long", num_frames=50)], frames=8, short="skip")
    assert len(skip) == 1 and skip[0].clip_id == "long"
    assert skip.skipped == [("short", "5 frames, a clip needs 8")]
    with pytest.raises(ValueError, match="short="):
        ClipDataset([short], short="crash")


def test_hf_dataset_rows_slice_keypoints_and_pose_for_sampled_frames_only():
    n = 40
    points = [[[float(i), float(2 * i), 1.0]] * 3 for i in range(n)]
    r = rec("kp", num_frames=n, keypoints={"format": "ibug68", "points": points},
            head_pose={"label": "frontal", "yaw": [float(i) for i in range(n)], "pitch": [0.0] * n,
                       "roll": [0.0] * n},
            attributes={**empty_record()["attributes"], "ethnicity": "Asian"}, caption="a person talks")
    r["video"] = {"path": "/data/kp.mp4", "bytes": None}
    hf = datasets.Dataset.from_list([r], features=FEATURES)
    p = ClipDataset(hf, frames=5, stride=2, start="first")[0]
    assert p.keypoints.shape == (5, 3, 3)
    assert p.keypoints[:, 0, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert p.keypoints[:, 0, 1].tolist() == [0.0, 4.0, 8.0, 12.0, 16.0]
    assert p.head_pose[:, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert p.labels["caption"] == "a person talks" and p.labels["attributes"]["ethnicity"] == "Asian"
    assert p.keypoint_format == "ibug68" and p.audio == "/data/kp.mp4"


def test_audio_source_none_and_file():
    assert ClipDataset([rec(audio_source="none")])[0].audio is None
    f = rec(audio_source="file", audio={"path": "/data/a.wav", "bytes": None})
    assert ClipDataset([f])[0].audio == "/data/a.wav"


def _iterate(ds: StreamingClipDataset, workers: int) -> list:
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=list)
    return [p for batch in loader for p in batch]


def test_streaming_dataset_splits_workers_and_follows_a_balanced_sampler():
    recs = [rec(f"a{i}", source="a") for i in range(20)] + [rec(f"b{i}", source="b") for i in range(2)]
    stream = datasets.IterableDataset.from_generator(lambda: iter(recs))
    plain = ClipDataset(stream, frames=4)
    assert isinstance(plain, StreamingClipDataset)
    one = [p.clip_id for p in _iterate(plain, 0)]
    two = [p.clip_id for p in _iterate(plain, 2)]
    assert sorted(one) == sorted(two) == sorted(r["clip_id"] for r in recs)
    sampler = BalancedSampler(stream, "source", "equal", groups=["a", "b"], num_samples=40, batch_size=2, seed=1)
    mixed = ClipDataset(stream, frames=4, sampler=sampler)
    ids = [p.clip_id for p in _iterate(mixed, 2)]
    assert len(ids) == 40 and 15 <= sum(i.startswith("b") for i in ids) <= 25
    assert [p.position for p in _iterate(mixed, 2)] == list(range(40))
