"""Probe and decode: both backends, alignment of audio with frames, and odd or broken files."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from facevid_datasets.errors import MediaError
from facevid_datasets.media import decode_clip, frame_timestamps, indices_for_span, keyframe_indices, probe
from facevid_datasets.testing import frame_energy, make_index_video, read_index

BACKENDS = ["torchcodec", "decord"]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    files = {
        "plain": make_index_video(d / "plain.mp4", num_frames=50, fps=25, size=(96, 128), gop=10),
        "silent": make_index_video(d / "silent.mp4", num_frames=20, fps=25, size=(64, 64), audio=False),
    }
    # Variable frame rate: frames 0-19 at 25 fps, then 50 fps.
    vfr = d / "vfr.mp4"
    ffmpeg("-i", str(files["plain"]), "-vf", "setpts='if(lt(N,20),N/25,0.8+(N-20)/50)/TB'", "-r", "50",
           "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "18", "-an", str(vfr))  # fmt: skip
    files["vfr"] = vfr
    rot = d / "rotated.mp4"
    ffmpeg("-i", str(files["plain"]), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rot))
    files["rotated"] = rot
    odd = d / "odd.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=128x96:rate=30:duration=1", "-vf", "scale=101:75",
           "-c:v", "libx264", "-pix_fmt", "yuv444p", str(odd))  # fmt: skip
    files["odd"] = odd
    # Truncated: moov atom at the end (no faststart) and the file cut in half.
    full = d / "no_faststart.mp4"
    ffmpeg("-i", str(files["plain"]), "-c", "copy", str(full))
    data = full.read_bytes()
    (d / "truncated_head.mp4").write_bytes(data[: len(data) // 2])
    files["truncated_head"] = d / "truncated_head.mp4"
    # Truncated with the index up front (faststart): headers read, the tail's frames are gone.
    data = files["plain"].read_bytes()
    (d / "truncated_tail.mp4").write_bytes(data[: int(len(data) * 0.6)])
    files["truncated_tail"] = d / "truncated_tail.mp4"
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 255, 20_000, dtype=np.uint8).tobytes())
    files["corrupt"] = d / "corrupt.mp4"
    (d / "empty.mp4").write_bytes(b"")
    files["empty"] = d / "empty.mp4"
    return files


def test_probe_reads_headers(media):
    info = probe(media["plain"])
    assert (info.width, info.height, info.num_frames, info.fps) == (128, 96, 50, 25.0)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.codec == "h264" and info.has_audio and info.audio_sample_rate == 16000
    assert not info.variable_frame_rate and info.rotation == 0
    assert not probe(media["silent"]).has_audio
    assert list(keyframe_indices(media["plain"])[:3]) == [0, 10, 20]


@pytest.mark.parametrize("backend", BACKENDS)
def test_decode_by_indices_returns_those_frames(media, backend):
    idx = [0, 3, 7, 31, 49]
    clip = decode_clip(media["plain"], idx, backend=backend, audio=False)
    assert clip.frames.shape == (5, 3, 96, 128) and clip.frames.dtype == torch.uint8
    assert [read_index(f) for f in clip.frames] == idx
    assert torch.allclose(clip.pts_seconds, torch.tensor(idx, dtype=torch.float64) / 25)


def test_backends_agree(media):
    idx = [2, 11, 25, 40]
    a = decode_clip(media["plain"], idx, backend="torchcodec", audio=False).frames.float()
    b = decode_clip(media["plain"], idx, backend="decord", audio=False).frames.float()
    assert a.shape == b.shape
    assert (a - b).abs().mean() < 2.0, "same indices must give the same frames up to colour-conversion rounding"


def test_audio_is_16k_mono_and_aligned_to_frames(media):
    clip = decode_clip(media["plain"], list(range(10, 30)))
    assert clip.sample_rate == 16000 and clip.audio.ndim == 1
    assert len(clip.audio) == round(20 / 25 * 16000)
    energy = frame_energy(clip.audio, 20, clip.samples_per_frame)
    loud = {int(i) + 10 for i in torch.nonzero(energy > 0.1).flatten()}
    assert loud == {k for k in range(10, 30) if k % 5 == 0}


def test_time_span_and_fps_resampling(media):
    clip = decode_clip(media["plain"], start=0.4, end=1.2, audio=False)
    assert [read_index(f) for f in clip.frames] == list(range(10, 30))
    clip = decode_clip(media["plain"], start=0.0, end=1.0, fps=10, audio=True)
    assert clip.indices.tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22]
    assert len(clip.audio) == round(clip.frames.shape[0] / 10 * 16000)


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate(media, backend):
    info = probe(media["vfr"])
    ts = frame_timestamps(media["vfr"])
    assert info.num_frames == 50 and len(ts) == 50 and info.variable_frame_rate
    assert np.diff(ts[:20]) == pytest.approx(0.04, abs=1e-3) and np.diff(ts[25:]) == pytest.approx(0.02, abs=1e-3)
    idx = indices_for_span(ts, 0.8, 1.0)
    assert idx.tolist() == list(range(20, 30))
    clip = decode_clip(media["vfr"], idx, backend=backend, audio=False)
    assert [read_index(f) for f in clip.frames] == list(range(20, 30))
    # Resampled to 25 fps, a player shows every other frame of the 50 fps part.
    assert indices_for_span(ts, 0.8, 1.2, fps=25).tolist() == [20, 22, 24, 26, 28, 30, 32, 34, 36, 38]


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_metadata_is_applied(media, backend):
    info = probe(media["rotated"])
    assert info.rotation in (90, 270) and (info.width, info.height) == (96, 128)
    clip = decode_clip(media["rotated"], [5, 12], backend=backend, audio=False)
    assert clip.frames.shape == (2, 3, 128, 96)
    ref = decode_clip(media["rotated"], [5, 12], backend="torchcodec", audio=False).frames
    assert (clip.frames.float() - ref.float()).abs().mean() < 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_size(media, backend):
    info = probe(media["odd"])
    assert (info.width, info.height, info.num_frames) == (101, 75, 30)
    clip = decode_clip(media["odd"], [0, 29], backend=backend)
    assert clip.frames.shape == (2, 3, 75, 101)
    assert clip.audio is None, "a file with no audio stream gives None, not an empty array"


def test_no_audio_stream(media):
    clip = decode_clip(media["silent"], [0, 1, 2])
    assert clip.audio is None and clip.frames.shape[0] == 3


@pytest.mark.parametrize("name", ["truncated_head", "corrupt", "empty"])
def test_unreadable_files_raise_an_error_naming_the_file(media, name):
    with pytest.raises(MediaError) as e:
        probe(media[name])
    assert str(media[name]) in str(e.value)
    for backend in BACKENDS:
        with pytest.raises(MediaError) as e:
            decode_clip(media[name], [0], backend=backend)
        assert str(media[name]) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncated_tail_decodes_what_is_there_or_names_the_file(media, backend):
    try:
        clip = decode_clip(media["truncated_tail"], [0, 1, 2], backend=backend, audio=False)
    except MediaError as e:  # decord refuses the whole file; that is a clear error too
        assert backend == "decord" and str(media["truncated_tail"]) in str(e)
    else:
        assert [read_index(f) for f in clip.frames] == [0, 1, 2]
    with pytest.raises(MediaError) as e:
        decode_clip(media["truncated_tail"], [49], backend=backend, audio=False)
    assert str(media["truncated_tail"]) in str(e.value)


def test_out_of_range_index(media):
    with pytest.raises(MediaError, match="frame index 50 out of range: the video has 50 frames"):
        decode_clip(media["plain"], [10, 50])


def test_separate_audio_file(media, tmp_path):
    wav = tmp_path / "voice.wav"
    ffmpeg("-i", str(media["plain"]), "-vn", "-ar", "44100", str(wav))
    clip = decode_clip(media["silent"], [0, 5, 10], audio_source=wav)
    assert clip.audio is not None and len(clip.audio) == round((10 / 25 + 1 / 25) * 16000)


@pytest.mark.gpu
def test_cuda_decoding_matches_cpu(media):
    idx = [0, 9, 33]
    gpu = decode_clip(media["plain"], idx, device="cuda", audio=False)
    cpu = decode_clip(media["plain"], idx, audio=False)
    assert gpu.frames.is_cuda
    assert (gpu.frames.cpu().float() - cpu.frames.float()).abs().mean() < 3.0
