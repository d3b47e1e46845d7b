"""VideoCollator: shapes, dtypes, alignment of frames/audio/keypoints with known content, masks, bad clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facevid_datasets.errors import MediaError
from facevid_datasets.schema import empty_record
from facevid_datasets.testing import frame_energy, make_index_video, read_index
from facevid_datasets.training import AudioOptions, ClipDataset, DecodeOptions, VideoCollator, clip_loader

FPS, N, H, W = 25.0, 50, 96, 128


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    bad = d / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    return {
        "av": make_index_video(d / "av.mp4", num_frames=N, fps=FPS, size=(H, W), gop=10),
        "silent": make_index_video(d / "silent.mp4", num_frames=N, fps=FPS, size=(H, W), audio=False, gop=10),
        "bad": bad,
    }


def record(path: Path, clip_id: str, *, keypoints: bool = True, audio_source: str = "video") -> dict:
    r = empty_record()
    r.update(clip_id=clip_id, video={"path": str(path), "bytes": None}, audio_source=audio_source, fps=FPS,
             num_frames=N, duration=N / FPS, width=W, height=H, caption=f"caption {clip_id}")
    r["attributes"]["ethnicity"] = "Asian"
    r["attributes"]["emotion"] = "happy"
    r["head_pose"] = {"label": "frontal", "yaw": [float(i) for i in range(N)], "pitch": [0.0] * N, "roll": [0.0] * N}
    if keypoints:  # per frame: the image centre, and a pair moving with the frame index, mirrored about it
        r["keypoints"] = {"format": "test3", "points": [[[W / 2, H / 2, 1.0], [16.0 + i, 10.0, 0.5],
                                                         [W - 16.0 - i, H - 10.0, 0.5]] for i in range(N)]}
    return r


def test_shapes_dtypes_and_labels(media):
    ds = ClipDataset([record(media["av"], "a"), record(media["av"], "b")], frames=8, seed=0)
    batch = VideoCollator(64, audio=AudioOptions(window=2))([ds[0], ds[1]])
    assert batch["video"].shape == (2, 8, 3, 64, 64) and batch["video"].dtype == torch.float32
    assert -1.0 <= batch["video"].min() < -0.9 and 0.9 < batch["video"].max() <= 1.0
    assert batch["audio"].shape == (2, 8 * 640) and batch["audio_windows"].shape == (2, 8, 5 * 640)
    assert batch["keypoints"].shape == (2, 8, 3, 3) and batch["head_pose"].shape == (2, 8, 3)
    assert batch["clip_id"] == ["a", "b"] and batch["caption"] == ["caption a", "caption b"]
    assert batch["ethnicity_id"].tolist() == [0, 0] and batch["emotion_id"].tolist() == [1, 1]
    assert batch["head_pose_id"].tolist() == [0, 0]
    assert batch["frame_mask"].all() and batch["audio_mask"].all() and batch["keypoints_mask"].all()
    u8 = VideoCollator((48, 80), dtype=torch.uint8, audio=False)([ds[0]])
    assert u8["video"].shape == (1, 8, 3, 48, 80) and u8["video"].dtype == torch.uint8 and "audio" not in u8
    unit = VideoCollator(32, value_range=(0.0, 1.0), dtype=torch.float16, audio=False)([ds[0]])
    assert unit["video"].dtype == torch.float16
    assert 0.0 <= float(unit["video"].min()) and float(unit["video"].max()) <= 1.0


@pytest.mark.parametrize("kwargs", [{"stride": 1}, {"stride": 2}, {"fps": 10.0}])
def test_frames_audio_and_pose_align_with_known_content(media, kwargs):
    ds = ClipDataset([record(media["av"], "a")], frames=8, seed=1, **kwargs)
    plan = ds[0]
    col = VideoCollator(64, audio=AudioOptions(window=1))
    batch = col([plan])
    assert [read_index(f) for f in batch["video"][0]] == plan.indices.tolist()
    assert batch["head_pose"][0, :, 0].tolist() == plan.indices.astype(float).tolist()
    spf = col.samples_per_frame(plan.fps)
    loud = frame_energy(batch["audio"][0], 8, spf) > 0.1
    # output frame k covers [t_k, t_k + 1/fps): it beeps when a source frame shown in that time has k % 5 == 0
    expect = [any(int(np.floor((t + j / 1000) * FPS + 1e-6)) % 5 == 0 for j in range(int(1000 / plan.fps)))
              for t in plan.times]
    assert loud.tolist() == expect
    # each frame's window is [frame k-1, k, k+1]: its middle third is the frame's own audio
    win = batch["audio_windows"][0]
    assert torch.equal(win[:, spf : 2 * spf], batch["audio"][0].reshape(8, spf))
    assert torch.equal(win[1:, :spf], batch["audio"][0].reshape(8, spf)[:-1])


def test_keypoints_follow_the_crop_and_resize(media):
    plan = ClipDataset([record(media["av"], "a")], frames=4, start="first")[0]
    batch = VideoCollator(64, audio=False)([plan])
    kp = batch["keypoints"][0]
    # 128x96 -> centred 96x96 crop (left 16) -> 64x64: x' = (x - 16) * 2/3, y' = y * 2/3
    assert torch.allclose(kp[:, 0, :2], torch.tensor([32.0, 32.0]).expand(4, 2))
    assert torch.allclose(kp[:, 1, 0], torch.tensor([(16.0 + i - 16) * 2 / 3 for i in range(4)]))
    assert torch.allclose(kp[:, 1, 2], torch.full((4,), 0.5))
    padded = VideoCollator(64, fit="pad", audio=False)([plan])
    assert padded["video"].shape[-2:] == (64, 64)
    # letterbox: 128x96 -> 64x48, 8 px bars top and bottom
    assert torch.allclose(padded["keypoints"][0, :, 0, :2], torch.tensor([32.0, 32.0]).expand(4, 2))
    assert float(padded["video"][0, 0, :, :8].max()) == -1.0  # the bar is black


def test_face_off_centre_keeps_the_face_in_the_crop(media):
    r = record(media["av"], "a")
    r["keypoints"]["points"] = [[[110.0, 48.0, 1.0]] for _ in range(N)]  # face near the right edge
    batch = VideoCollator(64, audio=False)([ClipDataset([r], frames=2)[0]])
    x = batch["keypoints"][0, :, 0, 0]
    assert (x > 0).all() and (x < 64).all() and float(x[0]) > 32  # crop slid right but stays inside


def test_masks_for_missing_audio_keypoints_and_padding(media):
    short = record(media["av"], "short")
    short["num_frames"], short["duration"] = 5, 0.2
    recs = [record(media["silent"], "silent"), record(media["av"], "nokp", keypoints=False), short,
            record(media["av"], "noaudio", audio_source="none")]
    ds = ClipDataset(recs, frames=8, start="first")
    batch = VideoCollator(32)([ds[i] for i in range(4)])
    assert batch["audio_mask"].tolist() == [False, True, True, False]
    assert float(batch["audio"][0].abs().sum()) == 0.0 and float(batch["audio"][3].abs().sum()) == 0.0
    assert batch["keypoints_mask"].any(1).tolist() == [True, False, True, True]
    assert batch["frame_mask"][2].tolist() == [True] * 5 + [False] * 3
    assert batch["keypoints_mask"][2].tolist() == [True] * 5 + [False] * 3
    per_frame = batch["audio"][2].reshape(8, -1)
    assert float(per_frame[5:].abs().sum()) == 0.0  # padding frames carry no audio


def test_bad_clip_is_reported_and_replaced(media, caplog):
    good = record(media["av"], "good")
    bad = record(media["bad"], "broken")
    missing = record(media["av"].parent / "gone.mp4", "gone")
    ds = ClipDataset([good, bad, missing], frames=4)
    batch = VideoCollator(32)([ds[0], ds[1], ds[2]])
    assert batch["video"].shape[0] == 3
    assert batch["replaced"].tolist() == [False, True, True]
    assert [e["clip_id"] for e in batch["errors"]] == ["broken", "gone"]
    assert str(media["bad"]) in batch["errors"][0]["file"] and batch["errors"][0]["reason"]
    assert "broken" in caplog.text
    with pytest.raises(MediaError, match="every clip"):
        VideoCollator(32)([ds[1]])


def test_cpu_worker_loader_matches_direct_decode(media):
    recs = [record(media["av"], f"c{i}") for i in range(4)]
    ds = ClipDataset(recs, frames=4, start="first")
    col = VideoCollator(32, audio=AudioOptions(window=0))
    batches = list(clip_loader(ds, col, batch_size=2, num_workers=2))
    direct = col([ds[0], ds[1]])
    assert len(batches) == 2 and torch.equal(batches[0]["video"], direct["video"])
    assert torch.equal(batches[0]["audio"], direct["audio"])


def test_decord_backend_agrees_with_torchcodec(media):
    plan = ClipDataset([record(media["silent"], "a")], frames=6, seed=3)[0]
    a = VideoCollator(64, audio=False, dtype=torch.uint8)([plan])["video"].float()
    decord = VideoCollator(64, audio=False, dtype=torch.uint8, decode=DecodeOptions(backend="decord"))
    b = decord([plan])["video"].float()
    assert (a - b).abs().mean() < 2.0


@pytest.mark.gpu
def test_cuda_path_matches_cpu_path(media):
    ds = ClipDataset([record(media["av"], f"c{i}") for i in range(4)], frames=8, seed=2)
    cpu = VideoCollator(64, audio=AudioOptions(window=2))
    gpu = VideoCollator(64, audio=AudioOptions(window=2), device="cuda")
    plans = [ds[i] for i in range(4)]
    a, b = cpu(plans), gpu(plans)
    assert b["video"].is_cuda and b["video"].shape == a["video"].shape
    assert (a["video"] - b["video"].cpu()).abs().mean() < 0.03  # decoder rounding (colour conversion)
    assert [read_index(f) for f in b["video"][0]] == plans[0].indices.tolist()
    assert torch.allclose(a["audio"], b["audio"].cpu()) and torch.allclose(a["keypoints"], b["keypoints"].cpu())
    loaded = list(clip_loader(ds, gpu, batch_size=2, num_workers=2))
    assert len(loaded) == 2 and loaded[0]["video"].is_cuda


def test_defaults_batch_any_mix_of_frame_rates_and_audio(tmp_path):
    """23.98/25/29.97/30 fps clips with 44.1/48/16 kHz or no audio: one batch with the defaults."""
    from facevid_datasets.media import encode_video
    from facevid_datasets.testing import beep_audio, index_frame

    recs = []
    for i, (fps, sr) in enumerate([(24000 / 1001, 44_100), (25.0, 48_000), (30000 / 1001, 16_000), (30.0, None)]):
        n = int(round(fps * 2))
        path = tmp_path / f"c{i}.mp4"
        wav = beep_audio(n, fps, sr, 5) if sr else None
        encode_video((index_frame(k, 48, 64) for k in range(n)), path, fps, audio=wav, sample_rate=sr or 16_000)
        r = empty_record()
        r.update(clip_id=f"c{i}", video={"path": str(path), "bytes": None}, fps=fps, num_frames=n, duration=n / fps,
                 width=64, height=48, audio_source="video" if sr else "none")
        recs.append(r)
    for ds in (ClipDataset(recs), ClipDataset(recs, fps=25)):
        batch = VideoCollator()([ds[i] for i in range(4)])
        B, T = 4, ds.spec.frames
        assert batch["video"].shape == (B, T, 3, 512, 512)
        spf = batch["samples_per_frame"]
        assert batch["audio"].shape == (B, T * int(spf.max())) and batch["audio_mask"].tolist() == [True] * 3 + [False]
        per_frame = batch["audio"].reshape(B, T, -1)
        for b in range(3):  # each clip's own frame length holds its audio; the padding is silent
            assert float(per_frame[b, :, : int(spf[b])].abs().sum()) > 0
            assert float(per_frame[b, :, int(spf[b]) :].abs().sum()) == 0.0


def test_embedded_sample_mixed_clips_batch_with_defaults(tmp_path):
    import facevid_datasets as fd

    ds = fd.load_dataset("facevid-1k", "sample", split="train", cache_dir=str(tmp_path / "cache"))
    assert len({round(f, 2) for f in ds["fps"]}) >= 3  # 23.98 / 29.97 / 30 fps in one split
    clips = ClipDataset(ds)
    col = VideoCollator(64)
    by_fps = {}
    for i in range(len(clips)):
        by_fps.setdefault(round(clips[i].source_fps, 2), i)
    batch = col([clips[i] for i in by_fps.values()])
    assert batch["video"].shape[:2] == (len(by_fps), clips.spec.frames) and not batch["replaced"].any()
    assert torch.isfinite(batch["audio"]).all() and batch["audio_mask"].any()


# --- audio that ends early (a 0.6 s track in a 4 s video): zero padding is not sound ---------------------------
SHORT_AUDIO_S = 0.6


@pytest.fixture(scope="module")
def short_audio(tmp_path_factory) -> dict[str, Path]:
    """A 4 s index video whose audio track (a steady tone) stops at 0.6 s, muxed in the file and as a
    separate .wav."""
    import soundfile as sf

    from facevid_datasets.media import run_ffmpeg

    d = tmp_path_factory.mktemp("short_audio")
    video = make_index_video(d / "v.mp4", num_frames=100, fps=FPS, size=(H, W), audio=False, gop=10)
    t = np.arange(int(SHORT_AUDIO_S * 16_000)) / 16_000
    wav = d / "a.wav"
    sf.write(wav, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16_000)
    muxed = d / "av.mp4"
    run_ffmpeg(["-i", str(video), "-i", str(wav), "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                str(muxed)], muxed)
    return {"muxed": muxed, "wav": wav}


def _short_record(files: dict[str, Path], source: str) -> dict:
    r = record(files["muxed"], f"short-{source}", keypoints=False)
    r.update(num_frames=100, duration=4.0)
    if source == "file":
        r.update(audio_source="file", audio={"path": str(files["wav"]), "bytes": None})
    return r


@pytest.mark.parametrize("source", ["video", "file"])
@pytest.mark.parametrize("path", ["cpu", "split"])
@pytest.mark.parametrize("start_s", [0.0, 0.4, 2.0])  # wholly inside, across the end, wholly past the end
def test_audio_past_the_end_of_a_short_track_is_masked(short_audio, source, path, start_s):
    plan = ClipDataset([_short_record(short_audio, source)], frames=8, start=start_s, fps=25)[0]
    col = VideoCollator(32, audio=AudioOptions(window=1))
    batch = col([plan]) if path == "cpu" else col(col.prepare([plan]))
    heard, audio = batch["audio_frame_mask"][0], batch["audio"][0].reshape(8, -1)
    starts = plan.times  # frame k's own audio spans [t_k, t_k + 1/25)
    inside = starts + 1 / FPS <= SHORT_AUDIO_S - 0.02
    past = starts >= SHORT_AUDIO_S + 0.02
    assert heard[torch.as_tensor(inside)].all() and not heard[torch.as_tensor(past)].any()
    assert bool(batch["audio_mask"][0]) == bool(inside.any())  # a window wholly past the end is no audio at all
    assert float(audio[torch.as_tensor(past)].abs().sum()) == 0.0  # and carries zeros, masked
    if inside.any():
        assert float(audio[torch.as_tensor(inside)].abs().mean()) > 0.1  # the tone, where the track plays
