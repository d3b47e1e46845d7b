"""Training-friendly copies: re-encode clips with a short keyframe interval at the training size.

A random 16-frame clip costs every frame from the keyframe before it: with the ~250-frame GOP of
typical downloads that is ~140 decoded frames per clip, with `gop=16` at most 31. Storing at the
trainer's size (short side `short_side`) also divides the pixels decoded per frame. Records keep
their labels, with width, height and keypoints rescaled to the copy.

Copies are made in parallel (`workers` FFmpeg processes, each with its share of the cores; or
Ray tasks with `ray_address`), with a progress bar, and a killed run resumes: each copy is written
to a temporary name, renamed into place, then marked done (`<copy>.done.json`, which also records
its encode time), so only finished copies are reused. The returned `CopyReport` gives the encode
cost per hour of video.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MediaError
from ..licence.ledger import CopyKind, record_copies
from ..media import run_ffmpeg

logger = logging.getLogger(__name__)


def copy_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """Even (w, h) with the short side at `short_side` (never upscaled), aspect kept."""
    if not short_side or min(width, height) <= short_side:
        w, h = width, height
    else:
        s = short_side / min(width, height)
        w, h = width * s, height * s
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


def encode_training_copy(
    src: str | Path, dst: str | Path, *, size: tuple[int, int] | None = None, gop: int = 16, crf: int = 20,
    fastdecode: bool = True, audio: bool = True, threads: int = 0,
) -> Path:
    """Re-encode `src` to H.264 with a fixed `gop` (no B-frames, optional `-tune fastdecode`);
    `threads` caps x264's threads (0: FFmpeg decides)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    args = ["-i", str(src)]
    if size is not None:
        args += ["-vf", f"scale={size[0]}:{size[1]}:flags=area"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
             "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0"]
    if threads:
        args += ["-threads", str(threads)]
    if fastdecode:
        args += ["-tune", "fastdecode"]
    args += ["-c:a", "aac", "-b:a", "128k", "-ar", "16000", "-ac", "1"] if audio else ["-an"]
    args += ["-movflags", "+faststart", "-f", "mp4", str(dst)]
    run_ffmpeg(args, src)
    return dst


@dataclass
class CopyJob:
    """One copy to make: where from, where to, and how."""

    src: str
    dst: str
    size: tuple[int, int]
    gop: int
    fastdecode: bool
    audio: bool
    seconds: float  # duration of the clip (for the cost per hour)
    threads: int = 0

    @property
    def marker(self) -> Path:
        return Path(self.dst).with_suffix(".done.json")

    def is_done(self) -> bool:
        """True when a finished copy of this exact source state is in place."""
        try:
            done = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return False
        return Path(self.dst).exists() and done.get("source") == _source_state(self.src)


def _source_state(src: str) -> dict[str, Any]:
    st = os.stat(src)
    return {"path": str(Path(src).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def run_copy_job(job: CopyJob) -> float:
    """Encode one copy: temporary name, atomic rename, then the done marker; returns encode seconds."""
    dst = Path(job.dst)
    tmp = dst.with_name(f"{dst.stem}.{os.getpid()}-{time.monotonic_ns()}.part.mp4")
    t = time.perf_counter()
    try:
        encode_training_copy(job.src, tmp, size=job.size, gop=job.gop, fastdecode=job.fastdecode, audio=job.audio,
                             threads=job.threads)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - t
    marker_tmp = job.marker.with_name(job.marker.name + ".tmp")
    marker_tmp.write_text(json.dumps({"source": _source_state(job.src), "encode_seconds": seconds,
                                      "video_seconds": job.seconds, "size": job.size, "gop": job.gop}))
    os.replace(marker_tmp, job.marker)
    return seconds


@dataclass
class CopyReport:
    """What a `training_copies` run did and what encoding cost."""

    copied: int = 0
    reused: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source file, reason): kept the original
    video_seconds: float = 0.0  # seconds of video encoded in this run
    encode_seconds: float = 0.0  # sum of per-copy encode wall time
    wall_seconds: float = 0.0  # the whole run
    cpu_seconds: float = 0.0  # FFmpeg CPU time (local runs)
    workers: int = 1

    def per_hour(self) -> dict[str, float]:
        """Seconds of encode per hour of video: per FFmpeg process, wall for this run, CPU."""
        hours = self.video_seconds / 3600
        if not hours:
            return {}
        return {"encode_s_per_video_hour": self.encode_seconds / hours,
                "wall_s_per_video_hour": self.wall_seconds / hours, "cpu_s_per_video_hour": self.cpu_seconds / hours}

    def summary(self) -> str:
        parts = [f"{self.copied} copied, {self.reused} reused (done before), "
                 f"{len(self.failed)} failed (originals kept)"]
        cost = self.per_hour()
        if cost:
            parts.append(f"encode cost per hour of video: {cost['wall_s_per_video_hour'] / 60:.1f} min wall with "
                         f"{self.workers} processes, {cost['cpu_s_per_video_hour'] / 60:.1f} CPU-min")
        parts += [f"  failed: {src}: {reason}" for src, reason in self.failed[:10]]
        return "\n".join(parts)


def _scale_keypoints(kp: dict[str, Any] | None, sx: float, sy: float) -> dict[str, Any] | None:
    if not kp or kp.get("points") is None:
        return kp
    pts = [[[p[0] * sx, p[1] * sy, p[2]] for p in frame] for frame in kp["points"]]
    return {**kp, "points": pts}


def _plan_job(rec: dict[str, Any], out_dir: Path, short_side: int | None, gop: int,
              fastdecode: bool) -> tuple[CopyJob, float, float] | None:
    video = rec.get("video") or {}
    src = video.get("path") if isinstance(video, dict) else video
    if not src or not Path(src).exists():
        return None
    w, h = int(rec.get("width") or 0), int(rec.get("height") or 0)
    seconds = float(rec.get("duration") or 0.0)
    if not (w and h and seconds):
        from ..media import probe

        info = probe(src)
        w, h, seconds = info.width, info.height, info.duration
    size = copy_size(w, h, short_side)
    key = hashlib.sha1(f"{Path(src).resolve()}|{size}|{gop}|{fastdecode}".encode()).hexdigest()[:12]
    dst = out_dir / f"{Path(src).stem}-{key}.mp4"
    job = CopyJob(str(src), str(dst), size, gop, fastdecode, rec.get("audio_source", "video") == "video", seconds)
    return job, size[0] / w, size[1] / h


def _remove_stale_parts(out_dir: Path) -> None:
    """Delete temporary copies left by killed local runs (their writing process is gone)."""
    for part in out_dir.glob("*.part.mp4"):
        try:
            pid = int(part.name.rsplit(".", 3)[-3].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError):
            continue


def _run_local(jobs: list[CopyJob], workers: int, on_done: Any) -> None:
    with ThreadPoolExecutor(workers, thread_name_prefix="facevid-copy") as pool:  # each job is an FFmpeg process
        futures = {pool.submit(run_copy_job, j): j for j in jobs}
        for fut in as_completed(futures):
            on_done(futures[fut], fut)


def _run_ray(jobs: list[CopyJob], address: str, on_done: Any) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(num_cpus=1)(run_copy_job)
    refs = {task.remote(j): j for j in jobs}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        on_done(refs[ready[0]], _RayResult(ready[0]))


@dataclass
class _RayResult:
    """A finished Ray task with the `result()` of a concurrent.futures.Future."""

    ref: Any

    def result(self) -> float:
        import ray

        return ray.get(self.ref)


def training_copies(
    data: Any, out_dir: str | Path, *, short_side: int | None = 512, gop: int = 16, workers: int | None = None,
    fastdecode: bool = True, progress: bool = True, ray_address: str | None = None, num_threads: int | None = None,
    report: CopyReport | None = None,
) -> Any:
    """Records of `data` pointing at short-GOP copies in `out_dir` (made once; finished ones reused).

    Returns the same kind it gets (a `datasets.Dataset` or a list of records). `workers` FFmpeg
    processes run at once (default: all cores, each encoder then capped to its share of threads);
    `ray_address` ("local", "auto" or "ray://...") runs them as Ray tasks on a cluster that sees the
    same files. A clip whose copy fails keeps its original file and is listed in `report.failed`.
    `num_threads` is the former name of `workers`.
    """
    import datasets
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    is_hf = isinstance(data, datasets.Dataset)
    records = list(data)
    cores = os.cpu_count() or 1
    workers = max(1, workers or num_threads or cores)
    report = report if report is not None else CopyReport()
    report.workers = workers
    if not ray_address:
        _remove_stale_parts(out_dir)
    planned = [_plan_job(r, out_dir, short_side, gop, fastdecode) for r in records]
    todo: list[CopyJob] = []
    for p in planned:
        if p is None:
            continue
        job = p[0]
        job.threads = max(1, cores // workers) if not ray_address else 0
        if job.is_done():
            report.reused += 1
        elif job.dst not in {j.dst for j in todo}:
            todo.append(job)
    ok: set[str] = {p[0].dst for p in planned if p is not None and p[0].is_done()}
    bar = tqdm(total=len(todo), desc="training copies", unit="clip", disable=not progress or not todo)

    def on_done(job: CopyJob, fut: Any) -> None:
        try:
            report.encode_seconds += fut.result()
            report.video_seconds += job.seconds
            report.copied += 1
            ok.add(job.dst)
        except (MediaError, OSError) as e:
            reason = e.reason if isinstance(e, MediaError) else str(e)
            logger.warning("training copy of %s failed, keeping the original: %s", job.src, reason)
            report.failed.append((job.src, reason))
        bar.update(1)

    t0, kids0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        if ray_address:
            _run_ray(todo, ray_address, on_done)
        else:
            _run_local(todo, workers, on_done)
    finally:
        bar.close()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        report.wall_seconds += time.perf_counter() - t0
        report.cpu_seconds += (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    converted = []
    for rec, p in zip(records, planned, strict=True):
        if p is None or p[0].dst not in ok:
            converted.append(rec)
            continue
        job, sx, sy = p
        converted.append({**rec, "video": {"path": job.dst, "bytes": None}, "width": job.size[0],
                          "height": job.size[1], "keypoints": _scale_keypoints(rec.get("keypoints"), sx, sy)})
    record_copies(CopyKind.TRAINING_COPY, [(f, [str(r.get("clip_id"))]) for r, p in zip(records, planned, strict=True)
                                           if p is not None and p[0].dst in ok for f in (p[0].dst, p[0].marker)])
    if report.copied or report.failed:
        logger.info("training copies: %s", report.summary())
    return datasets.Dataset.from_list(converted, features=data.features) if is_hf else converted
