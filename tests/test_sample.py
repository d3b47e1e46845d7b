"""The embedded sample release and `load_dataset` on it (offline, through the HF builder and cache)."""

from collections import Counter, defaultdict

import cv2
import numpy as np
import pytest

import facevid_datasets as fd
from facevid_datasets.errors import DatasetNotFound
from facevid_datasets.media import decode_clip, probe


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf_cache")
    return fd.load_dataset("facevid-1k", "sample", cache_dir=str(cache)), cache


def test_sample_loads_as_datasets_types(sample):
    ds, _ = sample
    assert set(ds) == {"train", "test"}
    assert ds["train"].features == fd.FEATURES
    assert ds["train"].num_rows + ds["test"].num_rows == 30


def test_second_load_reuses_the_cache(sample, monkeypatch):
    _, cache = sample
    from facevid_datasets.builders.facevid_1k import FaceVid1K

    def boom(*a, **k):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(FaceVid1K, "_generate_examples", boom)
    again = fd.load_dataset("facevid-1k", "sample", cache_dir=str(cache), split="train")
    assert again.num_rows == sample[0]["train"].num_rows


def test_sample_has_groups_of_very_different_duration(sample):
    ds, _ = sample
    seconds: dict[str, float] = defaultdict(float)
    for split in ds.values():
        for src, dur in zip(split["source"], split["duration"], strict=True):
            seconds[src] += dur
    assert len(seconds) >= 3
    assert max(seconds.values()) / min(seconds.values()) > 5
    rows = ds["train"].to_list() + ds["test"].to_list()
    assert len({r["identity"] for r in rows}) >= 2
    assert len({r["head_pose"]["label"] for r in rows}) >= 4
    assert len({r["language"] for r in rows if r["language"]}) >= 4
    assert Counter(r["audio_source"] for r in rows)["none"] == 6  # TalkingHead-1KH style: no audio stream


def test_records_are_complete_and_consistent(sample):
    ds, _ = sample
    for r in ds["train"]:
        info = probe(r["video"]["path"])
        assert (r["num_frames"], r["width"], r["height"]) == (info.num_frames, info.width, info.height)
        assert r["keypoints"]["format"] == "ibug68"
        pts = np.asarray(r["keypoints"]["points"])
        assert pts.shape == (r["num_frames"], 68, 3)
        assert len(r["head_pose"]["yaw"]) == r["num_frames"]
        assert r["caption"] and r["attributes"]["ethnicity"] and r["attributes"]["gender"]
        assert r["quality"]["brisque"] is not None


def test_a_face_detector_finds_the_face_where_the_keypoints_are(sample):
    ds, _ = sample
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    frontal = [r for r in ds["train"] if r["head_pose"]["label"] == "frontal"][:6]
    found = 0
    for r in frontal:
        clip = decode_clip(r["video"]["path"], [0], audio=False)
        gray = cv2.cvtColor(clip.frames[0].permute(1, 2, 0).numpy(), cv2.COLOR_RGB2GRAY)
        faces = cascade.detectMultiScale(gray, 1.1, 5, minSize=(60, 60))
        nose = np.asarray(r["keypoints"]["points"][0])[30, :2]
        found += any(x <= nose[0] <= x + w and y <= nose[1] <= y + h for x, y, w, h in faces)
    assert found == len(frontal)


def test_mouth_follows_the_speech(sample):
    ds, _ = sample
    r = next(r for r in ds["train"] if r["source"] == "facevid-1k" and r["audio_source"] == "video")
    n = r["num_frames"]
    clip = decode_clip(r["video"]["path"], list(range(n)))
    spf = clip.samples_per_frame
    energy = np.array([clip.audio[int(k * spf) : int((k + 1) * spf)].pow(2).mean().sqrt().item() for k in range(n)])
    pts = np.asarray(r["keypoints"]["points"])
    opening = np.linalg.norm(pts[:, 66, :2] - pts[:, 62, :2], axis=1)
    assert np.corrcoef(energy, opening)[0, 1] > 0.6


def test_list_and_errors():
    assert "facevid-1k" in fd.list_datasets()
    with pytest.raises(KeyError, match="unknown dataset 'nope'"):
        fd.load_builder("nope")
    with pytest.raises(DatasetNotFound, match="application form|apply"):
        fd.load_builder("facevid-1k", "all").data_root()
