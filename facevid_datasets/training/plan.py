"""Clip plans: which file, which frames, which audio span and labels one training item uses.

A `ClipDataset` turns records (`facevid_datasets.FEATURES` rows) into `ClipPlan`s without touching
pixels, so DataLoader workers stay cheap and the decode can happen wherever it is fastest (worker
processes on CPU, the main process on CUDA). Frame choice follows the source's real frame rate:
with a target `fps`, output frame k shows what a player shows at start + k / fps. The default
output rate is `DEFAULT_FPS` (25, what Hallo and LatentSync train at), so clips of mixed rates
(23.98, 25, 29.97, 30 fps) batch together with one audio length per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import numpy as np
from torch.utils.data import Dataset

from ..media import probe
from .conditions import EMO_CONTEXT, context_times, head_speed
from .context_frames import FrameSet, identity_reference, motion_frames, reference_frames

logger = logging.getLogger(__name__)

Start = Literal["random", "first", "center"]
Short = Literal["pad", "loop", "skip"]

#: Record fields a plan never needs (kept out of the per-item read).
_HEAVY_UNUSED = ("original", "quality")

#: Output frame rate of a `ClipDataset` unless told otherwise (Hallo, LatentSync: 25 fps).
DEFAULT_FPS = 25.0

#: Frame rate assumed for a record that states a duration but no fps / frame count.
FALLBACK_SOURCE_FPS = 25.0


class _DefaultFps(float):
    """`DEFAULT_FPS` as the unset default: giving `stride` without `fps` keeps the source rate."""


#: The `fps` default of `ClipDataset`: 25 fps, or the source rate when `stride` is given.
UNSET_FPS = _DefaultFps(DEFAULT_FPS)


class Draw(NamedTuple):
    """What a sampler hands the dataset: a row, plus the epoch and positions that seed its random start."""

    row: int
    epoch: int = 0
    position: int = -1  # index in the epoch's global order, past its end for padding (continues across a resume)
    key: int = -1  # the window's index in the global epoch order (what seeds the random start)
    visit: int = 1  # windows per visit: the k windows of one visit (keys k*v .. k*v+k-1) tile one stretch


@dataclass(eq=False)
class ClipPlan:
    """Everything needed to decode one training clip; light enough to pass between processes."""

    clip_id: str
    row: int
    video: str | bytes  # path, or the file's bytes when the record holds no path
    audio: str | bytes | None  # where the audio track is (None: the clip has none)
    indices: np.ndarray  # (T,) int64 frame indices in the file, in output order
    times: np.ndarray  # (T,) float64 seconds: the instant each output frame stands for
    valid: np.ndarray  # (T,) bool: False for padding frames
    fps: float  # output frame rate
    source_fps: float
    width: int  # stored video size (keypoints are in these pixels)
    height: int
    keypoints: np.ndarray | None = None  # (T, K, 3) x, y, confidence for the sampled frames
    keypoint_format: str | None = None
    head_pose: np.ndarray | None = None  # (T, 3) yaw, pitch, roll in degrees
    face_boxes: np.ndarray | None = None  # (T, 5) x0, y0, x1, y1, confidence in stored pixels (0: no face)
    head_speed: np.ndarray | None = None  # (T + 2m,) head rotation, degrees per output frame, m frames each side
    head_speed_known: np.ndarray | None = None  # (T + 2m,) bool: both poses of the step known
    motion: FrameSet | None = None  # the output frames before the window (Hallo's motion frames)
    reference: FrameSet | None = None  # appearance frames outside the window, or of another clip
    labels: dict[str, Any] = field(default_factory=dict)  # caption, attributes, source, language, ...
    duration: float = 0.0  # seconds of the whole stored clip
    epoch: int = 0
    position: int = -1


def column_values(records: Sequence[Mapping[str, Any]], column: str) -> list[Any]:
    """Values of a possibly nested column ("attributes.ethnicity") in plain records."""
    out = []
    for rec in records:
        value: Any = rec
        for part in column.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        out.append(value)
    return out


def _arrow_column(table: Any, column: str) -> list[Any]:
    import pyarrow.compute as pc

    top, *rest = column.split(".")
    if top not in table.column_names:
        raise KeyError(f"no column {top!r} in the dataset (columns: {table.column_names})")
    arr = table.column(top)
    for part in rest:
        arr = pc.struct_field(arr, part)
    return arr.to_pylist()


class RecordTable:
    """Row and column access over a `datasets.Dataset` (Arrow, only the fields plans need) or a list of dicts."""

    def __init__(self, data: Any):
        import datasets

        self.hf = isinstance(data, datasets.Dataset)
        if self.hf:
            keep = [c for c in data.column_names if c not in _HEAVY_UNUSED]
            self._arrow = data.select_columns(keep).with_format("arrow")
            self._data = data
        else:
            self._list = list(data)

    def __len__(self) -> int:
        return len(self._data) if self.hf else len(self._list)

    def column(self, column: str) -> list[Any]:
        """Values of a (dotted) column for every row."""
        if self.hf:
            top = column.split(".")[0]
            return _arrow_column(self._data.select_columns([top]).with_format("arrow")[:], column)
        return column_values(self._list, column)

    def get(self, row: int) -> dict[str, Any]:
        """The record, with keypoint points left as an Arrow list (sliced per clip, never fully converted)."""
        if not self.hf:
            return self._list[row]
        t = self._arrow[row]
        rec: dict[str, Any] = {}
        for name in t.column_names:
            cell = t.column(name)[0]
            if name == "keypoints":
                rec[name] = None if not cell.is_valid else {"format": cell["format"].as_py(), "points": cell["points"]}
            else:
                rec[name] = cell.as_py()
        return rec


def _sample_keypoints(kp: Mapping[str, Any] | None, indices: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    if not kp or kp.get("points") is None:
        return None, None
    pts = kp["points"]
    try:
        if hasattr(pts, "values") and hasattr(pts, "is_valid"):  # pyarrow ListScalar: take only our frames
            import pyarrow as pa

            if not pts.is_valid:
                return None, kp.get("format")
            frames = pts.values
            n = len(frames)
            if n == 0:
                return None, kp.get("format")
            sub = frames.take(pa.array(np.minimum(indices, n - 1)))
            flat = sub.flatten().flatten().to_numpy(zero_copy_only=False)
            arr = flat.astype(np.float32).reshape(len(indices), -1, 3)
        else:
            full = np.asarray(pts, dtype=np.float32)
            if full.ndim != 3 or full.shape[-1] != 3 or not len(full):
                return None, kp.get("format")
            arr = full[np.minimum(indices, len(full) - 1)]
    except (ValueError, TypeError) as e:  # ragged point counts: treat as missing, say why
        logger.warning("keypoints of unequal length skipped (%s)", e)
        return None, kp.get("format")
    return arr, kp.get("format")


def _pose_track(pose: Mapping[str, Any] | None) -> np.ndarray | None:
    """The clip's per-frame (yaw, pitch, roll) track (N, 3), or None when any angle list is missing."""
    if not pose or any(pose.get(k) is None for k in ("yaw", "pitch", "roll")):
        return None
    track = np.stack([np.asarray(pose[k], dtype=np.float64) for k in ("yaw", "pitch", "roll")], axis=-1)
    return track if len(track) else None


def _sample_boxes(fb: Mapping[str, Any] | None, indices: np.ndarray) -> np.ndarray | None:
    """Face boxes (T, 5) at `indices`, or None when the record has none."""
    if not fb or not fb.get("boxes"):
        return None
    boxes = np.asarray(fb["boxes"], dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        return None
    return boxes[np.minimum(indices, len(boxes) - 1)]


def media_source(cell: Mapping[str, Any] | str | None) -> str | bytes | None:
    """Where a `Video`/`Audio` cell's media is: its path when the file exists (or there are no bytes),
    else its bytes (an export embeds them and keeps only the bare file name as the path)."""
    if isinstance(cell, str) or not cell:
        return cell or None
    if cell.get("path"):
        import os

        if os.path.exists(cell["path"]) or not cell.get("bytes"):
            return cell["path"]
    return cell.get("bytes") or None


def video_source(rec: Mapping[str, Any]) -> str | bytes:
    """Where a record's video is (see `media_source`)."""
    src = media_source(rec.get("video"))
    if src is None:
        raise ValueError(f"record {rec.get('clip_id')!r} has no video path or bytes")
    return src


def _audio_source(rec: Mapping[str, Any], video: str | bytes) -> str | bytes | None:
    kind = rec.get("audio_source") or "video"
    if kind == "none":
        return None
    if kind == "file":
        return media_source(rec.get("audio"))
    return video


@dataclass
class ClipSpec:
    """How clips are cut from records: the one set of clip options that `ClipDataset` and
    `StreamingClipDataset` both take (as a `ClipSpec` or as its fields by keyword), so the two cannot
    drift. See `ClipDataset` for the meaning of each field; `deletions` is a `DeletionList`, a list
    file or ids, whose clips are never planned."""

    frames: int = 16
    stride: int = 1
    fps: float | None = UNSET_FPS
    start: Start | float = "random"
    short: Short = "pad"
    seed: int = 0
    motion: int = 0
    reference: int = 0
    reference_from: Literal["clip", "identity"] = "clip"
    speed_context: int = EMO_CONTEXT
    deletions: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, frames: int | ClipSpec, options: Mapping[str, Any]) -> ClipSpec:
        """The spec a dataset was given: a `ClipSpec` (with `options` replacing fields) or a frame count
        and fields by keyword; an unknown option is a TypeError listing the known ones."""
        import dataclasses

        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown clip option(s) {unknown}: a clip spec has {sorted(known)}")
        if isinstance(frames, ClipSpec):
            return replace(frames, **options) if options else frames
        return cls(frames=frames, **options)

    def window_terms(self, num_frames: np.ndarray, source_fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weight, delivered seconds) per file: the distinct windows it offers (what a clip is visited in
        proportion to inside its group) and the seconds one window hands the trainer. Both samplers,
        map-style and streamed, weigh clips with this, so their shares agree."""
        return (self.start_positions(num_frames, source_fps).astype(np.float64),
                self.delivered_seconds(num_frames, source_fps))

    def __post_init__(self) -> None:
        if self.reference_from not in ("clip", "identity"):
            raise ValueError(f"reference_from={self.reference_from!r}: use 'clip' or 'identity'")
        if self.deletions is not None:
            from ..licence.deletions import DeletionList

            self.deletions = DeletionList.of(self.deletions)
        if self.frames < 1 or self.stride < 1:
            raise ValueError(f"frames ({self.frames}) and stride ({self.stride}) must be >= 1")
        if min(self.motion, self.reference, self.speed_context) < 0:
            raise ValueError(f"motion ({self.motion}), reference ({self.reference}) and speed_context "
                             f"({self.speed_context}) must be >= 0")
        if isinstance(self.fps, _DefaultFps):  # stride given, fps left at its default: source rate
            self.fps = None if self.stride != 1 else DEFAULT_FPS
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.fps is not None and self.stride != 1:
            raise ValueError(f"stride={self.stride} applies at the source rate: pass fps=None with it "
                             f"(not fps={self.fps})")
        if self.short not in ("pad", "loop", "skip"):
            raise ValueError(f"short={self.short!r}: use 'pad', 'loop' or 'skip'")
        if isinstance(self.start, str) and self.start not in ("random", "first", "center"):
            raise ValueError(f"start={self.start!r}: use 'random', 'first', 'center' or seconds")

    def frames_needed(self, source_fps: float) -> int:
        """Source frames one clip spans."""
        if self.fps is None:
            return (self.frames - 1) * self.stride + 1
        return int(np.floor((self.frames - 1) / self.fps * source_fps + 1e-6)) + 1

    def fits(self, num_frames: int, source_fps: float) -> bool:
        return num_frames >= self.frames_needed(source_fps)

    def output_fps(self, source_fps: np.ndarray | float) -> np.ndarray:
        """Output frame rate for files at `source_fps`."""
        src = np.asarray(source_fps, dtype=np.float64)
        return src / self.stride if self.fps is None else np.full_like(src, self.fps)

    def valid_frames(self, num_frames: np.ndarray, source_fps: np.ndarray) -> np.ndarray:
        """Distinct real frames one window of each file holds (padding and loop repeats excluded)."""
        n = np.asarray(num_frames, dtype=np.float64)
        src = np.asarray(source_fps, dtype=np.float64)
        if self.fps is None:
            count = np.ceil(n / self.stride)
        else:  # output frame k is real while floor(k * src / fps + 1e-6) < n
            count = np.ceil(np.maximum(n - 1e-6, 0.0) * self.fps / src)
        return np.clip(count, 0, self.frames).astype(np.int64)

    def delivered_seconds(self, num_frames: np.ndarray, source_fps: np.ndarray) -> np.ndarray:
        """Seconds of video one window of each file hands the trainer: valid frames / output fps."""
        return self.valid_frames(num_frames, source_fps) / self.output_fps(source_fps)

    def start_positions(self, num_frames: np.ndarray, source_fps: np.ndarray) -> np.ndarray:
        """Distinct windows each file offers: every start frame with `start="random"`, else one."""
        n = np.asarray(num_frames, dtype=np.int64)
        if self.start != "random":
            return np.ones(len(n), dtype=np.int64)
        return np.maximum(n - self.spans(source_fps), 0) + 1

    def spans(self, source_fps: np.ndarray) -> np.ndarray:
        """`frames_needed` for many files at once."""
        src = np.asarray(source_fps, dtype=np.float64)
        if self.fps is None:
            return np.full(len(src), self.frames_needed(1.0), dtype=np.int64)
        return np.floor((self.frames - 1) / self.fps * src + 1e-6).astype(np.int64) + 1

    def choose(self, num_frames: int, source_fps: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Frame indices, instants, validity mask and output fps for a clip of a `num_frames` file."""
        T = self.frames
        out_fps = self.fps or source_fps / self.stride
        span = self.frames_needed(source_fps)
        room = max(0, num_frames - span)
        if isinstance(self.start, (int, float)):
            first = min(room, max(0, int(round(float(self.start) * source_fps))))
        elif self.start == "random":
            first = int(rng.integers(0, room + 1))
        elif self.start == "center":
            first = room // 2
        else:
            first = 0
        t0 = first / source_fps
        if self.fps is None:
            times = t0 + np.arange(T) * self.stride / source_fps
        else:
            times = t0 + np.arange(T) / self.fps
        idx = np.floor(times * source_fps + 1e-6).astype(np.int64)
        valid = idx < num_frames
        if not valid.all():
            n_ok = int(valid.sum())
            if self.short == "loop" and n_ok:
                k = np.arange(T)
                idx = idx[k % n_ok]
                times = times[k % n_ok]
                valid = np.ones(T, dtype=bool)
            else:  # pad: repeat the last real frame, marked invalid
                last = max(0, n_ok - 1)
                idx = np.where(valid, idx, idx[last] if n_ok else 0)
                times = np.where(valid, times, times[last] if n_ok else 0.0)
        return idx, times, valid, np.float64(out_fps)


def _record_timing(rec: Mapping[str, Any], video: str | bytes) -> tuple[float, int]:
    fps, n = rec.get("fps"), rec.get("num_frames")
    if fps and n:
        return float(fps), int(n)
    if isinstance(video, bytes):
        raise ValueError(f"record {rec.get('clip_id')!r} lacks fps/num_frames and has no path to probe")
    info = probe(video)
    return info.fps, info.num_frames


def make_plan(rec: Mapping[str, Any], spec: ClipSpec, rng: np.random.Generator, row: int = -1,
              reference_record: Mapping[str, Any] | None = None) -> ClipPlan:
    """The plan for one clip of record `rec` (raises ValueError when the record cannot be planned).

    `reference_record`: another clip of the same identity to take the reference frames from.
    """
    video = video_source(rec)
    src_fps, n = _record_timing(rec, video)
    idx, times, valid, out_fps = spec.choose(n, src_fps, rng)
    kps, kp_format = _sample_keypoints(rec.get("keypoints"), idx)
    pose = rec.get("head_pose") or {}
    speed = known = None
    track = _pose_track(pose)
    if track is not None:
        speed, known = head_speed(track, src_fps, context_times(times, float(out_fps), spec.speed_context),
                                  float(out_fps))
    motion = reference = None
    if spec.motion:
        motion = motion_frames(float(times[0]), spec.motion, float(out_fps), src_fps)
        motion.valid &= motion.indices < n
        motion.keypoints = _sample_keypoints(rec.get("keypoints"), motion.indices)[0]
    if spec.reference:
        reference = _reference(rec, reference_record, idx[valid] if valid.any() else idx, n, src_fps, spec, rng)
    attrs = rec.get("attributes") or {}
    labels = {
        "caption": rec.get("caption"),
        "attributes": dict(attrs),
        "head_pose_label": pose.get("label"),
        "source": rec.get("source"),
        "dataset": rec.get("dataset"),
        "language": rec.get("language"),
        "identity": rec.get("identity"),
    }
    return ClipPlan(
        clip_id=str(rec.get("clip_id") or f"row{row}"),
        row=row,
        video=video,
        audio=_audio_source(rec, video),
        indices=idx,
        times=times,
        valid=valid,
        fps=float(out_fps),
        source_fps=src_fps,
        width=int(rec.get("width") or 0),
        height=int(rec.get("height") or 0),
        keypoints=kps,
        keypoint_format=kp_format,
        head_pose=None if track is None else track[np.minimum(idx, len(track) - 1)].astype(np.float32),
        face_boxes=_sample_boxes(rec.get("face_boxes"), idx),
        head_speed=speed,
        head_speed_known=known,
        motion=motion,
        reference=reference,
        labels=labels,
        duration=float(rec.get("duration") or n / src_fps),
    )


def _reference(rec: Mapping[str, Any], other: Mapping[str, Any] | None, window: np.ndarray, n: int,
               src_fps: float, spec: ClipSpec, rng: np.random.Generator) -> FrameSet:
    """Reference frames outside the window, or from `other` (a clip of the same identity) when given."""
    if other is None:
        ref = reference_frames(window, n, spec.reference, src_fps, rng)
        ref.keypoints = _sample_keypoints(rec.get("keypoints"), ref.indices)[0]
        return ref
    video = video_source(other)
    fps, num = _record_timing(other, video)
    ref = identity_reference(num, spec.reference, fps, rng)
    ref.video, ref.clip_id = video, str(other.get("clip_id"))
    ref.width, ref.height = int(other.get("width") or 0), int(other.get("height") or 0)
    ref.keypoints = _sample_keypoints(other.get("keypoints"), ref.indices)[0]
    return ref


def visit_starts(positions: int, k: int, span: int, rng: np.random.Generator) -> np.ndarray:
    """First frames of the k consecutive windows of one visit: window j starts at (a + j * span) mod
    `positions`, a uniform. Each start is still uniform over the positions (a shift modulo P maps the
    uniform distribution onto itself), and the k windows share one run-up from a keyframe."""
    if positions < 1 or k < 1 or span < 1:
        raise ValueError(f"positions ({positions}), k ({k}) and span ({span}) must be >= 1")
    anchor = int(rng.integers(0, positions))
    return (anchor + span * np.arange(k)) % positions


def _visit_spec(spec: ClipSpec, rec: Mapping[str, Any], draw: Draw, seed: int) -> ClipSpec:
    """The spec of window `draw.key % draw.visit` of its visit: a fixed start from the visit's anchor."""
    src_fps, n = _record_timing(rec, video_source(rec))
    span = spec.frames_needed(src_fps)
    j = draw.key % draw.visit
    rng = np.random.default_rng([seed, draw.row, draw.epoch, draw.key - j + 1, 2])
    start = visit_starts(max(1, n - span + 1), draw.visit, span, rng)[j]
    return replace(spec, start=float(start) / src_fps)


def draw_rng(seed: int, draw: Draw) -> np.random.Generator:
    """The generator that picks a draw's random start: the same draw plans the same window anywhere."""
    return np.random.default_rng([seed, draw.row, draw.epoch, draw.key + 1])


class ClipDataset(Dataset):
    """Clip plans over a loaded dataset: item i is a `ClipPlan` for row i (pixels are decoded later).

    `data`: a `datasets.Dataset` or a list of records (for a `datasets.IterableDataset` use
    `StreamingClipDataset`, which takes the same clip options). The options are a `ClipSpec`'s fields,
    by keyword or as a `ClipSpec` in place of `frames`. `frames` per clip at `fps` (default
    `DEFAULT_FPS` = 25: frames are resampled from each file's own rate as a player shows them, so any
    mix of source rates batches together); `fps=None` keeps each file's rate, and `stride` (source
    frames, implies `fps=None` when `fps` is not given) thins it. `start` "random", "first", "center" or
    seconds; clips shorter than needed are padded (last frame repeated, masked), looped, or skipped
    (`short`, listed in `.skipped`). Random starts are seeded by (seed, row, epoch, global draw index),
    so a resumed run plans the same clips.

    `motion=n` adds the n output frames before the window (Hallo's motion frames; masked before the
    clip's start); `reference=k` adds k frames outside the window for appearance (Hallo, EMO, MCDM), from
    the same clip or, with `reference_from="identity"`, from another clip of the same identity (the same
    clip when it has no other). `speed_context` is the +-m frames of head-rotation speed each plan
    carries for EMO's speed buckets. `deletions` (a `DeletionList` or a list file) leaves out the
    clips it names, listed in `.skipped`, so an older cache or export never yields them.
    """

    def __init__(self, data: Any, frames: int | ClipSpec = 16, **options: Any):
        import datasets

        if isinstance(data, datasets.IterableDataset):
            raise TypeError("ClipDataset(data) takes a map-style dataset or records; for a streamed dataset use "
                            "StreamingClipDataset(stream, ...) (or {group: stream} to balance groups)")
        self.spec = ClipSpec.of(frames, options)
        self.reference_from = self.spec.reference_from
        frames, short, deletions = self.spec.frames, self.spec.short, self.spec.deletions
        self._by_identity: dict[str, np.ndarray] | None = None
        self._identities: list[Any] = []
        self.records = RecordTable(data)
        self.epoch = 0
        self.skipped: list[tuple[str, str]] = []
        self.rows = np.arange(len(self.records), dtype=np.int64)
        if short == "skip":
            fps_col, n_col = self._timing_all()
            ids = self.records.column("clip_id")
            ok = n_col >= self.spec.spans(fps_col)
            for i in np.flatnonzero(~ok):
                need = self.spec.frames_needed(float(fps_col[i]))
                self.skipped.append((str(ids[i]), f"{n_col[i]} frames, a clip needs {need}"))
            self.rows = np.flatnonzero(ok).astype(np.int64)
            if self.skipped:
                logger.info("skipped %d clips shorter than %d frames", len(self.skipped), frames)
        if deletions is not None:
            self._withhold(data, deletions)

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Epoch used to seed random starts for plain integer indices."""
        self.epoch = epoch

    def column(self, column: str) -> list[Any]:
        """Values of a (nested, dotted) column for the dataset's items, in item order."""
        values = self.records.column(column)
        return [values[int(r)] for r in self.rows]

    def _timing_all(self) -> tuple[np.ndarray, np.ndarray]:
        fps = self.records.column("fps")
        n = self.records.column("num_frames")
        dur = self.records.column("duration")
        return timing_arrays(fps, n, dur)

    def timing(self) -> tuple[np.ndarray, np.ndarray]:
        """(source fps, frame count) per item, from the records (duration x 25 fps where those lack them)."""
        fps, n = self._timing_all()
        return fps[self.rows], n[self.rows]

    def durations(self) -> np.ndarray:
        """Seconds of stored video per item (duration, else num_frames / fps)."""
        dur = self.records.column("duration")
        n = self.records.column("num_frames")
        f = self.records.column("fps")
        out = np.array([d if d else (nn / ff if nn and ff else 0.0) for d, nn, ff in zip(dur, n, f, strict=True)],
                       dtype=np.float64)
        return out[self.rows]

    def _withhold(self, data: Any, deletions: Any) -> None:
        """Leave out the rows a deletion list covers (plan-time guard over an older cache or export)."""
        from ..licence.deletions import DeletionList, covered_rows

        dl = deletions if isinstance(deletions, DeletionList) else DeletionList.from_file(deletions)
        covered = covered_rows(data, dl)
        if covered:
            keep = np.array([int(r) not in covered for r in self.rows], dtype=bool)
            self.skipped += [(covered[int(r)][0], f"deletion request: {covered[int(r)][1]}") for r in self.rows[~keep]]
            self.rows = self.rows[keep]
            logger.info("%d clips withheld by deletion requests", int((~keep).sum()))

    def _same_identity(self, row: int, draw: Draw) -> Mapping[str, Any] | None:
        """Another record of `row`'s identity, drawn per draw (None: unknown identity or no other clip)."""
        if self._by_identity is None:
            self._identities = self.records.column("identity")
            self._by_identity = _identity_rows(self._identities)
        ident = self._identities[row]
        rows = self._by_identity.get(str(ident)) if ident not in (None, "") else None
        if rows is None or len(rows) < 2:
            return None
        rng = np.random.default_rng([self.spec.seed, row, draw.epoch, draw.key + 1, 1])
        others = rows[rows != row]
        return self.records.get(int(others[rng.integers(len(others))]))

    def __getitem__(self, item: int | Draw | tuple) -> ClipPlan:
        draw = Draw(*item) if isinstance(item, tuple) else Draw(int(item), self.epoch, -1, -1)
        row = int(self.rows[draw.row])
        other = self._same_identity(row, draw) if self.spec.reference and self.reference_from == "identity" else None
        rec = self.records.get(row)
        spec = self.spec
        if draw.visit > 1 and draw.key >= 0 and spec.start == "random":  # consecutive windows of one visit
            spec = _visit_spec(spec, rec, draw, spec.seed)
        plan = make_plan(rec, spec, draw_rng(self.spec.seed, draw), row=draw.row, reference_record=other)
        plan.epoch, plan.position = draw.epoch, draw.position
        return plan


def _identity_rows(identities: Sequence[Any]) -> dict[str, np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, ident in enumerate(identities):
        if ident not in (None, ""):
            groups.setdefault(str(ident), []).append(i)
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}


def timing_arrays(fps: Sequence[Any], num_frames: Sequence[Any], duration: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """(source fps, frame count) arrays from record columns; a record with only a duration is taken at
    `FALLBACK_SOURCE_FPS`, one with nothing gets 0 frames (it delivers nothing)."""
    f = np.array([float(x) if x else 0.0 for x in fps], dtype=np.float64)
    n = np.array([int(x) if x else 0 for x in num_frames], dtype=np.int64)
    d = np.array([float(x) if x else 0.0 for x in duration], dtype=np.float64)
    no_rate = f <= 0
    f[no_rate] = FALLBACK_SOURCE_FPS
    no_count = n <= 0
    n[no_count] = np.round(d[no_count] * f[no_count]).astype(np.int64)
    return f, n


def iter_records(stream: Any, batch_size: int = 64) -> Iterator[Mapping[str, Any]]:
    """Every record of `stream` as a dict. A `datasets.IterableDataset` is read with `.iter()`, which
    (unlike plain iteration inside a DataLoader worker) does not re-split its shards by worker: the
    caller has already chosen the shards this reader owns."""
    import datasets

    if not isinstance(stream, datasets.IterableDataset):
        yield from stream
        return
    for batch in stream.iter(batch_size=batch_size):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys), strict=True):
            yield dict(zip(keys, values, strict=True))
