"""Scene cuts found in the measure loop's own decoding pass: the same cuts as `detect_scene_cuts`
(PySceneDetect decoding the file itself), the detector's late cuts, and segments planned from them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facevid_datasets.curation import MeasureConfig, measure
from facevid_datasets.curation.measure import ClipInput, measure_clip
from facevid_datasets.curation.measurements import decode_payload
from facevid_datasets.curation.stages import SceneCuts, Segment, detect_scene_cuts, sample_indices
from facevid_datasets.curation.synthetic import clean_shot
from facevid_datasets.media.decode import TorchcodecReader
from facevid_datasets.media.ffmpeg import encode_video

FPS = 25.0


def _moving(img: np.ndarray, k: int) -> np.ndarray:
    """`img` shifted by a pixel or two, differently each frame (a still shot scores 0 everywhere)."""
    m = np.float32([[1, 0, 2 * np.sin(k / 5)], [0, 1, 2 * np.cos(k / 7)]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _shots(size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    return clean_shot(size, 0), clean_shot(size, 1)


def _wide(img: np.ndarray) -> np.ndarray:
    """640 x 360: PySceneDetect shrinks it to 256 px wide before scoring."""
    return cv2.copyMakeBorder(cv2.resize(img, (360, 360)), 0, 0, 140, 140, cv2.BORDER_REFLECT)


#: name -> (frame k -> which shot, frame count, frame maker, the cuts PySceneDetect finds)
CLIPS = {
    "hard_cut": (lambda k: k >= 37, 80, None, [37]),
    "wide": (lambda k: k >= 37, 80, _wide, [37]),
    # a cut 8 frames in is within min_scene_len of the start: not a cut; the one at 50 is
    "early": (lambda k: 8 <= k < 50, 100, None, [50]),
    # a cut at 30, then a strobe from 40 to 61: the flash filter names frame 61 only 15 frames later
    "strobe": (lambda k: k >= 30 and (k < 40 or k > 60 or k % 2 == 1), 110, None, [30, 61]),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    a, b = _shots()
    out = {}
    for name, (second, n, make, _) in CLIPS.items():
        pa, pb = (make(a), make(b)) if make else (a, b)
        path = root / f"{name}.mp4"
        encode_video([_moving(pb if second(k) else pa, k) for k in range(n)], path, FPS, crf=18)
        out[name] = path
    return out


def _in_loop(path, threshold: float = 45.0, min_len: int = 15) -> list[int]:
    reader = TorchcodecReader(path)
    scenes = SceneCuts(reader.fps, threshold, min_len)
    frames, _ = reader.get_frames(list(range(reader.num_frames)))
    cuts = [c for i, rgb in enumerate(frames.permute(0, 2, 3, 1).numpy()) for c in scenes.push(i, rgb)]
    return cuts


@pytest.mark.parametrize("name", list(CLIPS))
def test_cuts_found_in_loop_equal_pyscenedetect_decoding_the_file(clips, name):
    expected = CLIPS[name][3]
    assert detect_scene_cuts(clips[name], 45.0, 15) == expected
    assert _in_loop(clips[name]) == expected


def test_late_cut_is_reported_when_the_flash_filter_lets_it_go(clips):
    reader = TorchcodecReader(clips["strobe"])
    scenes = SceneCuts(reader.fps, 45.0, 15)
    frames, _ = reader.get_frames(list(range(reader.num_frames)))
    found = {i: scenes.push(i, rgb) for i, rgb in enumerate(frames.permute(0, 2, 3, 1).numpy())}
    assert found[30] == [30]  # a clean cut: named with its own frame
    assert found[76] == [61]  # 15 quiet frames after the strobe's last jump
    assert sum(map(len, found.values())) == 2


@pytest.mark.parametrize("name", ["hard_cut", "strobe"])
def test_measure_splits_at_the_cuts_without_decoding_the_file_again(clips, name, monkeypatch):
    import scenedetect

    def no_second_decode(*args, **kwargs):
        raise AssertionError("measure_clip ran PySceneDetect on the file")

    monkeypatch.setattr(scenedetect, "detect", no_second_decode)
    sampled: list[int] = []
    sample = measure.FrameMeasures.sample
    monkeypatch.setattr(measure.FrameMeasures, "sample", lambda self, i, rgb: (sampled.append(i), sample(self, i, rgb)))
    config = MeasureConfig()
    meta, arrays = decode_payload(measure_clip(ClipInput(name, str(clips[name])), config))
    assert meta["clip"]["error"] is None, meta["clip"]["error"]
    cuts = CLIPS[name][3]
    assert meta["clip"]["cut_frames"] == cuts
    segs = meta["segments"]
    assert [s["start_frame"] for s in segs] == [0, *cuts]
    n = meta["clip"]["num_frames"]
    assert [s["end_frame"] for s in segs] == [*cuts, n]
    for s in segs:  # every sample frame measured, the ones a later cut moved behind the loop too
        assert s["sample_frames"] == sample_indices(Segment(s["start_frame"], s["end_frame"]), config.sample_frames)
        assert set(s["sample_frames"]) <= set(sampled)
        assert s["border_px"] is not None and s["brisque"] is not None and s["detail"] is not None
    # the detector runs on each shot's first frame and every detect_every-th after, a late cut's too
    detected = np.flatnonzero(np.isfinite(arrays["face_box"]))
    starts = np.array([s["start_frame"] for s in segs])
    shot_start = starts[np.searchsorted(starts, detected, side="right") - 1]
    assert np.all((detected - shot_start) % config.detect_every == 0)
    assert set(starts) <= set(detected.tolist())
    steady = np.r_[0:30, cuts[-1] : n]  # frames outside the strobe, the late cut's shot included
    assert np.isfinite(arrays["keypoints"][steady, 0, 0]).all() and np.isfinite(arrays["pose"][steady]).all()


def test_long_shots_are_split_but_the_detector_keeps_the_shots_cadence(clips):
    config = MeasureConfig(max_segment_seconds=1.0)  # 37- and 43-frame shots: two pieces each
    meta, arrays = decode_payload(measure_clip(ClipInput("hard_cut", str(clips["hard_cut"])), config))
    assert [(s["start_frame"], s["end_frame"]) for s in meta["segments"]] == [(0, 18), (18, 37), (37, 58), (58, 80)]
    detected = np.flatnonzero(np.isfinite(arrays["face_box"]))
    assert detected.tolist() == [*range(0, 37, 5), *range(37, 80, 5)]


def test_scores_and_flash_filter_match_content_detector_frame_by_frame():
    """Random jumps at a low threshold: many cuts, flashes merged and late cuts, as ContentDetector says."""
    from scenedetect import ContentDetector, FrameTimecode

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8)
    frames = [cv2.add(base[rng.integers(0, 4) if rng.random() < 0.15 else 0], int(k % 7)) for k in range(400)]
    ours, theirs = SceneCuts(25.0, 20.0, 6), ContentDetector(threshold=20.0, min_scene_len=6)
    for i, rgb in enumerate(frames):
        ref = [int(c.frame_num) for c in theirs.process_frame(FrameTimecode(i, 25.0), rgb[..., ::-1].copy())]
        assert ours.push(i, rgb) == [c for c in ref if c > 0], i
