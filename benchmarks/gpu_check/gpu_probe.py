"""Direct checks of facevid-datasets' NVDEC path that its `pytest -m gpu` tests do not make.

    <venv>/bin/python benchmarks/gpu_check/gpu_probe.py OUT.json [--cpu-dry-run]
    (run from the repository root; ~30-60 s on an H200; --cpu-dry-run exercises this script on a CPU)

Sections (each guarded; one failing does not stop the others), results appended to OUT.json:
  env            torch / torchcodec / FFmpeg / driver, libnvcuvid loadable, NVDEC cache capacity
  reader_1080p   TorchcodecReader(device="cuda"): its cpu_fallback, dtype/layout/device of frames and
                 pts, pts and pixels against the CPU decoder (mean/max |diff|, signed per-channel diff)
  colour_*       the same against CPU for a BT.709-tagged and a full-range (yuvj420p) file
  fallback_demo  an H.264 4:4:4 file: does NVDEC fall back to CPU, and does the collator say so (a warning,
                 batch["gpu_fallback"], DecodeOptions(cpu_fallback="raise") refusing it)?
  collator_streams  the CUDA stream each decode session decodes on when the collator is called under a
                 side stream (expected: that side stream, not the default one)
  default_stream_wait  VideoCollator on a side stream while the default stream is busy (a training
                 step in flight): 7 decode sessions (pool threads) vs 1 (caller's thread); expected: the
                 host does not wait for the training step with either
  race_check     CudaPrefetcher(depth=3, 7 sessions) under a simulated training load against a serial
                 reference (1 session, one stream): bitwise equal batches expected
  audio_paths    a variable-frame-rate file: the CUDA split path (audio read ahead, video on NVDEC) against
                 the CPU path: equal audio expected
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
DRY = "--cpu-dry-run" in sys.argv  # check this helper itself on a machine without a GPU (device="cpu")
OUTJ = Path(ARGS[0] if ARGS else "gpu_probe.json")
R: dict = {"dry_run": DRY}


def save() -> None:
    OUTJ.write_text(json.dumps(R, indent=1, default=str))


def put(key: str, **kw) -> None:
    R[key] = kw
    print(f"[probe] {key}: " + ", ".join(f"{k}={v}" for k, v in kw.items()), flush=True)
    save()


def section(fn):
    t = time.perf_counter()
    try:
        fn()
    except Exception as e:  # keep going: one broken section must not hide the others
        put(fn.__name__, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc()[-1500:])
    R.setdefault("_seconds", {})[fn.__name__] = round(time.perf_counter() - t, 2)
    save()


import torch  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="fv-gpu-probe-"))


def ff(out: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args, str(out)], check=True, timeout=90)
    return out


def env() -> None:
    import torchcodec
    from torchcodec._core import ops
    from torchcodec.decoders import get_nvdec_cache_capacity

    nv = {}
    for lib in ("libnvcuvid.so.1", "libnvcuvid.so"):
        try:
            ctypes.CDLL(lib)
            nv[lib] = "ok"
        except OSError as e:
            nv[lib] = f"missing ({e})"
    try:
        drv = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        drv = f"nvidia-smi unavailable ({e})"
    put("env", torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available(),
        device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, nvidia_smi=drv,
        torchcodec=torchcodec.__version__, ffmpeg_major=ops.ffmpeg_major_version,
        core_lib=Path(str(ops.core_library_path)).name, nvcuvid=nv, nvdec_cache_capacity=get_nvdec_cache_capacity())


section(env)
DEV = "cpu" if DRY else "cuda"
if not DRY and not torch.cuda.is_available():
    put("fatal", reason="torch.cuda.is_available() is False: every gpu test is skipped; check the driver "
        "(cu130 wheels need an R580+ driver) and CUDA_VISIBLE_DEVICES")
    sys.exit(2)

from facevid_datasets.media import probe  # noqa: E402
from facevid_datasets.media.decode import TorchcodecReader  # noqa: E402
from facevid_datasets.schema import empty_record  # noqa: E402

# --- media (a few seconds of ffmpeg) ------------------------------------------------------------
SRC = []
for i in range(3):  # same size, different content (hue), one keyframe each: long run-ups, as originals
    SRC.append(ff(TMP / f"h264_1080p_{i}.mp4", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=6",
                  "-vf", f"hue=h={120 * i}", "-c:v", "libx264", "-preset", "ultrafast", "-g", "250",
                  "-pix_fmt", "yuv420p"))
P709 = ff(TMP / "bt709.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=1", "-c:v", "libx264",
          "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
          "-color_trc", "bt709")
PFULL = ff(TMP / "fullrange.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=1", "-c:v",
           "libx264", "-preset", "ultrafast", "-pix_fmt", "yuvj420p")
PVFR = ff(TMP / "vfr.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4", "-f", "lavfi", "-i",
          "aevalsrc=0.5*sin(2*PI*(200+150*t)*t):s=44100:d=7", "-vf",
          "setpts='if(lt(N,30),N/25/TB,(30+(N-30)*2)/25/TB)'", "-fps_mode", "vfr", "-c:v", "libx264",
          "-preset", "ultrafast", "-c:a", "aac")
P444 = ff(TMP / "h264_444.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=1", "-c:v", "libx264",
          "-preset", "ultrafast", "-pix_fmt", "yuv444p")


def compare(path: Path, idx: list[int], key: str, seek: str = "approximate") -> None:
    t = time.perf_counter()
    g = TorchcodecReader(str(path), device=DEV, seek_mode=seek)
    t_open = time.perf_counter() - t
    fb = g.cpu_fallback
    t = time.perf_counter()
    f, pts = g.get_frames(idx)
    if not DRY:
        torch.cuda.synchronize()
    t_dec = time.perf_counter() - t
    c, cpts = TorchcodecReader(str(path), seek_mode=seek).get_frames(idx)
    d = f.cpu().float() - c.float()
    put(key, fell_back=bool(fb), cpu_fallback=str(fb or "no fallback"), is_cuda=f.is_cuda, dtype=str(f.dtype),
        shape=list(f.shape), stride=list(f.stride()), nhwc_backed=f.permute(0, 2, 3, 1).is_contiguous(),
        pts_device=str(pts.device), pts_dtype=str(pts.dtype), pts_equal_cpu=bool(torch.equal(pts, cpts)),
        mean_abs_diff=round(d.abs().mean().item(), 3), max_abs_diff=round(d.abs().max().item(), 1),
        signed_rgb_diff=[round(v, 3) for v in d.mean(dim=(0, 2, 3)).tolist()],
        open_s=round(t_open, 3), decode_s=round(t_dec, 3), frames=len(idx))


def reader_1080p() -> None:
    if not DRY:
        t = time.perf_counter()
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
        R["cuda_context_s"] = round(time.perf_counter() - t, 3)
    compare(SRC[0], [0, 1, 2, 40, 41, 100, 149], "reader_1080p")
    compare(SRC[1], [5, 3, 3, 90], "reader_1080p_unsorted_repeats")  # any order, repeats, 2nd open (NVDEC cache)
    compare(SRC[2], [0, 75, 149], "reader_1080p_exact_seek", seek="exact")


def colour() -> None:
    compare(P709, [0, 10, 24], "colour_bt709")
    compare(PFULL, [0, 10, 24], "colour_fullrange")


def _record(path: Path) -> dict:
    info = probe(path)
    r = empty_record()
    r.update(clip_id=path.stem, video={"path": str(path), "bytes": None}, audio_source="video", fps=info.fps,
             num_frames=info.num_frames, duration=info.duration, width=info.width, height=info.height)
    return r


def fallback_demo() -> None:
    import warnings

    from facevid_datasets.errors import GpuFallbackError
    from facevid_datasets.training import ClipDataset, DecodeOptions, VideoCollator

    g = TorchcodecReader(str(P444), device=DEV)
    f, _ = g.get_frames([0, 5])
    fb = g.cpu_fallback
    plans = [ClipDataset([_record(P444)], frames=4, start="first")[0]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = VideoCollator(64, device=DEV, audio=False)(plans)
    try:
        VideoCollator(64, device=DEV, audio=False, decode=DecodeOptions(cpu_fallback="raise"))(plans)
        refused = False
    except GpuFallbackError:
        refused = True
    put("fallback_demo", file="H.264 High 4:4:4", fell_back=bool(fb), cpu_fallback=str(fb or "no fallback"),
        frames_is_cuda=f.is_cuda, batch_flag=batch["gpu_fallback"].tolist(),
        warned=any("NVDEC not used" in str(w.message) for w in caught), refused_with_raise=refused,
        note="when fell_back: the collator must warn, flag the clip and refuse it under cpu_fallback='raise'")


def _batches(n: int, seed: int = 0) -> list[list]:
    """n batches of 6 windows (16 frames): 2 per file, 3 files, starts spread over each file."""
    import numpy as np

    from facevid_datasets.training import ClipDataset
    from facevid_datasets.training.plan import make_plan

    recs = [_record(p) for p in SRC]
    spec = ClipDataset(recs, frames=16, start="first").spec
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        plans = []
        for r, rec in enumerate(recs):
            for s in rng.integers(0, rec["num_frames"] - 16, 2):
                plans.append(make_plan(rec, replace(spec, start=int(s) / rec["fps"]), rng, row=r))
        out.append(plans)
    return out


def _collator(sessions: int, device: str = "cuda"):
    from facevid_datasets.training import DecodeOptions, VideoCollator

    return VideoCollator(512, dtype=torch.uint8, audio=False, device=device, decode=DecodeOptions(sessions=sessions))


def collator_streams() -> None:
    col = _collator(7)
    seen = []
    opened = col._open

    class Watched:  # records the stream current in the thread that decodes
        def __init__(self, inner):
            self.inner, self.num_frames, self.fps, self.cpu_fallback = inner, inner.num_frames, inner.fps, None

        def get_frames(self, indices):
            seen.append((threading.current_thread().name, torch.cuda.current_stream().cuda_stream))
            return self.inner.get_frames(indices)

    col._open = lambda src: Watched(opened(src))
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        col(_batches(1, seed=3)[0])
    torch.cuda.synchronize()
    put("collator_streams", decodes=len(seen), threads=sorted({t for t, _ in seen}), side=side.cuda_stream,
        default=torch.cuda.default_stream().cuda_stream, all_on_side=all(s == side.cuda_stream for _, s in seen))


def _cycles_per_s() -> float:
    torch.cuda._sleep(1000)  # warm: module load, first launch
    torch.cuda.synchronize()
    t = time.perf_counter()
    torch.cuda._sleep(int(2e8))
    torch.cuda.synchronize()
    return 2e8 / (time.perf_counter() - t)


def default_stream_wait() -> None:
    rate = _cycles_per_s()
    torch.cuda.synchronize()
    t = time.perf_counter()
    torch.cuda._sleep(int(rate * 1.5))
    torch.cuda.synchronize()
    load_measured = time.perf_counter() - t
    plans = _batches(2, seed=1)
    out = {"load_measured_s": round(load_measured, 3)}
    for sessions in (7, 1):
        col = _collator(sessions)
        side = torch.cuda.Stream()
        with torch.cuda.stream(side):
            col(plans[0])  # warm: decoders, allocator
        torch.cuda.synchronize()
        row = {}
        for load_s in (0.0, 1.5):
            torch.cuda.synchronize()
            if load_s:
                torch.cuda._sleep(int(rate * load_s))  # a training step queued on the default stream
            t = time.perf_counter()
            with torch.cuda.stream(side):
                col(plans[1])
                ev = torch.cuda.Event()
                ev.record(side)
            host = time.perf_counter() - t
            ev.synchronize()
            row[f"load{load_s}"] = {"host_s": round(host, 3), "ready_s": round(time.perf_counter() - t, 3)}
            torch.cuda.synchronize()
        out[f"sessions{sessions}"] = row
    waited = any(out[f"sessions{n}"]["load1.5"]["host_s"] > 0.6 * load_measured for n in (7, 1))
    put("default_stream_wait", **out, decode_waits_for_default_stream=waited,
        note="host_s should stay far below the 1.5 s load: decoding runs on the caller's side stream and hands "
             "over with events, so prefetching overlaps the training step")


def race_check() -> None:
    from facevid_datasets.training.prefetch import CudaPrefetcher

    rate = _cycles_per_s()
    batches = _batches(12, seed=2)
    serial = _collator(1)
    ref = []
    for plans in batches:
        ref.append(serial(plans)["video"].cpu())
    t = time.perf_counter()
    got = []
    for batch in CudaPrefetcher(batches, _collator(7), depth=3):
        torch.cuda._sleep(int(rate * 0.03))  # the training step that reads the batch
        got.append(batch["video"].cpu())
    dt = time.perf_counter() - t
    bad = [i for i, (a, b) in enumerate(zip(ref, got, strict=True)) if not torch.equal(a, b)]
    worst = max(((a.float() - b.float()).abs().max().item() for a, b in zip(ref, got, strict=True)), default=0.0)
    put("race_check", batches=len(batches), mismatched_batches=bad, max_abs_diff=worst, seconds=round(dt, 2),
        note="decoding is deterministic: any mismatch points at a cross-stream reuse race")


def audio_paths() -> None:
    from facevid_datasets.training import AudioOptions, ClipDataset, VideoCollator

    rec = _record(PVFR)
    plans = [ClipDataset([rec], frames=8, seed=s)[0] for s in range(8)]
    cpu = VideoCollator(64, audio=AudioOptions(window=2))
    dev = VideoCollator(64, audio=AudioOptions(window=2), device=DEV)
    a = cpu(plans)
    b = dev(cpu.prepare(plans))  # the split path: audio read ahead (as DataLoader workers do), video on NVDEC
    put("audio_paths", clips=len(plans), audio_equal=bool(torch.equal(a["audio"], b["audio"].cpu())),
        windows_equal=bool(torch.equal(a["audio_windows"], b["audio_windows"].cpu())),
        masks_equal=bool(torch.equal(a["audio_frame_mask"], b["audio_frame_mask"].cpu())),
        video_mean_abs_diff=round((a["video"] - b["video"].cpu()).abs().mean().item(), 4))


def dry_collate() -> None:  # CPU stand-in for the CUDA-only sections: plans, collator, threads
    batches = _batches(2, seed=2)
    a = [_collator(1, "cpu")(b)["video"] for b in batches]
    b = [_collator(7, "cpu")(b)["video"] for b in batches]
    put("dry_collate", shape=list(a[0].shape), equal=all(torch.equal(x, y) for x, y in zip(a, b, strict=True)))


CUDA_ONLY = (collator_streams, default_stream_wait, race_check)
for fn in (reader_1080p, colour, fallback_demo, audio_paths, *((dry_collate,) if DRY else CUDA_ONLY)):
    section(fn)
print(f"[probe] done, results in {OUTJ}", flush=True)
