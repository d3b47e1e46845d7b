"""Several windows per visit: starts stay uniform over each clip's positions, and windows of one file
in a batch decode in one forward pass to exactly the frames separate decodes give."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from facevid_datasets.schema import empty_record
from facevid_datasets.testing import make_index_video, read_index
from facevid_datasets.training import ClipDataset, Draw, VideoCollator
from facevid_datasets.training.plan import visit_starts


def _uniform_pvalue(starts: np.ndarray, positions: int, bins: int = 10) -> float:
    """Chi-square p-value of `starts` against uniform over range(positions), in equal bins of the clip."""
    edges = np.linspace(0, positions, bins + 1)
    per_bin = np.histogram(np.arange(positions), bins=edges)[0]  # start positions each bin holds
    counts = np.histogram(starts, bins=edges)[0]
    return float(stats.chisquare(counts, len(starts) * per_bin / positions).pvalue)


@pytest.mark.parametrize("positions,k,span", [(485, 4, 16), (100, 8, 16), (30, 4, 16)])
def test_window_starts_are_uniform_over_the_clip(positions, k, span):
    rng = np.random.default_rng(0)
    visits = np.stack([visit_starts(positions, k, span, rng) for _ in range(4000)])
    assert visits.min() >= 0 and visits.max() < positions
    for j in range(k):  # every window slot of a visit, over independent visits
        assert _uniform_pvalue(visits[:, j], positions) > 1e-3, j


def test_the_uniformity_check_catches_keyframe_bias():
    rng = np.random.default_rng(0)
    biased = np.concatenate([rng.integers(0, 485, 3000), rng.integers(0, 4, 1000) * 125])  # some starts on keyframes
    assert _uniform_pvalue(biased, 485) < 1e-6


def test_clip_with_one_position_always_starts_at_zero():
    assert (visit_starts(1, 3, 16, np.random.default_rng(0)) == 0).all()


def test_consecutive_windows_tile_one_stretch():
    starts = visit_starts(1000, 4, 16, np.random.default_rng(1))
    assert (np.diff(starts) % 1000 == 16).all()


def test_bad_visit_arguments_are_clear():
    with pytest.raises(ValueError, match="must be >= 1"):
        visit_starts(0, 2, 4, np.random.default_rng(0))


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory):
    d = tmp_path_factory.mktemp("visits")
    paths = [make_index_video(d / f"v{i}.mp4", num_frames=120, fps=25.0, size=(48, 64), gop=60) for i in range(2)]
    recs = []
    for i, p in enumerate(paths):
        r = empty_record()
        r.update(clip_id=f"v{i}", video={"path": str(p), "bytes": None}, audio_source="video", fps=25.0,
                 num_frames=120, duration=4.8, width=64, height=48)
        recs.append(r)
    return recs


class CountingReader:
    """Wraps a reader and counts decode calls."""

    calls: list[tuple[str, int]] = []

    def __init__(self, inner):
        self.inner, self.num_frames, self.fps = inner, inner.num_frames, inner.fps

    def get_frames(self, indices):
        CountingReader.calls.append((self.inner.path, len(indices)))
        return self.inner.get_frames(indices)


def test_one_pass_decodes_each_file_once_and_matches_separate_decodes(long_gop, monkeypatch):
    clips = ClipDataset(long_gop, frames=8)
    # a visit of 4 windows to clip 0 and one of 3 to clip 1, as the sampler draws them, and two plain items
    plans = ([clips[Draw(0, 0, j, j, 4)] for j in range(4)] + [clips[Draw(1, 0, j, j, 3)] for j in range(3, 6)]
             + [clips[0], clips[0]])
    on = VideoCollator(32, dtype=torch.uint8, audio_window=1)
    original_open = on._open
    monkeypatch.setattr(on, "_open", lambda src: CountingReader(original_open(src)))
    CountingReader.calls = []
    batch = on(plans)
    assert len(CountingReader.calls) == 2  # one decode call per file
    assert CountingReader.calls[0][1] == len(np.unique(np.concatenate([p.indices for p in plans if p.row == 0])))
    off = VideoCollator(32, dtype=torch.uint8, audio_window=1, one_pass=False, reader_cache=0)(plans)
    assert torch.equal(batch["video"], off["video"]) and torch.equal(batch["audio_windows"], off["audio_windows"])
    for b, p in enumerate(plans):
        assert [read_index(f) for f in batch["video"][b]] == p.indices.tolist()


def test_readers_stay_open_across_batches(long_gop, monkeypatch):
    clips = ClipDataset(long_gop, frames=8)
    col = VideoCollator(32, audio=False, reader_cache=2)
    opened = []
    original_open = col._open
    monkeypatch.setattr(col, "_open", lambda src: opened.append(src) or original_open(src))
    for _ in range(3):
        col([clips[0], clips[1]])
    assert len(opened) == 2


def test_several_decode_sessions_give_the_same_batch(long_gop):
    clips = ClipDataset(long_gop * 3, frames=8)
    plans = [clips[i] for i in range(6)]
    one = VideoCollator(32, dtype=torch.uint8, audio_window=1)(plans)
    many = VideoCollator(32, dtype=torch.uint8, audio_window=1, decode_sessions=3, one_pass=False)(plans)
    assert torch.equal(one["video"], many["video"]) and torch.equal(one["audio"], many["audio"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_nvdec_sessions_and_concurrent_batches_match_the_cpu_path(long_gop):
    from facevid_datasets.training import clip_loader

    clips = ClipDataset(long_gop * 4, frames=8, seed=4)
    cpu = list(clip_loader(clips, VideoCollator(48, audio_window=2), batch_size=4, num_workers=0))
    gpu_col = VideoCollator(48, audio_window=2, device="cuda", decode_sessions=7)
    loader = clip_loader(clips, gpu_col, batch_size=4, num_workers=2, depth=3)
    gpu = list(loader)
    assert len(gpu) == len(cpu) and not loader.report.failures
    for a, b in zip(cpu, gpu, strict=True):
        assert b["video"].is_cuda and b["audio"].is_cuda
        assert a["clip_id"] == b["clip_id"]
        assert (a["video"] - b["video"].cpu()).abs().mean() < 0.03
        assert torch.allclose(a["audio"], b["audio"].cpu(), atol=1e-4)
        assert [read_index(f) for f in b["video"][0]] == a["indices"][0].tolist()


def test_sampler_visits_tile_consecutive_windows_with_uniform_starts():
    """BalancedSampler(windows_per_visit=k) + ClipDataset: a visit's k windows tile one stretch of the clip
    (one keyframe run-up), and over many visits every start position is equally likely."""
    from scipy.stats import chisquare

    from facevid_datasets.training import BalancedSampler, ClipDataset

    recs = [{"clip_id": f"c{i}", "video": {"path": f"/x/c{i}.mp4", "bytes": None}, "fps": 25.0, "num_frames": 100,
             "duration": 4.0, "source": "s", "width": 64, "height": 64} for i in range(6)]
    clips = ClipDataset(recs, frames=8, fps=25)
    k, span, positions = 4, 8, 100 - 8 + 1
    firsts = []
    for epoch in range(40):
        sampler = BalancedSampler(clips, "source", "natural", windows_per_visit=k, batch_size=8, seed=1,
                                  num_samples=48)
        sampler.set_epoch(epoch)
        draws = list(sampler)
        for v in range(0, len(draws), k):
            visit = draws[v : v + k]
            assert len({d.row for d in visit}) == 1 and [d.key % k for d in visit] == list(range(k))
            starts = [int(clips[d].indices[0]) for d in visit]
            assert all((starts[0] + j * span) % positions == s for j, s in enumerate(starts))
            firsts += starts
    counts = np.bincount(np.asarray(firsts) // 31, minlength=3)[:3]  # three equal bins of 31 positions
    assert chisquare(counts).pvalue > 0.001, counts
