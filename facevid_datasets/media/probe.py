"""Probe a media file's streams in-process (PyAV): headers and the container's packet index, never a
full decode. `probe_ffprobe` is the former subprocess path, kept as a reference for the benchmark.

Release scale: a bare 270,043-file release costs ~97 ms per file through ffprobe subprocesses and
a few ms in-process (`benchmarks/bench_build_scale.py`). A header can lie: a file cut short by an
interrupted copy keeps an index (MP4 `moov` at the front) that lists every frame. The probe checks
the index against the file: samples that lie past the end of the file are not counted, and for
containers without a full index (WebM/MKV) the packets after the last seek point are read to find
where the stream really ends. Such files get true counts plus a `warning`. Nothing is decoded,
except the first frame of a non-square video: PyAV exposes the display rotation (which swaps the
displayed width and height) only on decoded frames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MediaError
from .tools import run

_TIMEOUT_S = 60


@dataclass(frozen=True)
class VideoInfo:
    """What a file holds, as displayed (width and height after rotation)."""

    path: str
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    codec: str
    pixel_format: str | None
    rotation: int | None  # None: not read (square frames show the same size whatever the rotation)
    variable_frame_rate: bool
    has_audio: bool
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    #: Set when the header disagreed with the packets (truncated file): the counts are the packets'.
    warning: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _run_ffprobe(path: str, args: list[str]) -> dict:
    out = run("ffprobe", ["-v", "error", "-of", "json", *args, path], path, "not a readable media file", _TIMEOUT_S)
    return json.loads(out or "{}")


def _rate(text: str | None) -> float:
    if not text or text in ("0/0", "N/A"):
        return 0.0
    return float(Fraction(text))


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def probe_ffprobe(path: str | Path) -> VideoInfo:
    """Read stream headers of `path` with an ffprobe subprocess (the former probe; ~100 ms a file)."""
    path = str(path)
    if not Path(path).is_file():
        raise MediaError(path, "file not found")
    if Path(path).stat().st_size == 0:
        raise MediaError(path, "file is empty")
    data = _run_ffprobe(path, ["-show_streams", "-show_format"])
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise MediaError(path, "no video stream")
    fmt = data.get("format", {})
    avg = _rate(video.get("avg_frame_rate"))
    real = _rate(video.get("r_frame_rate"))
    duration = float(video.get("duration") or fmt.get("duration") or 0.0)
    fps = avg or real
    nb = video.get("nb_frames")
    if nb and str(nb).isdigit() and int(nb) > 0:
        num_frames = int(nb)
    else:
        # Containers without a frame count (webm, some mkv): count packets, which reads no pixels.
        num_frames = len(frame_timestamps(path))
    if not fps and duration:
        fps = num_frames / duration
    if num_frames == 0 or not fps:
        raise MediaError(path, "video stream has no frames")
    rotation = _rotation(video)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=float(fps),
        num_frames=num_frames,
        duration=duration or num_frames / fps,
        codec=str(video.get("codec_name")),
        pixel_format=video.get("pix_fmt"),
        rotation=rotation,
        variable_frame_rate=bool(avg and real and abs(avg - real) / real > 0.01),
        has_audio=audio is not None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
    )


@lru_cache(maxsize=4096)
def _timestamps_cached(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    data = _run_ffprobe(path, ["-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"])
    pts, key = [], []
    for p in data.get("packets", []):
        t = p.get("pts_time")
        if t in (None, "N/A"):
            continue
        pts.append(float(t))
        key.append("K" in p.get("flags", ""))
    order = np.argsort(pts, kind="stable")
    return np.asarray(pts, dtype=np.float64)[order], np.asarray(key, dtype=bool)[order]


def _stat_key(path: str | Path) -> tuple[str, int, int]:
    st = Path(path).stat()
    return str(path), st.st_size, st.st_mtime_ns


def frame_timestamps(path: str | Path) -> np.ndarray:
    """Presentation time (s) of every video frame, in display order, from the packet index."""
    return _timestamps_cached(*_stat_key(path))[0]


def keyframe_indices(path: str | Path) -> np.ndarray:
    """Display-order indices of the key frames (where a decoder can start)."""
    return np.flatnonzero(_timestamps_cached(*_stat_key(path))[1])


def _display_rotation(container, stream) -> int:
    """Rotation (0/90/180/270, as ffprobe reports it) a player applies, read from the first decoded frame."""
    try:
        stream.thread_type = "NONE"
        for frame in container.decode(stream):
            return int(round(float(getattr(frame, "rotation", 0) or 0))) % 360
    except Exception:  # noqa: BLE001 - an undecodable first frame is the decoder's problem, not the probe's
        return 0
    return 0


def _packet_end(container, stream) -> tuple[int, float]:
    """(packets, end time in s) of the video stream from its packets, demuxed without decoding."""
    n, end = 0, 0.0
    tb = float(stream.time_base)
    for pkt in container.demux(stream):
        if pkt.pts is None and pkt.dts is None:
            continue
        n += 1
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        end = max(end, (ts + (pkt.duration or 0)) * tb)
    return n, end


def _check_packets(path: str, container, stream, num_frames: int, fps: float, start: float) -> tuple[int, str | None]:
    """Frames the file really holds (vs the header's `num_frames`) and a warning when they differ."""
    size = os.path.getsize(path)
    entries = stream.index_entries
    if len(entries) >= num_frames > 0:  # full sample index (MP4/MOV): compare offsets with the file size
        last = entries[len(entries) - 1]
        if last.pos + last.size <= size:
            return num_frames, None
        inside = sum(1 for e in entries if e.pos + e.size <= size)
        if inside < len(entries):
            return inside, (f"truncated: the header lists {len(entries)} frames but the file ends after {inside} "
                            f"(frame count taken from the data)")  # fmt: skip
        return num_frames, None
    # No full index (WebM/MKV): read the packets after the last seek point.
    expect_end = start + num_frames / fps
    try:
        container.seek(int(max(0.0, expect_end - 10.0) / float(stream.time_base)), stream=stream, backward=True)
        _, end = _packet_end(container, stream)
    except Exception:  # noqa: BLE001 - an unseekable file is counted from the start below
        end = 0.0
    if end + 2.0 / fps >= expect_end:
        return num_frames, None
    container.seek(0, stream=stream, backward=True)
    n, end = _packet_end(container, stream)
    return n, f"truncated: the header claims {num_frames} frames but the packets end after {n} ({end:.2f} s)"


def probe(path: str | Path) -> VideoInfo:
    """Read stream headers of `path` in-process; raise MediaError naming the file if it has no video.

    Counts are checked against the file's packet index (see the module docstring); a file whose
    header disagrees gets the packets' counts and a `warning`.
    """
    import av

    path = str(path)
    if not Path(path).is_file():
        raise MediaError(path, "file not found")
    if Path(path).stat().st_size == 0:
        raise MediaError(path, "file is empty")
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise MediaError(path, f"not a readable media file ({e})") from None
    with container:
        video = next((s for s in container.streams if s.type == "video"), None)
        audio = next((s for s in container.streams if s.type == "audio"), None)
        if video is None:
            raise MediaError(path, "no video stream")
        ctx = video.codec_context
        avg = float(video.average_rate) if video.average_rate else 0.0
        real = float(video.base_rate) if video.base_rate else 0.0
        fps = avg or real or (float(video.guessed_rate) if video.guessed_rate else 0.0)
        tb = float(video.time_base) if video.time_base else 0.0
        duration = float(video.duration * tb) if video.duration and tb else 0.0
        if not duration and container.duration:
            duration = container.duration / 1_000_000
        start = float(video.start_time * tb) if video.start_time and tb else 0.0
        warning = None
        try:
            if video.frames and video.frames > 0 and fps:
                num_frames, warning = _check_packets(path, container, video, int(video.frames), fps, start)
            else:  # no frame count in the header (WebM, some MKV): count packets, no pixels decoded
                num_frames, end = _packet_end(container, video)
                if duration and fps and end and duration - (end - start) > 2.0 / fps:
                    warning = (f"truncated: the header gives {duration:.2f} s but the packets end after "
                               f"{end - start:.2f} s ({num_frames} frames)")  # fmt: skip
                    duration = end - start
                duration = duration or end - start
        except av.FFmpegError as e:
            raise MediaError(path, f"packets unreadable ({e})") from None
        if not fps and duration:
            fps = num_frames / duration
        if num_frames == 0 or not fps:
            raise MediaError(path, "video stream has no frames")
        if warning:
            duration = num_frames / fps
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        # Only a non-square frame looks different turned a quarter: a square one (every DH-FaceVid-1K
        # clip) is not decoded at all, and its rotation is left unread (None).
        rotation = None
        if width != height:
            try:
                container.seek(0, stream=video, backward=True)
            except av.FFmpegError:
                pass  # the first frame then comes from wherever the packet checks stopped
            rotation = _display_rotation(container, video)
        if rotation in (90, 270):
            width, height = height, width
        actx = audio.codec_context if audio is not None else None
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            fps=float(fps),
            num_frames=int(num_frames),
            duration=float(duration or num_frames / fps),
            codec=str(ctx.name),
            pixel_format=ctx.format.name if ctx.format is not None else None,
            rotation=rotation,
            variable_frame_rate=bool(avg and real and abs(avg - real) / real > 0.01),
            has_audio=audio is not None,
            audio_codec=actx.name if actx is not None else None,
            audio_sample_rate=int(actx.sample_rate) if actx is not None and actx.sample_rate else None,
            audio_channels=int(actx.channels) if actx is not None and actx.channels else None,
            warning=warning,
        )


def _probe_or_reason(path: str) -> VideoInfo | str:
    try:
        return probe(path)
    except MediaError as e:
        return e.reason
    except Exception as e:  # noqa: BLE001 - one odd file must not stop a release-wide probe
        return f"probe failed ({type(e).__name__}: {e})"


def probe_many(paths: Iterable[str | Path], cache, *, workers: int = 1, chunksize: int = 64) -> int:
    """Probe every file of `paths` that `cache` (a ProbeCache) lacks, `workers` processes in parallel.

    Results (and failure reasons) go into the cache; returns how many files were probed.
    """
    todo: list[tuple[str, int, int]] = []
    for p in paths:
        p = str(p)
        try:
            st = os.stat(p)
        except OSError:
            continue  # reported when the record is made
        key = (p, st.st_size, st.st_mtime_ns)
        if cache.lookup(key) is None:
            todo.append(key)
    if not todo:
        return 0
    names = [k[0] for k in todo]
    if workers <= 1 or len(todo) < 2 * chunksize:
        results: Iterable[VideoInfo | str] = map(_probe_or_reason, names)
        pool = None
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"))
        results = pool.map(_probe_or_reason, names, chunksize=chunksize)
    try:
        from tqdm.auto import tqdm

        for key, hit in tqdm(zip(todo, results, strict=True), total=len(todo), desc="probing videos", unit="file",
                             disable=len(todo) < 1000):  # fmt: skip
            cache.put(key, hit)
            cache.probes += 1
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return len(todo)
