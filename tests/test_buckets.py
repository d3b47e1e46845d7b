"""Aspect-ratio buckets: one shape per batch, the sampler's draws kept, exact resume."""

from collections import Counter

import numpy as np
import pytest

from facevid_datasets.training import BalancedSampler
from facevid_datasets.training.buckets import BucketBatchSampler, aspect_buckets, bucket_of


def test_aspect_buckets_keep_the_area_and_the_multiple():
    buckets = aspect_buckets(512 * 512)
    assert (512, 512) in buckets and len(buckets) == 5
    for h, w in buckets:
        assert h % 16 == 0 and w % 16 == 0 and abs(h * w / 512**2 - 1) < 0.06
    assert buckets[bucket_of(1920, 1080, buckets)] == (384, 688)  # landscape 16:9
    assert buckets[bucket_of(1080, 1920, buckets)] == (688, 384)  # portrait 9:16
    assert buckets[bucket_of(None, None, buckets)] == (512, 512)
    with pytest.raises(ValueError):
        aspect_buckets(0)


def _records(n: int = 60) -> list[dict]:
    rng = np.random.default_rng(0)
    shapes = [(1920, 1080), (1080, 1920), (512, 512), (640, 480)]
    out = []
    for i in range(n):
        w, h = shapes[i % 4]
        out.append({"clip_id": f"c{i}", "source": ["a", "b"][i % 2], "fps": 25.0, "width": w, "height": h,
                    "num_frames": int(rng.integers(50, 400)), "video": {"path": f"/x/{i}.mp4", "bytes": None}})
    for r in out:
        r["duration"] = r["num_frames"] / 25.0
    return out


def test_batches_hold_one_bucket_and_every_draw():
    recs = _records()
    inner = BalancedSampler(recs, "source", "equal", num_samples=200, seed=3)
    draws = list(inner)
    sizes = [(r["width"], r["height"]) for r in recs]
    bs = BucketBatchSampler(inner, sizes, aspect_buckets(), batch_size=4)
    batches = list(bs)
    assert all(len({bs.bucket_for([d]) for d in b}) == 1 for b in batches)
    assert all(len(b) == 4 for b in batches[: -len(aspect_buckets())])  # only leftovers are short
    assert Counter(tuple(d) for b in batches for d in b) == Counter(tuple(d) for d in draws)  # balance untouched
    assert len(bs) == len(batches)


def test_resume_continues_with_the_same_batches():
    recs = _records()
    sizes = [(r["width"], r["height"]) for r in recs]

    def make() -> BucketBatchSampler:
        return BucketBatchSampler(BalancedSampler(recs, "source", "equal", num_samples=150, seed=5), sizes,
                                  aspect_buckets(), batch_size=3)

    full = [list(map(tuple, b)) for b in make()]
    first = make()
    it = iter(first)
    seen = [list(map(tuple, next(it))) for _ in range(7)]
    state = first.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = [list(map(tuple, b)) for b in resumed]
    assert seen + rest == full


def test_collator_outputs_each_batch_at_its_bucket(tmp_path):
    import torch

    import facevid_datasets as fvd
    from facevid_datasets.testing import make_index_video
    from facevid_datasets.training import VideoCollator

    recs = []
    for i, (w, h) in enumerate([(128, 72), (72, 128), (96, 96), (128, 72)]):
        path = make_index_video(tmp_path / f"v{i}.mp4", num_frames=20, fps=25, size=(h, w), audio=False)
        recs.append({"clip_id": f"v{i}", "video": {"path": str(path), "bytes": None}, "fps": 25.0, "num_frames": 20,
                     "duration": 0.8, "width": w, "height": h, "audio_source": "none", "source": "s"})
    clips = fvd.ClipDataset(recs, frames=4)
    buckets = aspect_buckets(64 * 64)
    sampler = BucketBatchSampler(BalancedSampler(clips, "source", "natural", seed=0),
                                 [(r["width"], r["height"]) for r in recs], buckets, batch_size=2)
    col = VideoCollator(buckets, dtype=torch.uint8)
    shapes = set()
    for batch_draws in sampler:
        batch = col([clips[d] for d in batch_draws])
        assert tuple(batch["video"].shape[-2:]) == sampler.size_for(batch_draws)
        shapes.add(tuple(batch["video"].shape[-2:]))
    assert shapes == {(48, 80), (80, 48), (64, 64)}
    with pytest.raises(ValueError, match="different size buckets"):
        col([clips[0], clips[1]])
