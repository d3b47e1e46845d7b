"""Decode a batch of clip plans into fixed-shape tensors on the trainer's device.

`VideoCollator` is the DataLoader `collate_fn` on CPU (it then decodes in worker processes). On
CUDA the workers run `VideoCollator.prepare` (audio and keypoints on CPU) and the main process
calls the collator on those, decoding only video on NVDEC with several decode sessions at once
and resizing on the GPU (`clip_loader` sets up either). Both paths run the same code after
decoding, so they agree up to decoder rounding.

Windows of one file in a batch are decoded in one forward pass (the sorted union of their frame
indices through one decoder: the run-up from the keyframe is paid once), and decoders stay open
across batches (`reader_cache`), so consecutive windows of a file reuse them. A clip that fails is
replaced through the `replace` hook (another clip of its group) and reported in `batch["errors"]`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ..errors import MediaError
from ..media import AUDIO_SAMPLE_RATE, open_reader
from ..media.decode import TorchcodecReader, check_device
from .audio import frame_audio, samples_per_frame
from .audio_features import FeatureModel, LogMel
from .batch import ClipTensors, stack_batch
from .buckets import bucket_of
from .conditions import SpeedBuckets
from .extras import BatchExtras, indices_with_context, stack_context
from .geometry import FACE_MARGIN, Fit, face_extent, fit_frames, fit_with_map, to_dtype
from .plan import ClipPlan
from .recovery import EpochReport

logger = logging.getLogger(__name__)

#: What a bad file can raise on its way through a decoder (anything else is a bug and propagates).
DECODE_ERRORS = (MediaError, RuntimeError, ValueError, OSError, EOFError, IndexError)

Frames = tuple[torch.Tensor, torch.Tensor]  # (T, C, H, W) uint8 on the decode device, pts (T,) seconds


@dataclass
class Prepared:
    """One clip's CPU side, made in a DataLoader worker on the CUDA path: the plan and its audio."""

    plan: ClipPlan
    audio: torch.Tensor | None = None
    windows: torch.Tensor | None = None
    error: dict[str, Any] | None = None


def _failure(plan: ClipPlan, error: BaseException, attempt: int) -> dict[str, Any]:
    reason = error.reason if isinstance(error, MediaError) else f"{type(error).__name__}: {error}"
    name = plan.video if isinstance(plan.video, str) else "<bytes>"
    return {"clip_id": plan.clip_id, "file": name, "reason": reason, "attempt": attempt}


class VideoCollator:
    """Turns a list of `ClipPlan`s into a batch dict of fixed-shape tensors on `device`.

    `size`: output (H, W), one int for squares, or a list of (H, W) aspect-ratio buckets (each clip
    goes to the closest; batch with `BucketBatchSampler` so a batch is one bucket); `fit` "crop"
    (fill, crop around the face from the keypoints, else the centre) or "pad" (letterbox, nothing
    cut). `dtype` and `value_range` set the video's type and range (uint8 keeps 0..255). Audio is
    mono at `sample_rate`, cut per output frame; `audio_window` k adds each frame's +-k frame
    window; clips of different output fps share a batch (audio padded to the longest,
    `samples_per_frame` per clip).
    `one_pass`: windows of one file in a batch are decoded in one forward pass; `reader_cache`
    decoders stay open per process (default 4 on CPU, 8 on CUDA); `decode_sessions` files are
    decoded at once (default 1 on CPU, where DataLoader workers give the parallelism, and 7 on CUDA,
    one per NVDEC engine of an H100/H200). A clip that fails is logged, listed in `batch["errors"]`
    and replaced: by `replace(plan, attempt)` (`clip_loader` wires one drawing from the same group)
    up to `max_attempts` times, else by another clip of the batch; when every clip fails, a
    `MediaError` names the files.

    Beside the window (see `training.extras`): `motion` / `reference` frames when the plans carry them
    (`ClipDataset(motion=, reference=)`), cropped like the window; `fit="face"` crops one face-aligned
    box per window (`face_margin` per side); `face_masks` adds `face_mask` / `mouth_mask`;
    `face_region` EMO's face-region mask ("union" or per "frame"); `speed` (a `SpeedBuckets`) EMO's
    head-rotation speed and its bucket code; `mel` (True or a `LogMel`) log-mel frames per video
    frame; `audio_features` a user's speech model run per window on the collator's device.
    """

    def __init__(
        self,
        size: int | tuple[int, int] | list[tuple[int, int]] = 512,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        value_range: tuple[float, float] = (-1.0, 1.0),
        fit: Fit = "crop",
        audio: bool = True,
        audio_window: int = 2,
        sample_rate: int = AUDIO_SAMPLE_RATE,
        backend: Literal["torchcodec", "decord"] = "torchcodec",
        seek_mode: Literal["exact", "approximate"] = "approximate",
        decode_threads: int = 1,
        reader_cache: int | None = None,
        one_pass: bool = True,
        decode_sessions: int | None = None,
        replace: Callable[[ClipPlan, int], ClipPlan] | None = None,
        max_attempts: int = 3,
        face_margin: float = FACE_MARGIN,
        face_masks: bool = False,
        face_region: Literal["union", "frame"] | None = None,
        speed: SpeedBuckets | None = None,
        mel: LogMel | bool | None = None,
        audio_features: FeatureModel | None = None,
    ):
        check_device(device, "VideoCollator")
        self.buckets = [(int(h), int(w)) for h, w in size] if isinstance(size, list) else None
        if self.buckets is not None and not self.buckets:
            raise ValueError("size=[]: give at least one (height, width) bucket")
        one = self.buckets[0] if self.buckets else size
        self.size = (one, one) if isinstance(one, int) else (int(one[0]), int(one[1]))
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        if cuda and backend != "torchcodec":
            raise ValueError("CUDA decoding uses torchcodec (NVDEC); decord's registry build is CPU only")
        if fit not in ("crop", "pad", "face"):
            raise ValueError(f"fit={fit!r}: use 'crop', 'pad' or 'face'")
        if (mel or audio_features is not None) and not audio:
            raise ValueError("mel= and audio_features= are computed from the batch's audio: keep audio=True")
        if max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
        self.dtype, self.value_range, self.fit, self.face_margin = dtype, value_range, fit, face_margin
        self.extras = BatchExtras(face_masks=face_masks, face_region=face_region, speed=speed,
                                  mel=LogMel() if mel is True else (mel or None), audio_features=audio_features)
        self.audio, self.audio_window, self.sample_rate = audio, audio_window, sample_rate
        self.backend, self.seek_mode, self.decode_threads = backend, seek_mode, decode_threads
        self.reader_cache = (8 if cuda else 4) if reader_cache is None else reader_cache
        self.one_pass = one_pass
        self.decode_sessions = max(1, decode_sessions or (7 if cuda else 1))
        self.replace, self.max_attempts = replace, max_attempts
        self.report = EpochReport()  # failures seen by this process (see clip_loader for the epoch's)
        self._readers: OrderedDict[str, tuple[Any, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict[str, Any]:  # decoders, locks and threads stay in their process
        state = dict(self.__dict__)
        state.update(_readers=OrderedDict(), _lock=None, _pool=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # --- decoding ------------------------------------------------------------------------------
    def _open(self, source: str | bytes) -> Any:
        if self.backend == "torchcodec":
            if self.device.type == "cuda":
                return TorchcodecReader(source, device=str(self.device), seek_mode=self.seek_mode)
            return TorchcodecReader(source, seek_mode=self.seek_mode, num_threads=self.decode_threads)
        return open_reader(source, backend=self.backend, num_threads=self.decode_threads)

    def _reader(self, source: str | bytes) -> tuple[Any, threading.Lock]:
        """An open reader for `source` and the lock that serialises its use (a decoder is not
        thread-safe; concurrent batches on the CUDA path may hold windows of the same file).
        Audio decoders are not kept: a reused one resamples with its state from earlier spans, so a
        clip's audio would depend on what was read before it."""
        key = source if isinstance(source, str) and self.reader_cache > 0 else None
        if key is not None:
            with self._lock:
                if key in self._readers:
                    self._readers.move_to_end(key)
                    return self._readers[key]
        entry = (self._open(source), threading.Lock())
        if key is not None:
            with self._lock:
                entry = self._readers.setdefault(key, entry)
                while len(self._readers) > self.reader_cache:
                    self._readers.popitem(last=False)
        return entry

    def _forget(self, source: str | bytes) -> None:
        if isinstance(source, str):
            with self._lock:
                self._readers.pop(source, None)

    def _decode_group(self, plans: Sequence[ClipPlan]) -> list[Frames | BaseException]:
        """Frames of several windows of one file: the sorted union of their indices in one call."""
        source = plans[0].video
        try:
            reader, lock = self._reader(source)
            n = int(getattr(reader, "num_frames", 0) or 0)
            wanted = [np.minimum(i, n - 1) if n else i for i in map(indices_with_context, plans)]  # header over-counts
            union = np.unique(np.concatenate(wanted))
            with lock:
                frames, pts = reader.get_frames([int(i) for i in union])
                if frames.is_cuda:  # decoded in this session's thread: finished before other streams read it
                    torch.cuda.current_stream(frames.device).synchronize()
        except DECODE_ERRORS as e:
            self._forget(source)  # a decoder that failed may be left mid-stream
            return [e] * len(plans)
        out: list[Frames | BaseException] = []
        for idx in wanted:
            if len(idx) == len(union) and np.array_equal(idx, union):
                out.append((frames, pts.cpu()))  # distinct, increasing indices: no gather copy
                continue
            pos = np.searchsorted(union, idx)
            if np.array_equal(pos, np.arange(pos[0], pos[0] + len(pos))):  # a run of the union: a view, no copy
                out.append((frames[pos[0] : pos[0] + len(pos)], pts.cpu()[pos[0] : pos[0] + len(pos)]))
                continue
            t = torch.as_tensor(pos)  # repeated or scattered frames: gather, keeping the (T, H, W, C) memory layout
            gathered = frames.permute(0, 2, 3, 1).index_select(0, t.to(frames.device)).permute(0, 3, 1, 2)
            out.append((gathered, pts.cpu().index_select(0, t)))
        return out

    def decode_videos(self, plans: Sequence[ClipPlan]) -> list[Frames | BaseException]:
        """Each plan's frames and pts (or the error its file gave), windows of one file decoded together
        (`one_pass`), up to `decode_sessions` files at once."""
        groups: OrderedDict[Any, list[int]] = OrderedDict()
        for i, p in enumerate(plans):
            key = p.video if self.one_pass and isinstance(p.video, str) else ("item", i)
            groups.setdefault(key, []).append(i)
        jobs = list(groups.values())
        out: list[Frames | BaseException | None] = [None] * len(plans)
        if self.decode_sessions > 1 and len(jobs) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.decode_sessions, thread_name_prefix="facevid-decode")
            results = list(self._pool.map(lambda g: self._decode_group([plans[i] for i in g]), jobs))
        else:
            results = [self._decode_group([plans[i] for i in g]) for g in jobs]
        for g, res in zip(jobs, results, strict=True):
            for i, r in zip(g, res, strict=True):
                out[i] = r
        return out  # type: ignore[return-value]

    def decode_frames(self, plan: ClipPlan) -> Frames:
        """The plan's frames (T, C, H, W) uint8 on the decode device, and their pts (T,) seconds."""
        res = self._decode_group([plan])[0]
        if isinstance(res, BaseException):
            raise res
        return res

    # --- the rest of a clip ---------------------------------------------------------------------
    def transform(self, plan: ClipPlan, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Resize/crop the frames to the output size and move keypoints into output pixels."""
        return fit_frames(plan, frames, self.size_for(plan), self.fit, self.face_margin)

    def size_for(self, plan: ClipPlan) -> tuple[int, int]:
        """The output (height, width) of `plan`: the fixed size, or its aspect-ratio bucket."""
        if self.buckets is None:
            return self.size
        return self.buckets[bucket_of(plan.width, plan.height, self.buckets)]

    def _context(self, plan: ClipPlan, frames: torch.Tensor) -> dict[str, tuple[torch.Tensor, Any, torch.Tensor]]:
        """Motion and reference frames (decoded after the window), fitted like it: (frames, keypoints, mask)."""
        out: dict[str, tuple[torch.Tensor, Any, torch.Tensor]] = {}
        at = len(plan.indices)  # context frames follow the window's in the decoded run
        for name in ("motion", "reference"):
            fs = getattr(plan, name)
            if fs is None:
                continue
            n = len(fs.indices)
            if name == "reference" and fs.video is not None:  # another clip of the identity: its own file and crop
                own = ClipPlan(clip_id=str(fs.clip_id), row=-1, video=fs.video, audio=None, indices=fs.indices,
                               times=fs.times, valid=fs.valid, fps=plan.fps, source_fps=plan.source_fps,
                               width=fs.width, height=fs.height, keypoints=fs.keypoints)
                raw, _ = self.decode_frames(own)
                fitted, omap = fit_with_map(own, raw, self.size_for(plan), self.fit, self.face_margin)
            else:
                fitted, omap = fit_with_map(plan, frames[at : at + n], self.size_for(plan), self.fit,
                                            self.face_margin)
                at += n
            fitted = to_dtype(fitted, self.dtype, self.value_range)
            valid = torch.as_tensor(fs.valid)
            if not bool(valid.all()):  # padding (before the clip's start): zero maps, as Hallo feeds
                fitted = fitted * valid.to(fitted.device).view(-1, 1, 1, 1).to(fitted.dtype)
            kp = None if fs.keypoints is None else torch.from_numpy(omap.points(fs.keypoints))
            out[name] = (fitted, kp, valid)
        return out

    def samples_per_frame(self, fps: float) -> int:
        return samples_per_frame(self.sample_rate, fps)

    def _audio(self, plan: ClipPlan, times: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not self.audio:
            return None, None
        return frame_audio(plan, times, sample_rate=self.sample_rate, window=self.audio_window)

    def _finish(self, plan: ClipPlan, decoded: Frames, prepared: Prepared | None) -> ClipTensors:
        frames, pts = decoded
        T = len(plan.indices)
        context = self._context(plan, frames) if plan.motion is not None or plan.reference is not None else None
        frames, pts = frames[:T], pts[:T]
        video, omap = fit_with_map(plan, frames, self.size_for(plan), self.fit, self.face_margin)
        kp = None if plan.keypoints is None else torch.from_numpy(omap.points(plan.keypoints))
        video = to_dtype(video, self.dtype, self.value_range)
        if prepared is not None:
            audio, windows = prepared.audio, prepared.windows
        else:  # the instant each output frame stands for, on the file's own clock
            times = pts.numpy().astype(np.float64) + (plan.times - plan.indices / plan.source_fps)
            audio, windows = self._audio(plan, times)
        return ClipTensors(plan, video, kp, audio, windows, omap, context)

    def decode_one(self, plan: ClipPlan) -> ClipTensors:
        """Decode, resize and align one clip (raises MediaError on a bad file)."""
        return self._finish(plan, self.decode_frames(plan), None)

    def prepare(self, plans: Sequence[ClipPlan]) -> list[Prepared]:
        """The CPU side of each clip (audio at the planned instants), for DataLoader workers on the CUDA
        path; a clip whose audio fails carries its error, and the main process replaces it."""
        out = []
        for plan in plans:
            try:
                audio, windows = None, None
                if self.audio and plan.audio is not None:
                    offset = _video_start(plan.video)
                    audio, windows = self._audio(plan, plan.times + offset)
                out.append(Prepared(plan, audio, windows))
            except DECODE_ERRORS as e:
                out.append(Prepared(plan, error=_failure(plan, e, 0)))
        return out

    # --- a batch -------------------------------------------------------------------------------
    def _replacement(self, plan: ClipPlan, errors: list[dict[str, Any]]) -> ClipTensors | None:
        """Decode replacements for failed `plan` through the `replace` hook, up to `max_attempts`;
        failed attempts are appended to `errors`."""
        if self.replace is None:
            return None
        for attempt in range(1, self.max_attempts + 1):
            try:
                new = self.replace(plan, attempt)
            except Exception as e:  # a replacement that cannot even be planned: stop trying for this slot
                errors.append({**_failure(plan, e, attempt), "reason": f"no replacement: {e}"})
                return None
            try:
                decoded = self.decode_one(new)
            except DECODE_ERRORS as e:
                errors.append(_failure(new, e, attempt))
                logger.warning("replacement %s for %s failed too: %s", new.clip_id, plan.clip_id, errors[-1]["reason"])
                continue
            return decoded
        return None

    def __call__(self, items: Sequence[ClipPlan | Prepared]) -> dict[str, Any]:
        if not len(items):
            raise ValueError("empty batch")
        prepared = [it if isinstance(it, Prepared) else None for it in items]
        plans = [it.plan if isinstance(it, Prepared) else it for it in items]
        errors: list[dict[str, Any]] = []
        decoded: list[ClipTensors | None] = [None] * len(plans)
        failed: dict[int, dict[str, Any]] = {}  # slot -> its clip's failure
        todo = []
        for i, prep in enumerate(prepared):
            if prep is not None and prep.error is not None:
                failed[i] = prep.error
            else:
                todo.append(i)
        for i, res in zip(todo, self.decode_videos([plans[i] for i in todo]), strict=True):
            try:
                if isinstance(res, BaseException):
                    raise res
                decoded[i] = self._finish(plans[i], res, prepared[i])
            except DECODE_ERRORS as e:
                failed[i] = _failure(plans[i], e, 0)
        for i in sorted(failed):
            first = failed[i]
            errors.append(first)
            logger.warning("clip %s (%s) failed, drawing a replacement: %s", first["clip_id"], first["file"],
                           first["reason"])
            decoded[i] = self._replacement(plans[i], errors)
            if decoded[i] is not None:
                first["replaced_by"] = decoded[i].plan.clip_id
        good = [d for d in decoded if d is not None]
        if not good:
            files = "; ".join(f"{e['file']} ({e['reason']})" for e in errors)
            self.report.extend(errors)
            raise MediaError(errors[0]["file"], f"every clip of the batch failed to decode, replacements "
                             f"included ({len(errors)} attempts): {files}")
        replaced = [i in failed for i in range(len(plans))]
        filled = [d if d is not None else good[i % len(good)] for i, d in enumerate(decoded)]
        batch = self._stack(filled)
        batch["replaced"] = torch.tensor(replaced)
        batch["errors"] = errors
        self.report.add(batch)
        return batch

    def _stack(self, items: list[ClipTensors]) -> dict[str, Any]:
        if self.buckets is not None and len({self.size_for(d.plan) for d in items}) > 1:
            raise ValueError("clips of one batch fall in different size buckets: batch them with "
                             "BucketBatchSampler(sampler, sizes, buckets, batch_size) over the same buckets")
        batch = stack_batch(items, device=self.device, audio=self.audio, sample_rate=self.sample_rate,
                            audio_window=self.audio_window)
        dev, T, K = self.device, batch["video"].shape[1], batch["keypoints"].shape[2]
        batch["face_crop"] = torch.tensor([self.fit != "pad" and face_extent(d.plan) is not None for d in items])
        for name in ("motion", "reference"):
            if items[0].context and name in items[0].context:
                batch.update(stack_context(name, [d.context[name] for d in items if d.context], K, dev))
        batch.update(self.extras.stack(items, self.size_for(items[0].plan), dev))
        if self.audio and (self.extras.mel is not None or self.extras.audio_features is not None):
            spfs = [int(v) for v in batch["samples_per_frame"]]
            batch.update(self.extras.audio_keys(batch["audio"], spfs, T, self.sample_rate))
        return batch


_STARTS: OrderedDict[str, float] = OrderedDict()


def _video_start(source: str | bytes) -> float:
    """Seconds at which the file's video stream starts (its pts clock), from the header; cached."""
    if isinstance(source, str) and source in _STARTS:
        return _STARTS[source]
    start = TorchcodecReader(source, seek_mode="approximate").start_seconds
    if isinstance(source, str):
        _STARTS[source] = start
        while len(_STARTS) > 4096:
            _STARTS.popitem(last=False)
    return start
