"""The loader owns the bookkeeping, and the sampling options mean one thing everywhere.

`clip_loader` takes samplers and batch samplers alike, one batch size for loader and sampler, and
marks each batch it hands over consumed, so `loader.state_dict()` resumes exactly (no `mark_consumed`
in the training loop) and `batch["position"]` continues the epoch's position after a resume. A saved
state names the data it was planned on; a filter that leaves nothing is an error naming the filter;
`weights=` means weight mode.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

import facevid_datasets as fd
from facevid_datasets.schema import empty_record
from facevid_datasets.testing import make_index_video
from facevid_datasets.training import BalancedSampler, BucketBatchSampler, ClipDataset, VideoCollator, clip_loader
from facevid_datasets.training import __all__ as training_names

FPS, N = 25.0, 40


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[dict]:
    """Six short clips in two groups and two aspect ratios (index-coded frames, no audio)."""
    d = tmp_path_factory.mktemp("core")
    recs = []
    for i in range(6):
        h, w = ((48, 80), (64, 64))[i % 2]
        path = make_index_video(d / f"v{i}.mp4", num_frames=N, fps=FPS, size=(h, w), audio=False, gop=10)
        r = empty_record()
        r.update(clip_id=f"v{i}", video={"path": str(path), "bytes": None}, audio_source="none", fps=FPS,
                 num_frames=N, duration=N / FPS, width=w, height=h, source="ab"[i // 3])
        recs.append(r)
    return recs


def synthetic(counts: dict[str, int], frames: int = 100) -> list[dict]:
    """Records without files (plans only)."""
    out = []
    for g, n in counts.items():
        for i in range(n):
            out.append({"clip_id": f"{g}-{i}", "source": g, "fps": FPS, "num_frames": frames,
                        "duration": frames / FPS, "video": {"path": f"/nowhere/{g}{i}.mp4", "bytes": None},
                        "audio_source": "video"})
    return out


def test_every_public_training_name_is_exported_from_the_package():
    for name in ("BucketBatchSampler", "aspect_buckets", "SpeedBuckets", "LogMel", "StreamingClipDataset",
                 "ClipSpec", "ClipLoader", *training_names):
        assert getattr(fd, name) is getattr(fd.training, name), name
        assert name in fd.__all__ and name in dir(fd)


def test_weights_imply_weight_mode_and_a_conflicting_mode_is_refused():
    clips = ClipDataset(synthetic({"a": 20, "b": 20}), frames=8)
    s = BalancedSampler(clips, "source", weights={"a": 3, "b": 1}, num_samples=400)
    assert s.mode == "weights"
    got = {r.group: r.share for r in s.report(whole_epoch=True)}
    assert abs(got["a"] - 0.75) < 0.03 and abs(got["b"] - 0.25) < 0.03  # equal would be 0.5 each
    with pytest.raises(ValueError, match="weights= is given but mode='equal'"):
        BalancedSampler(clips, "source", "equal", weights={"a": 3, "b": 1})
    assert BalancedSampler(clips, "source", table={"a": 1, "b": 1}).mode == "population"


def test_a_filter_that_leaves_no_clip_is_an_error_naming_it():
    recs = synthetic({"a": 4, "b": 4})
    with pytest.raises(ValueError, match=r"where=\{'audio_source': \['none'\]\}.*all 8.*\['video'\]"):
        BalancedSampler(ClipDataset(recs, frames=8), "source", where={"audio_source": ["none"]})
    with pytest.raises(ValueError, match="excluded by id"):
        BalancedSampler(recs, "source", exclude_ids=[r["clip_id"] for r in recs])


def test_resume_on_changed_data_names_what_changed():
    six = ClipDataset(synthetic({"a": 3, "b": 3}), frames=8)
    s = BalancedSampler(six, "source", num_samples=48, batch_size=4)
    it = iter(s)
    s.mark_consumed([next(it).position for _ in range(8)][-1:])
    state = s.state_dict()
    seven = ClipDataset(synthetic({"a": 4, "b": 3}), frames=8)
    with pytest.raises(ValueError, match=r"data changed.*6 clips when saved, 7 now.*clip ids differ"):
        BalancedSampler(seven, "source", num_samples=48, batch_size=4).load_state_dict(state)
    renamed = synthetic({"a": 3, "b": 3})
    renamed[0]["clip_id"] = "other"
    with pytest.raises(ValueError, match=r"the clip ids differ"):
        BalancedSampler(ClipDataset(renamed, frames=8), "source", num_samples=48, batch_size=4).load_state_dict(state)
    longer = ClipDataset(synthetic({"a": 3, "b": 3}, frames=200), frames=8)
    with pytest.raises(ValueError, match=r"the windows differ"):
        BalancedSampler(longer, "source", num_samples=48, batch_size=4).load_state_dict(state)
    same = BalancedSampler(ClipDataset(synthetic({"a": 3, "b": 3}), frames=8), "source", num_samples=48)
    same.load_state_dict(state)  # the same data resumes


def test_loader_takes_the_batch_size_from_the_sampler_or_checks_it(videos):
    clips = ClipDataset(videos, frames=4)
    col = VideoCollator(32)
    visits = BalancedSampler(clips, "source", windows_per_visit=4, num_samples=16)  # no batch size: one visit
    loader = clip_loader(clips, col, sampler=visits)
    assert loader.batch_size == 4 == visits.batch_size
    adopted = BalancedSampler(clips, "source", windows_per_visit=2, num_samples=16)
    assert clip_loader(clips, col, batch_size=6, sampler=adopted).batch_size == 6 == adopted.batch_size
    fixed = BalancedSampler(clips, "source", batch_size=4, num_samples=16)
    with pytest.raises(ValueError, match="batch_size=8 differs from the sampler's batch_size=4"):
        clip_loader(clips, col, batch_size=8, sampler=fixed)
    with pytest.raises(ValueError, match="multiple of windows_per_visit 4"):
        clip_loader(clips, col, batch_size=6, sampler=BalancedSampler(clips, "source", windows_per_visit=4))


def test_bucket_batch_sampler_through_clip_loader(videos):
    clips = ClipDataset(videos, frames=4)
    buckets = fd.aspect_buckets(32 * 32)
    inner = BalancedSampler(clips, "source", "natural", num_samples=24, seed=1)
    bs = BucketBatchSampler(inner, [(r["width"], r["height"]) for r in videos], buckets, batch_size=2)
    loader = clip_loader(clips, VideoCollator(buckets), sampler=bs)
    assert loader.batch_size is None or loader.batch_size == 2
    batches = list(loader)
    assert len(batches) == len(bs) and sum(len(b["clip_id"]) for b in batches) == 24
    for b in batches:
        hw = tuple(b["video"].shape[-2:])
        ratio = {bucket for bucket in buckets if bucket == hw}
        assert ratio, hw
        assert len({int(c[1]) % 2 for c in b["clip_id"]}) == 1  # one aspect ratio per batch
    with pytest.raises(ValueError, match="batch_size=4 differs from the batch sampler's batch_size=2"):
        clip_loader(clips, VideoCollator(buckets), batch_size=4, sampler=bs)


def _keys(batches: list[dict]) -> list[tuple]:
    return [(int(p), c, tuple(i)) for b in batches for p, c, i in
            zip(b["position"].tolist(), b["clip_id"], b["indices"][:, :2].tolist(), strict=True)]


@pytest.mark.slow
def test_exact_resume_from_the_loader_without_mark_consumed(videos):
    """Workers read ahead; the loader's state after 3 batches resumes exactly after them, and the
    positions of the resumed run continue the epoch's (they do not restart at 0)."""
    clips = ClipDataset(videos, frames=4)

    def loader() -> fd.ClipLoader:
        s = BalancedSampler(clips, "source", num_samples=40, seed=2, batch_size=4)
        s.set_epoch(1)
        return clip_loader(clips, VideoCollator(32), sampler=s, num_workers=2, prefetch_factor=4)

    whole = _keys(list(loader()))
    first = loader()
    it = iter(first)
    head = [next(it) for _ in range(3)]
    state = first.state_dict()  # the workers have read further than 3 batches
    del it
    resumed = loader()
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert _keys(head + rest) == whole
    assert int(rest[0]["position"].min()) == 12  # continues the epoch's position
    assert Counter(p for p, _, _ in whole) == Counter(range(len(whole)))


def test_bucket_resume_from_the_loader(videos):
    clips = ClipDataset(videos, frames=4)
    buckets = fd.aspect_buckets(32 * 32)
    sizes = [(r["width"], r["height"]) for r in videos]

    def loader() -> fd.ClipLoader:
        inner = BalancedSampler(clips, "source", "natural", num_samples=24, seed=3)
        return clip_loader(clips, VideoCollator(buckets), sampler=BucketBatchSampler(inner, sizes, buckets, 2))

    whole = _keys(list(loader()))
    first = loader()
    it = iter(first)
    head = [next(it) for _ in range(4)]
    resumed = loader()
    resumed.load_state_dict(first.state_dict())
    assert _keys(head + list(resumed)) == whole


def test_position_continues_after_a_sampler_resume():
    clips = ClipDataset(synthetic({"a": 10, "b": 10}), frames=8)
    s = BalancedSampler(clips, "source", num_samples=64, batch_size=4, rank=1, world_size=2)
    it = iter(s)
    first = [next(it) for _ in range(8)]
    s.mark_consumed([d.position for d in first])
    r = BalancedSampler(clips, "source", num_samples=64, batch_size=4, rank=1, world_size=2)
    r.load_state_dict(s.state_dict())
    rest = list(r)
    positions = [d.position for d in first + rest]
    assert positions == sorted(set(positions)) and min(d.position for d in rest) > max(positions[:8])
    assert all(d.position == d.key for d in first + rest)  # inside the epoch: the global index


def test_stream_positions_are_epoch_positions(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    recs = synthetic({"a": 12})
    stream = datasets.Dataset.from_list(recs).to_iterable_dataset(num_shards=2)
    per_rank = [list(fd.StreamingClipDataset({"a": stream}, frames=8, num_samples=32, batch_size=4, rank=r,
                                             world_size=2)) for r in range(2)]
    got = sorted(p.position for plans in per_rank for p in plans)
    assert got == list(range(32))
    assert torch.as_tensor([p.position for p in per_rank[1][:4]]).tolist() == [4, 5, 6, 7]


# --- one policy, two paths: map-style (BalancedSampler over ClipDataset) and streamed (StreamingClipDataset)


def _two_groups() -> dict[str, list[dict]]:
    """Group "s": 30 clips of 3 s; group "l": 6 clips of 30 s (10x the stored seconds per clip)."""
    out: dict[str, list[dict]] = {"s": [], "l": []}
    for g, n, frames in (("s", 30, 75), ("l", 6, 750)):
        for i in range(n):
            out[g].append({"clip_id": f"{g}{i}", "source": g, "fps": FPS, "num_frames": frames,
                           "duration": frames / FPS, "video": {"path": f"/nowhere/{g}{i}.mp4", "bytes": None},
                           "audio_source": "video", "language": "en" if i % 3 else "fr"})
    return out


def _map_style_shares(groups: dict[str, list[dict]], clip: dict, mix: dict) -> dict[str, float]:
    clips = ClipDataset([r for rs in groups.values() for r in rs], **clip)
    s = BalancedSampler(clips, "source", **mix)
    return {r.group: r.share for r in s.report(whole_epoch=True)}


def _stream_shares(groups: dict[str, list[dict]], clip: dict, mix: dict) -> dict[str, float]:
    datasets = pytest.importorskip("datasets")
    streams = {g: datasets.Dataset.from_list(rs).to_iterable_dataset(num_shards=2) for g, rs in groups.items()}
    seconds: Counter = Counter()
    for plan in fd.StreamingClipDataset(streams, **clip, **mix):
        seconds[plan.labels["group"]] += float(plan.valid.sum()) / plan.fps
    total = sum(seconds.values())
    return {g: v / total for g, v in seconds.items()}


@pytest.mark.slow
@pytest.mark.parametrize("path", [_map_style_shares, _stream_shares], ids=["map-style", "streaming"])
@pytest.mark.parametrize("clip,mix,target", [
    ({"frames": 16}, {"num_samples": 600}, {"s": 0.5, "l": 0.5}),
    ({"frames": 16}, {"weights": {"s": 1, "l": 3}, "num_samples": 600}, {"s": 0.25, "l": 0.75}),
    ({"frames": 8, "fps": None, "stride": 2}, {"table": {"s": 2, "l": 1}, "num_samples": 600},
     {"s": 2 / 3, "l": 1 / 3}),
    ({"frames": 100, "short": "pad"}, {"num_samples": 600}, {"s": 0.5, "l": 0.5}),  # padding does not count
    ({"frames": 16}, {"windows_per_visit": 2, "batch_size": 4, "num_samples": 600}, {"s": 0.5, "l": 0.5}),
])
def test_both_paths_deliver_the_same_seconds_shares(path, clip, mix, target):
    got = path(_two_groups(), clip, mix)
    assert set(got) == set(target)
    for g, share in target.items():
        assert abs(got[g] - share) < 0.05, (g, got)  # counts of 600 windows: shares land within 1-2 points


#: every sampling and clip option of the map-style path, with a value to try on a stream
OPTIONS: dict[str, dict] = {
    "mode": {"mode": "equal"},
    "weights": {"weights": {"s": 1, "l": 1}},
    "table": {"table": {"s": 1, "l": 1}},
    "groups": {"groups": ["s"]},
    "num_samples": {"num_samples": 8},
    "epoch_seconds": {"epoch_seconds": 30.0},
    "windows_per_visit": {"windows_per_visit": 2},
    "batch_size": {"batch_size": 4},
    "drop_last": {"drop_last": True},
    "where": {"where": {"language": ["en"]}},
    "filter": {"filter": lambda r: r["clip_id"] != "s0"},
    "exclude_ids": {"exclude_ids": ["s1"]},
    "min_gap": {"min_gap": 8},
    "natural": {"mode": "natural"},
    **{f: {f: v} for f, v in {"stride": 2, "fps": 12.5, "start": "center", "short": "loop", "seed": 3,
                                 "motion": 2, "reference": 2, "speed_context": 1,
                                 "deletions": ["s2"]}.items()},
    "reference_from": {"reference_from": "identity"},
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_option_is_accepted_by_both_paths_or_refused_by_name(name):
    datasets = pytest.importorskip("datasets")
    groups = _two_groups()
    option = OPTIONS[name]
    if name == "stride":
        option = {"stride": 2, "fps": None}
    clip_fields = {k: v for k, v in option.items() if k in ("stride", "fps", "start", "short", "seed", "motion",
                                                            "reference", "speed_context", "deletions",
                                                            "reference_from")}
    mix = {k: v for k, v in option.items() if k not in clip_fields}
    clips = ClipDataset([r for rs in groups.values() for r in rs], frames=8, **clip_fields)
    map_mix = {"num_samples": 8, **mix} if "epoch_seconds" not in mix else mix
    BalancedSampler(clips, "source", **map_mix)  # the map-style path takes every option
    streams = {g: datasets.Dataset.from_list(rs).to_iterable_dataset(num_shards=2) for g, rs in groups.items()}
    kwargs = {"frames": 8, "num_samples": 8, **clip_fields, **mix}
    try:
        plans = list(fd.StreamingClipDataset(streams, **kwargs))
    except ValueError as e:
        said = name.split("_from")[0] if name != "natural" else "natural"
        assert said in str(e), str(e)
        return
    ids = {p.clip_id for p in plans}
    assert plans
    if name == "where":
        assert all(int(c[1:]) % 3 for c in ids)  # only "en" clips
    if name in ("filter", "exclude_ids", "deletions"):
        assert not ids & {"s0", "s1", "s2"} - ({"s1", "s2"} if name == "filter" else {"s0", "s2"} if
                                                 name == "exclude_ids" else {"s0", "s1"})
    if name == "groups":
        assert all(c.startswith("s") for c in ids)
