"""Training never dies from data: failed clips are replaced from their group, counted, and bad calls are
MediaErrors; NaN keypoints never reach a batch; a CUDA device without a GPU fails at construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facevid_datasets.errors import MediaError
from facevid_datasets.schema import empty_record
from facevid_datasets.testing import make_index_video, read_index
from facevid_datasets.training import AudioOptions, ClipDataset, VideoCollator, clip_loader
from facevid_datasets.training.recovery import EpochReport, Replacer

FPS, N, H, W = 25.0, 40, 64, 64


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("recovery")
    out = {"good": make_index_video(d / "good.mp4", num_frames=N, fps=FPS, size=(H, W), gop=10),
           "good2": make_index_video(d / "good2.mp4", num_frames=N, fps=FPS, size=(H, W), gop=10)}
    for name in ("bad1", "bad2", "bad3"):
        (d / f"{name}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video " + name.encode())
        out[name] = d / f"{name}.mp4"
    good_bytes = out["good"].read_bytes()
    (d / "truncated.mp4").write_bytes(good_bytes[: len(good_bytes) // 3])
    out["truncated"] = d / "truncated.mp4"
    return out


def rec(path: Path, clip_id: str, group: str = "g") -> dict:
    r = empty_record()
    r.update(clip_id=clip_id, video={"path": str(path), "bytes": None}, audio_source="video", fps=FPS,
             num_frames=N, duration=N / FPS, width=W, height=H, source=group)
    return r


class GroupSampler(torch.utils.data.Sampler):
    """A sampler over fixed rows with the replacement interface BalancedSampler offers."""

    def __init__(self, order: list[int], groups: list[str]):
        self.order, self.groups, self.calls = order, groups, []

    def __iter__(self):
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)

    def replacement_row(self, row: int, rng: np.random.Generator) -> int:
        self.calls.append(row)
        same = [i for i, g in enumerate(self.groups) if g == self.groups[row] and i != row]
        return int(rng.choice(same))


def test_batch_whose_every_clip_fails_draws_replacements_from_the_same_group(files):
    recs = [rec(files["bad1"], "b1", "a"), rec(files["bad2"], "b2", "a"), rec(files["good"], "g1", "a"),
            rec(files["good2"], "g2", "other")]
    ds = ClipDataset(recs, frames=4, start="first")
    sampler = GroupSampler([0, 1], ["a", "a", "a", "other"])
    loader = clip_loader(ds, VideoCollator(32, audio=AudioOptions(window=0)), batch_size=2, sampler=sampler)
    (batch,) = list(loader)
    assert batch["replaced"].tolist() == [True, True]
    # the only decodable clip of group "a" is g1: balance holds (never g2 of the other group)
    assert batch["clip_id"] == ["g1", "g1"]
    assert [read_index(f) for f in batch["video"][0]] == [0, 1, 2, 3]
    assert set(sampler.calls) <= {0, 1}
    first = [e for e in batch["errors"] if e["attempt"] == 0]
    assert {e["clip_id"] for e in first} == {"b1", "b2"} and all(e["replaced_by"] == "g1" for e in first)
    assert str(files["bad1"]) in {e["file"] for e in batch["errors"]}
    assert loader.report.clips == 2 and len(loader.report.failures) == len(batch["errors"])
    assert "decode failures" in loader.report.summary() and str(files["bad1"]) in loader.report.summary()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_run_over_bad_files_finishes_and_reports_every_failure(files, workers):
    recs = [rec(files[k], k) for k in ("good", "bad1", "truncated", "good2", "bad2", "bad3")] * 2
    ds = ClipDataset(recs, frames=4, seed=3)
    loader = clip_loader(ds, VideoCollator(32, audio=AudioOptions(window=1)), batch_size=3, num_workers=workers)
    batches = list(loader)
    assert len(batches) == 4 and all(b["video"].shape == (3, 4, 3, 32, 32) for b in batches)
    served = [cid for b in batches for cid in b["clip_id"]]
    assert set(served) <= {"good", "good2", "truncated"}  # a truncated file may still serve early frames
    bad_files = {e["file"] for e in loader.report.failures}
    assert {str(files["bad1"]), str(files["bad2"]), str(files["bad3"])} <= bad_files
    assert loader.report.batches == 4 and loader.report.replaced >= 6
    list(loader)  # a new epoch starts a new report
    assert loader.report.batches == 4


def test_bounded_attempts_then_a_media_error_naming_the_files(files):
    recs = [rec(files[k], k) for k in ("bad1", "bad2", "bad3")]
    ds = ClipDataset(recs, frames=4)
    col = VideoCollator(32, replace=Replacer(ds), max_attempts=2)
    with pytest.raises(MediaError, match="every clip of the batch failed") as err:
        col([ds[0], ds[1]])
    msg = str(err.value)
    assert str(files["bad1"]) in msg and str(files["bad2"]) in msg
    assert len(col.report.failures) == 2 * (1 + 2)  # each slot: its clip plus two replacements


def test_replacer_without_sampler_draws_another_row_uniformly(files):
    ds = ClipDataset([rec(files["good"], f"c{i}") for i in range(5)], frames=4)
    rep = Replacer(ds)
    plan = ds[2]
    rows = [rep.row_for(plan, a) for a in range(1, 400)]
    assert 2 not in rows and set(rows) == {0, 1, 3, 4}
    assert rep(plan, 1).clip_id == f"c{rows[0]}" and rep.row_for(plan, 1) == rows[0]  # deterministic


def test_replacement_hook_works_inside_dataloader_workers(files):
    recs = [rec(files["bad1"], "bad"), rec(files["good"], "good")]
    ds = ClipDataset(recs, frames=4, start="first")
    loader = clip_loader(ds, VideoCollator(32, audio=False), batch_size=1, num_workers=2,
                         sampler=GroupSampler([0, 0, 1], ["g", "g"]))
    batches = list(loader)
    assert [b["clip_id"] for b in batches] == [["good"], ["good"], ["good"]]
    assert sum(b["replaced"].sum().item() for b in batches) == 2 and len(loader.report.failures) == 2


def test_bad_calls_are_media_errors_naming_the_file(files):
    from facevid_datasets.media import TorchcodecReader, decode_clip

    reader = TorchcodecReader(files["good"])
    for bad in ([1.5, 2], [True], [], [[1, 2]], [0, N]):
        with pytest.raises(MediaError, match="good.mp4"):
            reader.get_frames(bad)
    with pytest.raises(MediaError, match="empty or decreasing"):
        reader.get_frame_range(10, 5)
    frames, _ = reader.get_frame_range(3, 7)
    assert [read_index(f) for f in frames] == [3, 4, 5, 6]
    with pytest.raises(MediaError, match="empty time span"):
        decode_clip(str(files["good"]), start=1.0, end=0.5)
    with pytest.raises(MediaError, match="either frame indices or a time span"):
        decode_clip(str(files["good"]))
    # any order is a valid request: frames come back in the order asked
    frames, pts = reader.get_frames([5, 3, 3, 1])
    assert [read_index(f) for f in frames] == [5, 3, 3, 1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_gpu_says_so_at_construction(files):
    from facevid_datasets.media import TorchcodecReader

    with pytest.raises(ValueError, match="no CUDA GPU") as err:
        VideoCollator(64, device="cuda")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        TorchcodecReader(files["good"], device="cuda")


def test_all_nan_keypoints_are_masked_and_never_nan_in_the_batch(files):
    r = rec(files["good"], "nan")
    r["keypoints"] = {"format": "t", "points": [[[float("nan")] * 3] * 2] * N}
    partly = rec(files["good"], "partly")
    partly["keypoints"] = {"format": "t", "points": [[[10.0, 10.0, 1.0], [float("nan"), 5.0, 1.0]]] * N}
    r["head_pose"] = {"label": None, "yaw": [float("nan")] * N, "pitch": [0.0] * N, "roll": [0.0] * N}
    ds = ClipDataset([r, partly], frames=4, start="first")
    batch = VideoCollator(32, audio=False)([ds[0], ds[1]])
    assert torch.isfinite(batch["keypoints"]).all() and torch.isfinite(batch["head_pose"]).all()
    assert not batch["keypoints_mask"][0].any() and batch["keypoints_mask"][1].all()
    assert not batch["head_pose_mask"][0].any()
    assert float(batch["keypoints"][1, 0, 1, 2]) == 0.0  # the NaN point has no confidence


def test_epoch_report_counts_files_and_reasons():
    rep = EpochReport()
    rep.add({"clip_id": ["a", "b"], "errors": [{"file": "x.mp4", "reason": "bad", "clip_id": "a", "attempt": 0}],
             "replaced": torch.tensor([True, False])})
    rep.add({"clip_id": ["c"], "errors": [], "replaced": torch.tensor([False])})
    assert (rep.batches, rep.clips, rep.replaced) == (2, 3, 1)
    assert rep.by_file["x.mp4"] == 1 and rep.by_reason["bad"] == 1 and "x.mp4: bad" in rep.summary()


def test_worker_side_audio_matches_the_one_process_path(files):
    """The CUDA path's split (workers: plans and audio via prepare; main: video) gives the same batch;
    a clip whose audio fails in the worker is replaced in the main process."""
    recs = [rec(files["good"], "a"), rec(files["good2"], "b"), rec(files["bad1"], "bad")]
    ds = ClipDataset(recs, frames=6, seed=2)
    col = VideoCollator(32, audio=AudioOptions(window=2), replace=Replacer(ds), max_attempts=3)
    prepared = col.prepare([ds[0], ds[1], ds[2]])
    assert prepared[2].error is not None and str(files["bad1"]) in prepared[2].error["file"]
    split = col(prepared)
    whole = VideoCollator(32, audio=AudioOptions(window=2))([ds[0], ds[1]])
    assert torch.equal(split["video"][:2], whole["video"]) and torch.allclose(split["audio"][:2], whole["audio"])
    assert torch.allclose(split["audio_windows"][:2], whole["audio_windows"])
    assert split["replaced"].tolist() == [False, False, True] and split["clip_id"][2] in ("a", "b")
