"""Measure one clip: every stage's value for every segment, in one decoding pass.

`measure_clip` is the unit of work the local process pool and Ray both run; it returns bytes
(a compressed `.npz` holding a JSON summary and the per-frame arrays, `measurements.py`) that the
driver stores in the measurement cache, so workers need no shared filesystem for their output.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..media.decode import AUDIO_SAMPLE_RATE, TorchcodecReader, decode_audio
from ..schema import empty_record
from .measurements import encode_timed
from .models import DEFAULT_MODELS, MODEL_KINDS, ModelLoadError, load_model, model_factory
from .signals import Face, smooth_angles
from .stages import (
    SceneCuts,
    Segment,
    black_border,
    count_text_chars,
    detail_ratio,
    face_size,
    plan_segments,
    sample_indices,
    subtitle_text,
)

#: Bump when a measurement changes meaning: cached measurements of other versions are not reused.
MEASURE_VERSION = 6


@dataclass
class MeasureConfig:
    """How clips are measured; any change here invalidates the cache (thresholds do not).

    detect_every: run the face detector on the first frame of every shot and every n-th frame after
        it; landmarks are computed on every frame from the latest detection box.
    detect_max_side: frames are shrunk to this longer side for face detection only (0: never), so
        1080p costs what 720p does; faces under about 80 px at that scale are not found.
    scene_threshold / min_scene_frames: PySceneDetect ContentDetector settings. Its default
        threshold 27 split 3 of the 33 real calibration clips at jump cuts (same person and
        background, a jump in zoom) that the DH-FaceVid-1K authors kept; 45 splits none of them
        and still finds every spliced cut between two clips.
    max_segment_seconds: longest segment; longer shots are split into equal pieces (papers: 30 s).
    sample_frames: frames per segment for borders, subtitles, quality and head pose (papers: 5).
    subtitle_region: lower fraction of the frame searched for subtitles.
    border_luma: brightest value (0-255) a pixel of a black border may have.
    pose_smooth: head-pose angles are a running median over +-this many frames before the sampled
        frames are classified (one frame where the solver flips does not make a label).
    """

    models: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    detect_every: int = 5
    detect_max_side: int = 720
    scene_threshold: float = 45.0
    min_scene_frames: int = 15
    max_segment_seconds: float = 30.0
    sample_frames: int = 5
    subtitle_region: float = 0.4
    border_luma: float = 24.0
    pose_smooth: int = 4
    chunk_frames: int = 32

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(MODEL_KINDS)
        if unknown:
            raise ModelLoadError(f"unknown model kind(s) {sorted(unknown)}; kinds are {MODEL_KINDS}")
        self.models = {**DEFAULT_MODELS, **self.models}

    def check_models(self) -> None:
        """Resolve every model spec (import a plugin's module, find its factory) without building
        the models: a `ModelLoadError` naming the first that cannot load, before any work starts."""
        for kind, spec in self.models.items():
            model_factory(kind, spec)

    def fingerprint(self) -> str:
        """Hash of every setting that changes a measurement (chunk size does not)."""
        d = dataclasses.asdict(self)
        d.pop("chunk_frames")
        d["version"] = MEASURE_VERSION
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class ClipInput:
    """One clip to curate: its id, video file, optional separate audio file, and its record."""

    clip_id: str
    video: str
    audio: str | None = None
    record: dict[str, Any] | None = None

    @classmethod
    def from_item(cls, item: Any) -> ClipInput:
        """From a video path or a FEATURES record (`video` as a path or {"path", "bytes"})."""
        if isinstance(item, ClipInput):
            return item
        if isinstance(item, str | os.PathLike):
            path = os.path.abspath(item)
            rec = empty_record()
            rec.update(clip_id=Path(path).stem, video={"path": path, "bytes": None}, audio_source="video")
            return cls(Path(path).stem, path, None, rec)
        if isinstance(item, dict):
            if not item.get("clip_id"):
                raise ValueError(f"record without clip_id: {str(item)[:200]}")
            video = item.get("video")
            path = video.get("path") if isinstance(video, dict) else video
            audio = item.get("audio")
            audio_path = audio.get("path") if isinstance(audio, dict) else audio
            if item.get("audio_source") != "file":
                audio_path = None
            return cls(str(item["clip_id"]), str(path or ""), audio_path, dict(item))
        raise TypeError(f"cannot curate {type(item).__name__}: give a video path or a record dict")


def cache_key(clip: ClipInput, config: MeasureConfig) -> str:
    """Cache file stem: the clip id plus a hash of the files' identity (path, size, mtime) and config."""
    ident: list[Any] = [clip.clip_id, config.fingerprint()]
    for p in (clip.video, clip.audio):
        if p:
            try:
                st = os.stat(p)
                ident += [os.path.abspath(p), st.st_size, st.st_mtime_ns]
            except OSError:
                ident += [os.path.abspath(p), "missing"]
    digest = hashlib.sha1(json.dumps(ident).encode()).hexdigest()[:16]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip.clip_id)[:80]
    return f"{safe}-{digest}"


# -- measuring -----------------------------------------------------------------------------------------


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t


def measure_clip(clip: ClipInput, config: MeasureConfig) -> bytes:
    """Measure every stage on every segment of `clip`; failures become an `error` in the result."""
    timer = _Timer()
    start = time.perf_counter()
    try:
        if not clip.video:
            raise ValueError(f"{clip.clip_id}: record has no video path")
        meta, arrays = _measure(clip, config, timer)
    except ModelLoadError:
        raise  # no clip can be measured: the run ends, nothing is recorded against the clip
    except Exception as e:  # any failure is recorded against the clip; the run carries on
        msg = str(e).strip() if clip.video and clip.video in str(e) else f"{clip.video}: {e}".strip()
        meta = {"clip": {"clip_id": clip.clip_id, "path": clip.video, "error": msg}, "segments": []}
        arrays = {}
    written = time.perf_counter()

    def finish() -> dict[str, Any]:
        timer.seconds["payload"] = time.perf_counter() - written
        timer.seconds["total"] = time.perf_counter() - start
        meta["timings"] = dict(timer.seconds)
        meta["config"] = config.fingerprint()
        return meta

    return encode_timed(arrays, finish)


def _measure(clip: ClipInput, config: MeasureConfig, timer: _Timer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One decoding pass: scene cuts, faces and the sample frames' stages as the frames go by.
    Segments are planned from the cuts found so far; a cut found later re-plans them, and the few
    frames that changes (the sample frames of the shot it ends) are decoded again after the loop."""
    with timer("load_models"):
        m = {kind: load_model(kind, spec) for kind, spec in config.models.items()}
    with timer("decode"):
        reader = TorchcodecReader(clip.video)  # fails first, with a MediaError naming the file
    n, fps = reader.num_frames, reader.fps
    if n <= 0 or fps <= 0:
        raise ValueError(f"{clip.video}: no decodable frames")
    frames = FrameMeasures(n, m, config, timer)
    scenes = SceneCuts(fps, config.scene_threshold, config.min_scene_frames)
    cuts: list[int] = []
    samples = _samples(n, fps, cuts, config)

    def add_cuts(new: list[int], i: int) -> None:
        """Cuts found at frame `i`: re-plan; a cut before `i` (the detector's flash filter names
        one late) has its shot's frames up to `i` decoded again for their faces."""
        nonlocal samples
        cuts[:] = sorted({*cuts, *new})
        samples = _samples(n, fps, cuts, config)
        first = min(new)
        if first < i:
            for k, rgb in zip(range(first, i), _decode(reader, list(range(first, i)), timer), strict=True):
                frames.faces(k, rgb, _shot_start(cuts, k))

    pts0 = 0.0
    for a in range(0, n, config.chunk_frames):
        with timer("decode"):
            batch, pts = reader.get_frames(list(range(a, min(n, a + config.chunk_frames))))
            batch = batch.permute(0, 2, 3, 1).contiguous().numpy()
        if a == 0:
            pts0 = float(pts[0])
        for i, rgb in enumerate(batch, start=a):
            with timer("scenes"):
                new = scenes.push(i, rgb)
            if new:
                add_cuts(new, i)
            frames.faces(i, rgb, _shot_start(cuts, i))
            if i in samples:
                frames.sample(i, rgb)
    missed = sorted(samples - frames.per_sample.keys())  # sample frames of a shot a cut ended
    for k, rgb in zip(missed, _decode(reader, missed, timer) if missed else [], strict=True):
        frames.sample(k, rgb)

    audio = None
    with timer("audio"):
        wav = decode_audio(clip.audio or clip.video, pts0, pts0 + n / fps, AUDIO_SAMPLE_RATE)
        audio = None if wav is None else wav.numpy()

    segments = plan_segments(n, fps, cuts, config.max_segment_seconds)
    landmarks = stack_frames(frames.lms, n)
    keypoints = landmarks if frames.same_kp else stack_frames(frames.kps, n)
    seg_meta = []
    for s in segments:
        with timer("sync"):
            sync = _sync(m["sync"], s, landmarks, audio, fps, frames.crops if frames.sync_crop else None,
                         stack_frames(frames.feats, n) if frames.sync_feature is not None else None)  # fmt: skip
        smooth = smooth_angles(frames.pose[s.start : s.end], config.pose_smooth)
        seg_meta.append(_segment_meta(s, fps, frames.counts, frames.boxes, landmarks, smooth, frames.per_sample,
                                      sync, config.sample_frames))  # fmt: skip
    meta = {
        "clip": {
            "clip_id": clip.clip_id,
            "path": clip.video,
            "audio_path": clip.audio,
            "width": int(frames.width),
            "height": int(frames.height),
            "fps": float(fps),
            "num_frames": int(n),
            "duration": float(n / fps),
            "has_audio": audio is not None,
            "scene_cuts": len(cuts),
            "cut_frames": cuts,
            "error": None,
            "keypoints_format": m["keypoints"].format,
        },
        "segments": seg_meta,
    }
    arrays = {"keypoints": keypoints, "pose": frames.pose, "face_box": frames.boxes}
    if not frames.same_kp:
        arrays["landmarks"] = landmarks
    return meta, arrays


def _samples(n: int, fps: float, cuts: list[int], config: MeasureConfig) -> set[int]:
    """The sample frames of every segment planned from `cuts`."""
    segments = plan_segments(n, fps, cuts, config.max_segment_seconds)
    return {i for s in segments for i in sample_indices(s, config.sample_frames)}


def _shot_start(cuts: list[int], i: int) -> int:
    """First frame of the shot holding frame `i`, from the sorted `cuts`."""
    j = bisect.bisect_right(cuts, i)
    return cuts[j - 1] if j else 0


def _decode(reader: TorchcodecReader, indices: list[int], timer: _Timer) -> np.ndarray:
    """Frames `indices` again, (T, H, W, 3) uint8 RGB."""
    with timer("decode"):
        frames, _ = reader.get_frames(indices)
        return frames.permute(0, 2, 3, 1).contiguous().numpy()


@dataclass(frozen=True)
class SampleMeasures:
    """What the sample-frame stages measured on one frame."""

    border: int  # black border, pixels
    subtitle_chars: int  # characters of text read in the subtitle region
    subtitle_text: str
    brisque: float  # image quality (lower is better)
    detail: float  # detail ratio (low: upscaled)


class FrameMeasures:
    """Per-frame measurements of one clip, filled frame by frame in decoding order (a frame may be
    measured again: each call overwrites that frame's values). `measure_clip` runs one per clip;
    benchmarks use it to measure pictures exactly as curation does."""

    def __init__(self, n: int, models: dict[str, Any], config: MeasureConfig, timer: _Timer | None = None):
        self.m, self.config, self.timer = models, config, timer or _Timer()
        self.same_kp = config.models["keypoints"] == config.models["landmarks"]
        self.sync_crop = int(getattr(models["sync"], "crop_size", 0) or 0)
        self.sync_feature = getattr(models["sync"], "frame_feature", None)
        self.counts = np.full(n, -1, dtype=np.int64)  # faces found; -1 on frames the detector skipped
        self.boxes = np.full(n, np.nan, dtype=np.float32)  # side of the largest face's detector box
        self.lms: list[np.ndarray | None] = [None] * n
        self.kps: list[np.ndarray | None] = [None] * n
        self.crops: list[np.ndarray | None] = [None] * n
        self.feats: list[np.ndarray | None] = [None] * n  # the sync model's own per-frame values
        self.pose = np.full((n, 3), np.nan, dtype=np.float32)
        self.per_sample: dict[int, SampleMeasures] = {}
        self.track: Face | None = None
        self.width = self.height = 0

    def faces(self, i: int, rgb: np.ndarray, shot_start: int) -> None:
        """Frame `i` of the shot starting at `shot_start`: the detector on the shot's first frame and
        every `detect_every`-th after it, the largest face's box tracked in between; landmarks,
        keypoints, the sync model's crop or per-frame feature and head pose on every frame with a face."""
        m, timer = self.m, self.timer
        if not self.width:
            self.height, self.width = rgb.shape[:2]
        self.counts[i], self.boxes[i], self.pose[i] = -1, np.nan, np.nan
        self.lms[i] = self.kps[i] = self.crops[i] = self.feats[i] = None
        if (i - shot_start) % self.config.detect_every == 0:
            with timer("face_detect"):
                faces = _detect(m["face_detector"], rgb, self.config.detect_max_side)
            self.counts[i] = len(faces)
            self.track = max(faces, key=lambda f: f.area) if faces else None
            if self.track is not None:
                self.boxes[i] = max(self.track.w, self.track.h)
        if self.track is None:
            return
        with timer("landmarks"):
            lm = np.asarray(m["landmarks"].landmarks(rgb, self.track), dtype=np.float32)
        self.lms[i] = lm if len(lm) else None
        if not self.same_kp:
            with timer("keypoints"):
                kp = np.asarray(m["keypoints"].landmarks(rgb, self.track), dtype=np.float32)
            self.kps[i] = kp if len(kp) else None
        if self.lms[i] is None:
            return
        if self.sync_crop:
            self.crops[i] = _face_crop(rgb, self.lms[i], self.sync_crop)
        if self.sync_feature is not None:
            with timer("sync"):
                self.feats[i] = np.atleast_1d(np.asarray(self.sync_feature(rgb, self.lms[i]), dtype=np.float32))
        with timer("head_pose"):
            angles = m["head_pose"].angles(self.lms[i], self.width, self.height)
        if angles is not None:
            self.pose[i] = angles

    def sample(self, i: int, rgb: np.ndarray) -> None:
        """The sample-frame stages of frame `i`: border, detail, subtitles, quality."""
        m, timer, c = self.m, self.timer, self.config
        with timer("border"):
            border = black_border(rgb, c.border_luma)
        with timer("resolution"):
            scale = detail_ratio(rgb)
        with timer("subtitles"):
            text = subtitle_text(rgb, m["ocr"], c.subtitle_region)
        with timer("quality"):
            q = m["quality"].score(rgb)
        self.per_sample[i] = SampleMeasures(border, count_text_chars(text), text, q, scale)


def _detect(detector: Any, rgb: np.ndarray, max_side: int) -> list[Face]:
    """Faces found on a copy shrunk to `max_side`, with boxes in the frame's own pixels."""
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w) if max_side and max(h, w) > max_side else 1.0
    if scale == 1.0:
        return detector.detect(rgb)
    import cv2

    small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return [Face(round(f.x / scale), round(f.y / scale), round(f.w / scale), round(f.h / scale), f.score)
            for f in detector.detect(small)]  # fmt: skip


def stack_frames(items: list[np.ndarray | None], n: int) -> np.ndarray:
    """(n, *shape) float32 of per-frame arrays with NaN rows for frames without a face; (n, 0, 3)
    when none had one."""
    first = next((x for x in items if x is not None), None)
    if first is None:
        return np.full((n, 0, 3), np.nan, dtype=np.float32)
    out = np.full((n, *first.shape), np.nan, dtype=np.float32)
    for i, x in enumerate(items):
        if x is not None:
            out[i] = x
    return out


def _face_crop(rgb: np.ndarray, lm: np.ndarray, size: int) -> np.ndarray:
    import cv2

    x0, y0 = np.nanmin(lm[:, :2], axis=0)
    x1, y1 = np.nanmax(lm[:, :2], axis=0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 0.6
    h, w = rgb.shape[:2]
    xa, ya = int(max(0, cx - half)), int(max(0, cy - half))
    xb, yb = int(min(w, cx + half)), int(min(h, cy + half))
    crop = rgb[ya:yb, xa:xb] if xb > xa and yb > ya else rgb
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def _sync(
    model: Any, s: Segment, landmarks: np.ndarray, audio: np.ndarray | None, fps: float, crops: Any, feats: Any
) -> Any:
    if audio is None or landmarks.shape[1] == 0:
        return None
    a = int(round(s.start / fps * AUDIO_SAMPLE_RATE))
    b = int(round(s.end / fps * AUDIO_SAMPLE_RATE))
    seg_crops = None
    if crops is not None:
        blank = np.zeros((model.crop_size, model.crop_size, 3), dtype=np.uint8)
        seg_crops = np.stack([c if c is not None else blank for c in crops[s.start : s.end]])
    extra = {} if feats is None else {"features": feats[s.start : s.end].reshape(s.num_frames, -1)}
    return model.measure(landmarks[s.start : s.end], audio[a:b], AUDIO_SAMPLE_RATE, fps, crops=seg_crops, **extra)


def _none_if_nan(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _segment_meta(
    s: Segment,
    fps: float,
    counts: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    pose: np.ndarray,
    per_sample: dict[int, SampleMeasures],
    sync: Any,
    sample_count: int,
) -> dict[str, Any]:
    """One segment's measured values; `pose` holds the segment's own (smoothed) frames."""
    det = [int(c) for c in counts[s.start : s.end] if c >= 0]
    have = [i for i in range(s.start, s.end) if landmarks.shape[1] and np.isfinite(landmarks[i, 0, 0])]
    sizes = [face_size(landmarks[i]) for i in have]
    box = boxes[s.start : s.end]
    box = box[np.isfinite(box)]
    idx = sample_indices(s, sample_count)
    samples = [per_sample[i] for i in idx if i in per_sample]
    texty = max(samples, key=lambda v: v.subtitle_chars) if samples else None
    curve = list(getattr(sync, "curve", ()) or ()) if sync is not None else []
    return {
        "start_frame": s.start,
        "end_frame": s.end,
        "start": s.start / fps,
        "end": s.end / fps,
        "duration": s.num_frames / fps,
        "sample_frames": idx,
        "face_count": statistics.median_low(det) if det else None,
        "face_count_max": max(det) if det else None,
        "face_size": float(np.median(box)) if box.size else None,
        "landmark_size": float(np.median(sizes)) if sizes else None,
        "face_frames": len(have) / s.num_frames,  # share of frames with a face (decisions add face_fraction)
        "border_px": float(np.median([v.border for v in samples])) if samples else None,
        "detail": float(np.median([v.detail for v in samples])) if samples else None,
        "subtitle_chars": texty.subtitle_chars if texty else None,
        "subtitle_text": texty.subtitle_text[:120] if texty else None,
        "brisque": float(np.mean([v.brisque for v in samples])) if samples else None,
        "sync_confidence": None if sync is None else float(sync.confidence),
        "sync_offset": None if sync is None else int(sync.offset),
        "sync_peak": _none_if_nan(getattr(sync, "peak", None)) if sync is not None else None,
        "sync_curve": [float(v) for v in curve],
        "pose_yaw": [_none_if_nan(pose[i - s.start, 0]) for i in idx],
        "pose_pitch": [_none_if_nan(pose[i - s.start, 1]) for i in idx],
        "pose_roll": [_none_if_nan(pose[i - s.start, 2]) for i in idx],
    }
