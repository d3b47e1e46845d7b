"""ClipDataset: frame choice (stride, resampled fps), start modes, short clips, records and streams."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

from facevid_datasets.schema import FEATURES, empty_record
from facevid_datasets.training import DEFAULT_FPS, ClipDataset, StreamingClipDataset
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


def test_default_output_rate_is_25_fps_for_any_source_rate():
    rates = [23.976, 25.0, 29.97, 30.0]
    ds = ClipDataset([rec(f"c{i}", num_frames=300, fps=f) for i, f in enumerate(rates)], frames=16)
    plans = [ds[i] for i in range(len(ds))]
    assert {p.fps for p in plans} == {DEFAULT_FPS} == {25.0}
    for p, f in zip(plans, rates, strict=True):
        assert np.allclose(p.times - p.times[0], np.arange(16) / 25.0)
        assert p.source_fps == f
    # stride without fps keeps the source rate (as before); stride with fps is a clear error
    assert ClipDataset([rec(fps=30.0)], frames=4, stride=2)[0].fps == 15.0
    assert ClipDataset([rec(fps=30.0)], frames=4, fps=None)[0].fps == 30.0
    with pytest.raises(ValueError, match="stride=2 applies at the source rate"):
        ClipDataset([rec()], stride=2, fps=25.0)


def test_delivered_seconds_and_window_positions():
    spec = ClipDataset([rec()], frames=16, fps=25.0).spec
    frames, fps = np.array([300, 10, 0, 16]), np.array([30.0, 30.0, 25.0, 25.0])
    # a 10-frame 30 fps clip holds 1/3 s: 9 output frames at 25 fps are real, the rest padding
    assert spec.valid_frames(frames, fps).tolist() == [16, 9, 0, 16]
    assert np.allclose(spec.delivered_seconds(frames, fps), [0.64, 0.36, 0.0, 0.64])
    # every start frame that fits a whole window: 300 frames - 19 spanned at 30 fps + 1
    assert spec.start_positions(frames, fps).tolist() == [282, 1, 1, 1]
    plan = ClipDataset([rec(num_frames=10, fps=30.0)], frames=16, fps=25.0)[0]
    assert int(plan.valid.sum()) == 9


def test_a_stream_needs_the_streaming_dataset():
    stream = datasets.IterableDataset.from_generator(lambda: iter([rec()]))
    with pytest.raises(TypeError, match="StreamingClipDataset"):
        ClipDataset(stream)
    assert isinstance(StreamingClipDataset(stream, frames=4, num_samples=4), StreamingClipDataset)


def _iterate(ds: StreamingClipDataset, workers: int, batch_size: int = 2) -> list:
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers, collate_fn=list)
    return [p for batch in loader for p in batch]


def _sharded(recs: list[dict], shards: int) -> datasets.IterableDataset:
    def gen(part: list[list[dict]]):
        for chunk in part:
            yield from chunk

    return datasets.IterableDataset.from_generator(gen, gen_kwargs={"part": [recs[i::shards] for i in range(shards)]})


def _group_recs(name: str, n: int, seconds: float) -> list[dict]:
    return [rec(f"{name}{i}", num_frames=int(seconds * 25), source=name) for i in range(n)]


def test_streams_of_very_different_sizes_balance_by_delivered_seconds():
    # 3-s clips in a 4-shard stream against 30-s clips in a 16-shard stream ten times its hours
    short, long_ = _group_recs("s", 40, 3.0), _group_recs("l", 40, 30.0)
    streams = {"s": _sharded(short, 4), "l": _sharded(long_, 16)}
    ds = StreamingClipDataset(streams, frames=16, num_samples=400, batch_size=4, seed=1, world_size=1, rank=0)
    plans = _iterate(ds, 2, batch_size=4)
    assert len(plans) == 400 and sorted(p.position for p in plans) == list(range(400))
    secs: dict[str, float] = {}
    for p in plans:
        secs[p.labels["group"]] = secs.get(p.labels["group"], 0.0) + float(p.valid.sum()) / p.fps
    assert abs(secs["s"] / sum(secs.values()) - 0.5) < 0.02, secs
    # weights: 1:3 by delivered seconds
    w = StreamingClipDataset(streams, frames=16, mode="weights", weights={"s": 1, "l": 3}, num_samples=400,
                              batch_size=4, world_size=1, rank=0)
    secs = {}
    for _draw, _rec, g in w.reader_draws(0, 1):  # every clip is longer than a 0.64-s window
        secs[g] = secs.get(g, 0.0) + 0.64
    assert abs(secs["l"] / sum(secs.values()) - 0.75) < 0.02


def test_streams_split_by_shard_across_ranks_and_workers():
    recs = _group_recs("a", 64, 4.0)
    stream = _sharded(recs, 8)
    seen: dict[tuple[int, int], set[str]] = {}
    for rank in range(2):
        ds = StreamingClipDataset({"a": stream}, frames=8, num_samples=64, batch_size=4, rank=rank, world_size=2)
        for worker in range(2):
            seen[rank, worker] = {str(r["clip_id"]) for _, r, _ in ds.reader_draws(worker, 2)}
    readers = list(seen.values())
    assert all(len(v) < len(recs) // 2 for v in readers)  # nobody reads every shard
    for i, a in enumerate(readers):  # readers own disjoint records, so no clip is on two ranks in a step
        assert all(not a & b for b in readers[i + 1 :])
    # a stream with fewer shards than readers: readers sharing a shard split its records
    few = StreamingClipDataset({"a": _sharded(recs, 1)}, frames=8, num_samples=32, batch_size=4, rank=0,
                                world_size=2)
    ids = [{str(r["clip_id"]) for _, r, _ in few.reader_draws(w, 2)} for w in range(2)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]


def test_stream_resumes_mid_epoch_exactly():
    streams = {"s": _sharded(_group_recs("s", 20, 2.0), 4), "l": _sharded(_group_recs("l", 30, 20.0), 4)}

    def make() -> StreamingClipDataset:
        ds = StreamingClipDataset(streams, frames=8, num_samples=96, batch_size=4, seed=3, rank=0, world_size=1)
        ds.set_epoch(1)
        return ds

    full = _iterate(make(), 2, batch_size=4)
    run = make()
    run.mark_consumed([p.position for p in full[:40]])
    state = run.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = _iterate(resumed, 2, batch_size=4)
    key = [(p.clip_id, p.indices.tolist()) for p in sorted(full, key=lambda p: p.position)]
    got = [(p.clip_id, p.indices.tolist()) for p in sorted(full[:40] + rest, key=lambda p: p.position)]
    assert got == key
    with pytest.raises(ValueError, match="world_size"):
        StreamingClipDataset(streams, frames=8, num_samples=96, batch_size=4, seed=3, rank=0,
                              world_size=2).load_state_dict(state)
    # the worker count travels with the state: another count is an error, not other items
    run.num_workers = 2
    state = run.state_dict()
    again = make()
    again.load_state_dict(state)
    assert again.num_workers == 2 and len(_iterate(again, 2, batch_size=4)) == len(rest)
    wrong = make()
    wrong.load_state_dict(state)
    with pytest.raises(RuntimeError, match="2 DataLoader workers"):
        _iterate(wrong, 0, batch_size=4)
    other = make()
    other.num_workers = 3
    with pytest.raises(ValueError, match="DataLoader workers"):
        other.load_state_dict(state)


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"


def test_defaults_batch_the_embedded_sample_of_mixed_frame_rates():
    from facevid_datasets import load_dataset
    from facevid_datasets.training import VideoCollator

    ds = load_dataset("facevid-1k", "sample", split="train")
    rates = ds["fps"]
    rows = [rates.index(f) for f in sorted(set(rates))]
    assert len(rows) == 4  # 23.976, 25, 29.97 and 30 fps
    clips = ClipDataset(ds)
    batch = VideoCollator(64)([clips[r] for r in rows])
    assert batch["video"].shape == (4, 16, 3, 64, 64) and batch["fps"].tolist() == [25.0] * 4
    assert batch["audio"].shape == (4, 16 * 640) and not batch["errors"]


@pytest.mark.skipif(not REAL.is_dir(), reason="real DH-FaceVid-1K calibration clips not present")
def test_defaults_batch_real_dhfv_clips_of_mixed_frame_rates():
    from facevid_datasets.media import probe
    from facevid_datasets.training import VideoCollator

    recs, rates = [], set()
    for path in sorted(REAL.glob("*.mp4")):
        info = probe(path)
        if round(info.fps, 2) in rates:
            continue
        rates.add(round(info.fps, 2))
        r = empty_record()
        r.update(clip_id=path.stem, video={"path": str(path), "bytes": None}, audio_source="video", fps=info.fps,
                 num_frames=info.num_frames, duration=info.num_frames / info.fps, width=info.width,
                 height=info.height)
        recs.append(r)
    assert len(rates) >= 2, rates
    clips = ClipDataset(recs)
    batch = VideoCollator(64)([clips[i] for i in range(len(clips))])
    assert batch["video"].shape == (len(recs), 16, 3, 64, 64) and not batch["errors"]


def test_stream_windows_per_visit_stay_together_and_count_each():
    streams = {"s": _sharded(_group_recs("s", 20, 2.0), 2), "l": _sharded(_group_recs("l", 20, 20.0), 2)}
    ds = StreamingClipDataset(streams, frames=8, num_samples=64, batch_size=4, windows_per_visit=2, seed=0,
                               rank=0, world_size=1)
    plans = sorted(_iterate(ds, 2, batch_size=4), key=lambda p: p.position)
    assert len(plans) == 64
    for a, b in zip(plans[::2], plans[1::2], strict=True):
        assert a.clip_id == b.clip_id and b.position == a.position + 1
    groups = Counter(p.labels["group"] for p in plans)
    assert groups["s"] == groups["l"] == 32  # every window of both groups delivers 0.32 s
    with pytest.raises(ValueError, match="multiple of windows_per_visit"):
        StreamingClipDataset(streams, num_samples=8, batch_size=3, windows_per_visit=2)


def test_stream_skips_unplannable_records_and_keeps_going():
    good = _group_recs("g", 10, 3.0)
    bad = [rec("nofile", num_frames=75, source="g"), rec("notime", num_frames=0, source="g")]
    bad[0]["video"] = {"path": None, "bytes": None}
    bad[1].update(fps=None, duration=None)
    ds = StreamingClipDataset({"g": _sharded(bad + good, 1)}, frames=8, num_samples=20, batch_size=4, rank=0,
                               world_size=1)
    plans = _iterate(ds, 0, batch_size=4)
    assert len(plans) == 20 and not {p.clip_id for p in plans} & {"nofile", "notime"}
