"""The CUDA path's defects that a CPU can check: one audio timing rule on both paths (VFR file, the split
path emulated on CPU), a CPU fallback reported, the worker-process guard, the device resolved once,
decode sessions on the caller's stream with events instead of host syncs (torch.cuda mocked), and the
FACEVID_REQUIRE_GPU switch."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from facevid_datasets.errors import GpuFallbackError
from facevid_datasets.media import probe, run_ffmpeg
from facevid_datasets.media.decode import TorchcodecReader
from facevid_datasets.schema import empty_record
from facevid_datasets.testing import make_index_video
from facevid_datasets.training import AudioOptions, ClipDataset, DecodeOptions, VideoCollator
from facevid_datasets.training.collate import _video_start

REPO = Path(__file__).resolve().parents[1]


def _record(path: Path, clip_id: str) -> dict:
    info = probe(path)
    r = empty_record()
    r.update(clip_id=clip_id, video={"path": str(path), "bytes": None}, audio_source="video", fps=info.fps,
             num_frames=info.num_frames, duration=info.duration, width=info.width, height=info.height)
    return r


@pytest.fixture(scope="module")
def vfr(tmp_path_factory) -> Path:
    """100 frames: 0-29 at 25 fps, then 12.5 fps (6.8 s), with a rising tone (every instant sounds different)."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=4", "-f", "lavfi", "-i",
                "aevalsrc=0.5*sin(2*PI*(200+150*t)*t):s=44100:d=7", "-vf",
                "setpts='if(lt(N,30),N/25/TB,(30+(N-30)*2)/25/TB)'", "-fps_mode", "vfr", "-c:v", "libx264",
                "-preset", "ultrafast", "-c:a", "aac", str(path)], path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("seek_mode", ["approximate", "exact"])
def test_audio_timing_is_one_rule_on_both_paths_of_a_vfr_file(vfr, seek_mode):
    rec = _record(vfr, "vfr")
    plans = [ClipDataset([rec], frames=8, seed=s)[0] for s in range(8)]
    col = VideoCollator(32, audio=AudioOptions(window=2), decode=DecodeOptions(seek_mode=seek_mode))
    start = _video_start(str(vfr))
    drift = []
    for p in plans:  # how far the decoded frame times lie from the planned ones: the old CUDA rule's error
        _, pts = TorchcodecReader(str(vfr), seek_mode=seek_mode).get_frames([int(i) for i in p.indices])
        drift.append(float(np.abs(pts.numpy() - (p.times + start)).max()))
    assert max(drift) > 0.2  # the file really is VFR where these windows lie: the test can tell the rules apart
    direct = col(plans)  # CPU path: decode, then audio
    split = col(col.prepare(plans))  # CUDA path emulated: audio spans read first (workers), video decoded after
    assert not direct["errors"] and not split["errors"]
    assert torch.equal(direct["audio"], split["audio"]) and torch.equal(direct["audio_windows"], split["audio_windows"])
    assert torch.equal(direct["audio_frame_mask"], split["audio_frame_mask"]) and direct["audio_frame_mask"].all()
    assert float(direct["audio"].abs().mean()) > 0.05  # real sound, not padding


class _FellBack:
    """A reader whose decoder reports torchcodec's CPU fallback, decoding with a real CPU reader."""

    def __init__(self, inner: TorchcodecReader):
        from torchcodec.decoders._video_decoder import CpuFallbackStatus

        self.inner, self.num_frames, self.fps = inner, inner.num_frames, inner.fps
        status = CpuFallbackStatus(status_known=True)
        status._backend, status._is_fallback, status._nvcuvid_unavailable = "CUDA", True, True
        inner._dec = _DecoderWithStatus(inner._dec, status)  # the real reader reads the status torchcodec gives

    @property
    def cpu_fallback(self) -> str | None:
        return self.inner.cpu_fallback

    def get_frames(self, indices):
        return self.inner.get_frames(indices)


class _DecoderWithStatus:
    def __init__(self, dec, status):
        self._dec, self.cpu_fallback = dec, status

    def get_frames_at(self, idx):
        return self._dec.get_frames_at(idx)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[dict]:
    d = tmp_path_factory.mktemp("clips")
    return [_record(make_index_video(d / f"c{i}.mp4", num_frames=30, size=(48, 64), gop=10), f"c{i}")
            for i in range(3)]


def test_cpu_fallback_is_warned_flagged_and_refusable(clips, monkeypatch):
    plans = [ClipDataset(clips, frames=4, seed=s)[i] for s, i in ((0, 0), (1, 1), (2, 2))]
    col = VideoCollator(32, audio=False)
    fell_back = {clips[0]["video"]["path"]}
    opened = col._open
    monkeypatch.setattr(col, "_open", lambda src: _FellBack(opened(src)) if src in fell_back else opened(src))
    with pytest.warns(RuntimeWarning, match=r"c0\.mp4: NVDEC not used.*NVcuvid unavailable"):
        batch = col(plans)
    assert batch["gpu_fallback"].tolist() == [p.video in fell_back for p in plans] == [True, False, False]
    assert not batch["errors"] and not batch["replaced"].any()  # decoded all the same, on the CPU
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per file, not once per batch
        assert col(plans)["gpu_fallback"].tolist() == [True, False, False]
    strict = VideoCollator(32, audio=False, decode=DecodeOptions(cpu_fallback="raise"))
    opened_strict = strict._open
    monkeypatch.setattr(strict, "_open", lambda src: _FellBack(opened_strict(src)) if src in fell_back
                        else opened_strict(src))
    with pytest.raises(GpuFallbackError, match=r"c0\.mp4.*NVcuvid unavailable"):
        strict(plans)  # refused: not a bad clip to replace, the run stops
    assert VideoCollator(32, audio=False)(plans)["gpu_fallback"].tolist() == [False] * 3
    with pytest.raises(ValueError, match="cpu_fallback"):
        DecodeOptions(cpu_fallback="ignore")  # type: ignore[arg-type]


# --- torch.cuda mocked: streams, events, devices ------------------------------------------------------------
class FakeStream:
    def __init__(self, name: str):
        self.name, self.waited = name, []

    def wait_event(self, event) -> None:
        self.waited.append(event)

    def synchronize(self) -> None:
        raise AssertionError(f"host synchronisation on stream {self.name}")


class FakeEvent:
    def __init__(self, *args, **kwargs):
        self.recorded_on = None

    def record(self, stream=None) -> None:
        self.recorded_on = stream

    def synchronize(self) -> None:
        raise AssertionError("host synchronisation on an event")


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda as a CPU machine can have it: per-thread current streams, events that remember their stream,
    and any host synchronisation an error."""
    default = FakeStream("default")
    local = threading.local()

    @contextlib.contextmanager
    def stream(s):
        prev = getattr(local, "stream", default)
        local.stream = s
        try:
            yield
        finally:
            local.stream = prev

    def sync(*args, **kwargs):
        raise AssertionError("torch.cuda.synchronize called")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: getattr(local, "stream", default))
    monkeypatch.setattr(torch.cuda, "stream", stream)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", sync)
    return stream


def test_decode_sessions_run_on_the_callers_stream_and_hand_over_with_events(clips, fake_cuda, monkeypatch):
    col = VideoCollator(32, device="cuda", audio=False, decode=DecodeOptions(sessions=3))
    assert col.device == torch.device("cuda", 1)  # a bare "cuda": the calling thread's device, resolved once
    seen = []  # (thread name, current stream) of each decode

    class Watched:
        def __init__(self, inner):
            self.inner, self.num_frames, self.fps = inner, inner.num_frames, inner.fps

        def get_frames(self, indices):
            seen.append((threading.current_thread().name, torch.cuda.current_stream()))
            return self.inner.get_frames(indices)

    monkeypatch.setattr(col, "_open", lambda src: Watched(TorchcodecReader(src, seek_mode="approximate")))
    stacked = []
    monkeypatch.setattr(col, "_stack", lambda items: stacked.extend(items) or {})
    plans = [ClipDataset(clips, frames=4, seed=s)[i] for s, i in ((0, 0), (1, 1), (2, 2), (3, 0))]
    side = FakeStream("side")  # the prefetcher's side stream
    with fake_cuda(side):
        decoded = col.decode_videos(plans)
        col(plans)
    assert len(seen) >= 3 and any(name.startswith("facevid-decode") for name, _ in seen)
    assert all(s is side for _, s in seen)  # pool threads decode on the caller's stream, not the default one
    assert all(d.stream is side and isinstance(d.ready, FakeEvent) and d.ready.recorded_on is side for d in decoded)
    assert len(side.waited) == len(plans) and all(isinstance(e, FakeEvent) for e in side.waited)
    assert len(stacked) == len(plans)
    consumer = FakeStream("training")
    decoded[0].use_on(consumer)  # another stream waits on the GPU for the decode, the host does not
    assert consumer.waited == [decoded[0].ready]


def test_cuda_collator_refuses_dataloader_worker_processes(clips, fake_cuda):
    col = VideoCollator(32, device="cuda:0", audio=False)
    plans = [ClipDataset(clips, frames=4, seed=0)[0]]
    loader = torch.utils.data.DataLoader(plans, batch_size=1, num_workers=1, collate_fn=col,
                                         multiprocessing_context="fork")
    with pytest.raises(RuntimeError, match=r"inside a DataLoader worker process: use clip_loader"):
        next(iter(loader))
    prepared = torch.utils.data.DataLoader(plans, batch_size=1, num_workers=1, collate_fn=col.prepare,
                                           multiprocessing_context="fork")
    assert [p.plan.clip_id for p in next(iter(prepared))] == [plans[0].clip_id]  # what the workers should run


def test_nvdec_use_is_read_by_column_name_whatever_the_header():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_check.dmon import parse_dmon

    spaced = ["# gpu    sm   mem   enc   dec   jpg   ofa", "# Idx     %     %     %     %     %     %",
              "    0     3     1     0    57     0     0", "    0     -     1     0    61     0     0"]
    dated = ["#Date       Time        gpu     sm    mem    enc    dec", "#YYYYMMDD   HH:MM:SS    Idx      %      %"
             "      %      %", " 20261203   19:00:01      0     10      2      0     80"]
    glued = ["#gpu sm mem enc dec", "0 5 1 0 42", "0 5 1 0"]  # a short row is not read
    assert parse_dmon(spaced, ("dec", "sm")) == {"dec": [57.0, 61.0], "sm": [3.0]}
    assert parse_dmon(dated)["dec"] == [80.0] and parse_dmon(glued)["dec"] == [42.0]
    assert parse_dmon(["    0     3     1     0    57"])["dec"] == []  # no header seen: no column to read


@pytest.mark.gpu
def test_cuda_runs_a_kernel():
    x = torch.arange(4, device="cuda")
    assert int((x * 2).sum()) == 12


@pytest.mark.slow
def test_require_gpu_turns_gpu_skips_into_failures():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, whatever machine runs this
    env.pop("FACEVID_REQUIRE_GPU", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
           "tests/test_gpu_path.py::test_cuda_runs_a_kernel"]
    skipped = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout[-2000:]
    required = subprocess.run(cmd, cwd=REPO, env={**env, "FACEVID_REQUIRE_GPU": "1"}, capture_output=True,
                              text=True, timeout=300)
    assert required.returncode == 1 and "1 error" in required.stdout, required.stdout[-2000:]  # failed at setup
    assert "FACEVID_REQUIRE_GPU=1 but torch sees no CUDA GPU" in required.stdout
