"""Per-frame face boxes in the record: the sample's, a release's side files, and bad side files reported."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from facevid_datasets.loading import load_builder, load_dataset
from facevid_datasets.schema import validate_record
from facevid_datasets.testing import make_index_video


def test_sample_records_carry_face_boxes_around_their_keypoints(tmp_path):
    ds = load_dataset("facevid-1k", "sample", split="train", cache_dir=str(tmp_path))
    for rec in ds.select(range(4)):
        fb = rec["face_boxes"]
        assert fb["detector"] == "landmarks" and len(fb["boxes"]) == rec["num_frames"] and not validate_record(rec)
        boxes = np.asarray(fb["boxes"])
        pts = np.asarray(rec["keypoints"]["points"])
        assert (boxes[:, 4] == 1).all()
        assert (pts[..., 0] >= boxes[:, None, 0]).all() and (pts[..., 0] <= boxes[:, None, 2]).all()
        assert (pts[..., 1] >= boxes[:, None, 1]).all() and (pts[..., 1] <= boxes[:, None, 3]).all()


@pytest.fixture()
def release(tmp_path) -> Path:
    root = tmp_path / "rel"
    clip = make_index_video(tmp_path / "c.mp4", num_frames=10, fps=25, size=(64, 64))
    (root / "face_boxes").mkdir(parents=True)
    for cid in ("000001", "000002", "000003", "000004", "000005"):
        (root / "videos").mkdir(exist_ok=True)
        shutil.copy(clip, root / "videos" / f"{cid}.mp4")
    good = np.tile(np.array([[8, 6, 50, 58]], np.float32), (10, 1))
    np.save(root / "face_boxes" / "000001.npy", good)  # (n, 4): confidence 1
    half = np.concatenate([good, np.full((10, 1), 0.9, np.float32)], axis=1)
    half[3] = np.nan
    np.save(root / "face_boxes" / "000002.npy", half)  # one frame without a face
    np.save(root / "face_boxes" / "000003.npy", good[:7])  # wrong length
    (root / "face_boxes" / "000004.npy").write_bytes(pickle.dumps([1, 2, 3]))  # a pickle, never loaded
    np.save(root / "face_boxes" / "000005.npy", np.full((10, 4), np.nan, np.float32))  # nothing usable
    return root


def test_release_side_files_give_boxes_and_bad_ones_are_reported(release, tmp_path):
    builder = load_builder("facevid-1k", "all", data_dir=str(release), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    recs = {r["clip_id"]: r for split in builder.as_dataset().values() for r in split}
    report = {(r.clip_id, r.status): (r.file, r.reason) for r in builder.report.rows()}
    one = np.asarray(recs["000001"]["face_boxes"]["boxes"])
    assert recs["000001"]["face_boxes"]["detector"] == "release" and one.shape == (10, 5) and (one[:, 4] == 1).all()
    two = np.asarray(recs["000002"]["face_boxes"]["boxes"])
    assert two[3].tolist() == [0, 0, 0, 0, 0] and two[2, 4] == pytest.approx(0.9)
    assert "000002" in {c for c, s in report if s == "partial"}
    for cid, words in (("000003", "does not fit"), ("000004", "pickle")):  # the clip is built, its boxes empty
        file, reason = report[(cid, "partial")]
        assert f"face_boxes/{cid}.npy" in file + reason and words in reason and "face boxes left empty" in reason
        assert recs[cid]["face_boxes"] is None
    assert recs["000005"]["face_boxes"] is None and ("000005", "partial") in report
