"""Frame-exact cuts: the output of a cut holds exactly the source frames [start, end), checked with
videos whose frames draw their own index, for `cut_clip` and for curation's cut segments."""

from __future__ import annotations

import numpy as np
import pytest

from facevid_datasets.curation.measurements import MeasurementStore, encode_payload
from facevid_datasets.curation.pipeline import _kept_record
from facevid_datasets.errors import MediaError
from facevid_datasets.media.decode import decode_audio, decode_clip
from facevid_datasets.media.ffmpeg import cut_clip, frames_in_span
from facevid_datasets.media.probe import probe
from facevid_datasets.testing import frame_energy, make_index_video, read_index


def indices(path) -> list[int]:
    n = probe(path).num_frames
    return [read_index(f) for f in decode_clip(str(path), list(range(n)), audio=False).frames]


def beeping_frames(path, num_frames: int, fps: float) -> list[int]:
    """Frames of the cut whose audio window holds a beep (the source beeps on every 5th index)."""
    audio = decode_audio(str(path), 0.0, num_frames / fps, 16_000)
    energy = frame_energy(audio, num_frames, 16_000 / fps)
    return [k for k in range(num_frames) if energy[k] > 0.1]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuts")
    return {fps: make_index_video(root / f"src_{fps:.3f}.mp4", 200, fps, (64, 64), audio=True, gop=48)
            for fps in (25.0, 30000 / 1001)}  # fmt: skip


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
@pytest.mark.parametrize("a,b", [(0, 10), (80, 206 - 80), (137, 200), (5, 6)])
def test_cut_by_frames_is_exact(sources, tmp_path, fps, a, b):
    out = cut_clip(sources[fps], tmp_path / "c.mp4", start_frame=a, end_frame=b)
    assert indices(out) == list(range(a, b))  # first and last frame as planned, none doubled or dropped
    if b - a >= 10:  # audio cut to the same span: the beeps stay on the frames with index % 5 == 0
        # (AAC ends on whole 1024-sample frames: the last two video frames' audio is not checked)
        beeps = [k for k in beeping_frames(out, b - a, fps) if k < b - a - 2]
        assert beeps == [k for k in range(b - a - 2) if (a + k) % 5 == 0]


def test_cut_by_seconds_takes_the_frames_shown_in_the_span(sources, tmp_path):
    fps = 30000 / 1001
    start, end = 11.62 / 5, 16.17 / 5  # not on frame times; the old -ss/-to cut doubled a frame here
    a, b = frames_in_span(start, end, fps, 200)
    assert (a, b) == (70, 97)
    assert indices(cut_clip(sources[fps], tmp_path / "s.mp4", start=start, end=end)) == list(range(70, 97))
    # back-to-back spans share no frame and lose none
    assert frames_in_span(0.0, 1.0, 25.0, 100)[1] == frames_in_span(1.0, 2.0, 25.0, 100)[0] == 25


def test_cut_with_crop_and_resize_keeps_frames(sources, tmp_path):
    out = cut_clip(sources[25.0], tmp_path / "r.mp4", start_frame=40, end_frame=52, crop=(0, 0, 64, 64), size=96)
    info = probe(out)
    assert (info.width, info.height, info.num_frames) == (96, 96, 12) and indices(out) == list(range(40, 52))


def test_cut_rejects_an_empty_span(sources, tmp_path):
    with pytest.raises(MediaError, match="empty"):
        cut_clip(sources[25.0], tmp_path / "e.mp4", start_frame=30, end_frame=30)


def test_curation_segment_is_cut_frame_exactly(sources, tmp_path):
    src = sources[25.0]
    n = probe(src).num_frames
    store = MeasurementStore(tmp_path / "out" / "measurements")
    for d in ("clips", "keypoints"):
        (tmp_path / "out" / d).mkdir()
    meta = {"clip": {"clip_id": "src", "keypoints_format": "mediapipe468"}, "segments": []}
    kp = np.random.default_rng(0).random((n, 468, 3)).astype(np.float32)
    store.save("k", encode_payload(meta, {"keypoints": kp, "pose": np.zeros((n, 3), np.float32)}))
    from facevid_datasets.curation.measure import ClipInput

    row = {"kind": "segment", "clip_id": "src_s001", "start_frame": 80, "end_frame": 180, "fps": 25.0,
           "width": 64, "height": 64, "has_audio": True, "head_pose": "frontal"}  # fmt: skip
    rec = _kept_record(tmp_path / "out", ClipInput("src", str(src)), row, "k", store)
    assert indices(rec["video"]["path"]) == list(range(80, 180))
    saved = np.load(tmp_path / "out" / "keypoints" / "src_s001.npy")
    assert np.allclose(saved, kp[80:180])  # keypoints line up with the cut's frames
