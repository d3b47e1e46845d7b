"""Run a curation: measure clips in parallel (resumable), decide, write the curated folder.

The folder `curate()` writes:

    decisions.parquet   one row per input clip and per segment: every measured value, the
                        decision (keep / drop / split), the first failing stage and the reason
    records.jsonl       kept clips as FEATURES records (keypoint arrays kept in keypoints/)
    keypoints/          <clip_id>.npy, (frames, points, 3) x, y, confidence of each kept clip
    clips/              segments cut out of split clips (kept ones only)
    measurements/       the cache: one .npz per input clip, keyed by clip id, file size and
                        mtime, and the measurement settings; thresholds are not part of the key
    summary.json        counts, thresholds, settings and time per stage

A killed run resumes where it stopped: finished clips are in the cache, and a re-run with other
thresholds re-decides from the cache without decoding anything.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import AnnotationError, CacheError
from ..licence.ledger import CopyKind, record_copy
from ..media.ffmpeg import cut_clip, run_ffmpeg
from ..media.probe import probe
from ..raw.layout import VIDEO_EXTENSIONS
from ..schema import FEATURES, empty_record
from .decisions import Thresholds, decide_clip, summarize
from .measure import ClipInput, MeasureConfig, cache_key, measure_clip
from .measurements import MeasurementStore

ResultCallback = Callable[[str], None]


@dataclass
class CurationResult:
    """What a run did: where its output is, the summary counts, and how much was measured."""

    out: Path
    summary: dict[str, Any]
    measured: int
    reused: int
    seconds: float
    stage_seconds: dict[str, float]

    @property
    def decisions_path(self) -> Path:
        return self.out / "decisions.parquet"


def _init_worker(parent: int | None = None) -> None:
    """A watchdog that ends the worker within a second of its parent's death (`kill -9` of
    `facevid curate` must leave no orphan measuring on; on Linux the kernel's parent-death signal
    too), then one thread per library in each worker (the pool supplies the parallelism)."""
    if parent is not None:
        _die_with_parent()
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watchdog").start()
    import cv2
    import torch
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy's BLAS too


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (prctl PR_SET_PDEATHSIG); no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # the watchdog thread still covers it


def _exit_with_parent(parent: int, every: float = 0.5) -> None:
    """Poll the parent pid; when the worker has been re-parented (the parent died), exit at once."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def run_local(
    clips: list[ClipInput],
    config: MeasureConfig,
    store: MeasurementStore,
    keys: dict[str, str],
    workers: int | None = None,
    on_result: ResultCallback | None = None,
    progress: bool = True,
) -> None:
    """Measure `clips` in a process pool (`workers` processes; 1 runs in this process), storing
    each result in `store` as soon as it arrives."""
    from tqdm.auto import tqdm

    workers = max(1, workers or os.cpu_count() or 1)
    bar = tqdm(total=len(clips), desc="measuring", unit="clip", disable=not progress)

    def done(clip_id: str, payload: bytes) -> None:
        store.save(keys[clip_id], payload)
        bar.update(1)
        if on_result is not None:
            on_result(clip_id)

    try:
        if workers == 1 or len(clips) <= 1:
            for clip in clips:
                done(clip.clip_id, measure_clip(clip, config))
            return
        ctx = mp.get_context("spawn")  # forking a process that holds torch/dlib threads can hang
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                    initargs=(os.getpid(),)) as pool:  # fmt: skip
            pending: dict[cf.Future, str] = {}
            it = iter(clips)
            try:
                for clip in islice(it, 2 * workers):
                    pending[pool.submit(measure_clip, clip, config)] = clip.clip_id
                while pending:
                    finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in finished:
                        done(pending.pop(fut), fut.result())
                        nxt = next(it, None)
                        if nxt is not None:
                            pending[pool.submit(measure_clip, nxt, config)] = nxt.clip_id
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        bar.close()


def as_clip_inputs(inputs: Iterable[Any], limit: int | None = None) -> list[ClipInput]:
    """Records or paths as ClipInputs; a clip id seen twice is an AnnotationError naming both files
    (the cache, the cut clips and the records are keyed by clip id)."""
    clips = [ClipInput.from_item(x) for x in islice(inputs, limit)]
    seen: dict[str, ClipInput] = {}
    for c in clips:
        if c.clip_id in seen:
            raise AnnotationError(c.video, None, f"clip id {c.clip_id!r} appears twice in the input (also "
                                  f"{seen[c.clip_id].video}); rename one of the files")  # fmt: skip
        seen[c.clip_id] = c
    return clips


#: Files only a curated folder holds together: a folder with them is this package's output, and is
#: never listed as input (its `clips/` hold cut segments of clips already curated).
CURATED_MARKERS = ("decisions.parquet", "summary.json")
#: The folders `curate()` writes inside its output folder.
OUTPUT_SUBDIRS = ("clips", "keypoints", "measurements")


def is_curated_folder(path: str | Path) -> bool:
    """Whether `path` is a folder `curate()` wrote (it holds `decisions.parquet` and `summary.json`)."""
    return all((Path(path) / name).is_file() for name in CURATED_MARKERS)


@dataclass(frozen=True)
class VideoListing:
    """The video files under an input folder, and the folders left out because this package wrote them."""

    videos: list[Path]
    skipped: list[Path]


def list_videos(folder: str | Path, out: str | Path | None = None) -> VideoListing:
    """Video files under `folder` (any depth, hidden names skipped), sorted, leaving out what this
    package wrote: the output folder `out` and every curated folder (`is_curated_folder`) below
    `folder`, and the output subfolders (`OUTPUT_SUBDIRS`) when `folder` itself is one. So a second
    `facevid curate in/ --out in/curated` does not read the first run's cut segments as input."""
    out_real = os.path.realpath(out) if out is not None else None
    videos: list[Path] = []
    skipped: list[Path] = []
    for d, dirs, files in os.walk(folder):
        ours = os.path.realpath(d) == out_real or is_curated_folder(d)
        keep = []
        for name in sorted(dirs):
            sub = Path(d) / name
            if name.startswith("."):
                continue
            if (ours and name in OUTPUT_SUBDIRS) or os.path.realpath(sub) == out_real or is_curated_folder(sub):
                skipped.append(sub)
                continue
            keep.append(name)
        dirs[:] = keep
        videos += [Path(d) / f for f in files if Path(f).suffix.lower() in VIDEO_EXTENSIONS and not f.startswith(".")]
    return VideoListing(sorted(videos), skipped)


def is_inside(path: str | Path, folder: str | Path) -> bool:
    """Whether `path` is `folder` or lies under it (symlinks resolved)."""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def _refuse_own_output(clips: list[ClipInput], out: Path) -> None:
    """An input file inside the output folder's own subfolders (`OUTPUT_SUBDIRS`: cut segments) is
    the curation's output read back: an error naming the file, before anything is written."""
    for c in clips:
        for path in (c.video, c.audio):
            if path and any(is_inside(path, out / d) for d in OUTPUT_SUBDIRS):
                raise AnnotationError(path, None, f"lies inside the output folder {out}: a curation's output is "
                                      "not read back as its input; list the inputs without it")  # fmt: skip


def _make_out(out: Path) -> None:
    """Create the output folder; a path that is a file, or cannot be created, is one clear error."""
    if out.exists() and not out.is_dir():
        raise CacheError(f"{out}: --out must be a folder, and this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "measurements").mkdir(exist_ok=True)
    except OSError as e:
        raise CacheError(f"{out}: cannot create the output folder ({e.strerror or e})") from None


def curate(
    inputs: Iterable[Any],
    out: str | Path,
    *,
    thresholds: Thresholds | None = None,
    config: MeasureConfig | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    on_result: ResultCallback | None = None,
) -> CurationResult:
    """Curate `inputs` (FEATURES records or video paths) into `out`; see the module docstring.

    `workers` processes measure clips on this machine (default: all cores); with `ray_address`
    ("auto", "ray://host:10001", or "local" for a new local instance) Ray Data runs the same
    per-clip function on a cluster. `on_result(clip_id)` is called after each clip is stored.
    """
    t0 = time.perf_counter()
    out = Path(out)
    thresholds = thresholds or Thresholds()
    config = config or MeasureConfig()
    config.check_models()  # a plugin that cannot load ends the run here, before the outputs are touched
    clips = as_clip_inputs(inputs, limit)
    _refuse_own_output(clips, out)
    _make_out(out)
    store = MeasurementStore(out / "measurements")
    keys = {c.clip_id: cache_key(c, config) for c in clips}
    todo = [c for c in clips if not store.has(keys[c.clip_id])]
    if todo:
        if ray_address:
            from .ray_runner import run_ray

            run_ray(todo, config, store, keys, ray_address, on_result=on_result, progress=progress)
        else:
            run_local(todo, config, store, keys, workers, on_result=on_result, progress=progress)
    summary, stage_seconds = finalize(out, clips, keys, store, thresholds, config, workers=workers)
    result = CurationResult(
        out=out,
        summary=summary,
        measured=len(todo),
        reused=len(clips) - len(todo),
        seconds=time.perf_counter() - t0,
        stage_seconds=stage_seconds,
    )
    return result


def curate_dataset(
    name: str,
    out: str | Path,
    *,
    data_dir: str | None = None,
    config_name: str | None = None,
    split: str | None = None,
    **kwargs: Any,
) -> CurationResult:
    """Curate a dataset this package builds (every split unless `split` is given)."""
    from ..loading import load_dataset

    ds = load_dataset(name, config_name, data_dir=data_dir, split=split)
    parts = [ds] if split is not None else list(ds.values())
    records = (rec for part in parts for rec in part)
    return curate(records, out, **kwargs)


# -- decisions and outputs ---------------------------------------------------------------------------


def finalize(
    out: Path,
    clips: list[ClipInput],
    keys: dict[str, str],
    store: MeasurementStore,
    thresholds: Thresholds,
    config: MeasureConfig,
    workers: int | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Decide every clip from the cache and write decisions, kept records, keypoints and cut clips."""
    rows: list[dict[str, Any]] = []
    kept: list[tuple[ClipInput, dict[str, Any], str]] = []
    stage_seconds: dict[str, float] = {}
    for clip in clips:
        key = keys[clip.clip_id]
        meta, _ = store.load(key)
        for stage, sec in (meta.get("timings") or {}).items():
            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + sec
        meta["clip"]["clip_id"] = clip.clip_id
        for row in decide_clip(meta, thresholds):
            row["measurement"] = f"measurements/{key}.npz"
            rows.append(row)
            if row["decision"] == "keep":
                kept.append((clip, row, key))
    for d in ("clips", "keypoints"):
        (out / d).mkdir(exist_ok=True)
    records = _kept_records(out, kept, store, workers)
    _remove_stale(out, {r["clip_id"] for r in records})
    pq.write_table(decisions_table(rows), out / "decisions.parquet")
    tmp = out / "records.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(tmp, out / "records.jsonl")
    summary = summarize(rows)
    info = {
        **summary,
        "thresholds": dataclasses.asdict(thresholds),
        "measure_config": dataclasses.asdict(config),
        "stage_seconds": stage_seconds,
    }
    (out / "summary.json").write_text(json.dumps(info, indent=2))
    record_copy(CopyKind.CURATION, out, [r["clip_id"] for r in rows])  # the folder, for `facevid forget`
    return summary, stage_seconds


def decisions_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as one Arrow table with every column any row has (a row lacking one gets null):
    a failed or split first clip must not decide which measured columns survive."""
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])


def _kept_records(
    out: Path, kept: list[tuple[ClipInput, dict[str, Any], str]], store: MeasurementStore, workers: int | None
) -> list[dict[str, Any]]:
    """FEATURES records of kept rows (segments cut first, in a thread pool: ffmpeg does the work)."""
    with cf.ThreadPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda k: _kept_record(out, *k, store), kept))


def _kept_record(out: Path, clip: ClipInput, row: dict[str, Any], key: str, store: MeasurementStore) -> dict[str, Any]:
    meta, arrays = store.load(key)
    rec = {**empty_record(), **(clip.record or {})}
    rec = {k: rec[k] for k in FEATURES}
    a, b = int(row["start_frame"]), int(row["end_frame"])
    fps = float(row["fps"])
    width, height, num_frames = int(row["width"]), int(row["height"]), b - a
    if row["kind"] == "segment":
        dst = out / "clips" / f"{file_stem(row['clip_id'])}.mp4"
        if not dst.is_file():
            tmp = dst.with_suffix(".part.mp4")
            cut_clip(clip.video, tmp, start_frame=a, end_frame=b, keep_audio=bool(row["has_audio"]) and not clip.audio)
            os.replace(tmp, dst)
        info = probe(dst)
        width, height, num_frames = info.width, info.height, info.num_frames
        rec["clip_id"] = row["clip_id"]
        rec["video"] = {"path": str(dst.resolve()), "bytes": None}
        if clip.audio:
            adst = out / "clips" / f"{file_stem(row['clip_id'])}.m4a"
            if not adst.is_file():
                tmp = adst.with_suffix(".part.m4a")
                span = f"atrim=start={a / fps:.6f}:end={b / fps:.6f},asetpts=PTS-STARTPTS"  # the frames' span
                run_ffmpeg(["-i", clip.audio, "-vn", "-af", span, "-c:a", "aac", str(tmp)], clip.audio)
                os.replace(tmp, adst)
            rec["audio"] = {"path": str(adst.resolve()), "bytes": None}
    else:
        rec["video"] = {"path": clip.video, "bytes": None}
    rec.update(fps=fps, num_frames=num_frames, duration=num_frames / fps, width=width, height=height)
    kp = _fit_frames(np.nan_to_num(arrays["keypoints"][a:b], nan=0.0), num_frames)
    np.save(out / "keypoints" / f"{file_stem(rec['clip_id'])}.npy", kp.astype(np.float32))
    rec["keypoints"] = {"format": meta["clip"].get("keypoints_format"), "points": None}
    pose = arrays["pose"][a:b]
    rec["head_pose"] = {
        "label": row["head_pose"],
        **{name: [None if not np.isfinite(v) else round(float(v), 2) for v in pose[:, j]] for j, name in
           enumerate(("yaw", "pitch", "roll"))},
    }  # fmt: skip
    rec["quality"] = {
        "brisque": row.get("brisque"),
        "sync_confidence": row.get("sync_confidence"),
        "sync_offset": row.get("sync_offset"),
        "face_size": row.get("face_size"),
    }
    return rec


def _fit_frames(kp: np.ndarray, n: int) -> np.ndarray:
    """Keypoints padded (confidence 0) or cut to the `n` frames the stored clip really has."""
    if len(kp) >= n:
        return kp[:n]
    pad = np.zeros((n - len(kp), *kp.shape[1:]), dtype=kp.dtype)
    return np.concatenate([kp, pad])


def _remove_stale(out: Path, kept_ids: set[str]) -> None:
    """Drop cut clips and keypoint files of clips a previous run kept and this one does not."""
    wanted = {f"{file_stem(c)}{ext}" for c in kept_ids for ext in (".mp4", ".m4a", ".npy")}
    for d in ("clips", "keypoints"):
        for p in (out / d).iterdir():
            if p.name not in wanted and p.is_file():
                p.unlink()


def file_stem(clip_id: str) -> str:
    """A file name for `clip_id`: itself when safe, else a sanitised form plus a short hash."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in clip_id)
    if safe == clip_id and not clip_id.startswith("."):
        return clip_id
    return f"{safe[:80]}-{hashlib.sha1(clip_id.encode()).hexdigest()[:8]}"


def cleaned_records(curated_dir: str | Path) -> Iterator[dict[str, Any]]:
    """FEATURES records of the clips a curation kept (keypoints joined back from keypoints/)."""
    root = Path(curated_dir)
    path = root / "records.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a curated folder (run `facevid curate` first)")
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            kp = root / "keypoints" / f"{file_stem(rec['clip_id'])}.npy"
            if rec.get("keypoints") and kp.is_file():
                rec["keypoints"]["points"] = np.load(kp).tolist()
            yield rec


def read_decisions(curated_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a curated folder's decisions.parquet as dicts."""
    return pq.read_table(Path(curated_dir) / "decisions.parquet").to_pylist()
