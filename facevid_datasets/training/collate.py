"""Decode a batch of clip plans into fixed-shape tensors on the trainer's device.

`VideoCollator` is the DataLoader `collate_fn` on CPU (it then decodes in worker processes). On
CUDA the workers run `VideoCollator.prepare` (audio and keypoints on CPU) and the main process
calls the collator on those, decoding only video on NVDEC with several decode sessions at once
and resizing on the GPU (`clip_loader` sets up either). Both paths run the same code after
decoding, so they agree up to decoder rounding; audio follows one timing rule on both (read over a
span fixed by the plan, cut at the decoded frame times; see `training.audio`).

Windows of one file in a batch are decoded in one forward pass (the sorted union of their frame
indices through one decoder: the run-up from the keyframe is paid once), and decoders stay open
across batches (`DecodeOptions.reader_cache`), so consecutive windows of a file reuse them. A clip
that fails is replaced through the `replace` hook (another clip of its group) and reported in
`batch["errors"]`.

CUDA streams: decode sessions run in pool threads, and the current CUDA stream is per thread, so the
collator captures the caller's stream (the prefetcher's side stream, or the training stream when
called directly) in the calling thread and enters it in each session. torchcodec then allocates and
colour-converts on that stream; a CUDA event recorded after each session's work is waited on by the
consuming stream (no host synchronisation: decoding overlaps the training step), and decoded frames
are `record_stream`-ed on the consumer when it differs, so the caching allocator cannot hand their
memory out while kernels still read it. A decoder that falls back to the CPU (torchcodec's
`cpu_fallback`) is warned about with its reason, flagged per clip in `batch["gpu_fallback"]`, and
refused with `DecodeOptions(cpu_fallback="raise")`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ..errors import GpuFallbackError, MediaError
from ..media import open_reader
from ..media.decode import AudioSpan, TorchcodecReader, check_device
from .audio import AudioOptions, audio_for_frames, read_audio, samples_per_frame
from .audio import cut_audio as _cut_audio
from .batch import ClipTensors, stack_batch
from .buckets import bucket_of
from .extras import BatchExtras, indices_with_context, stack_context
from .geometry import FACE_MARGIN, Fit, face_extent, fit_frames, fit_with_map, to_dtype
from .plan import ClipPlan
from .recovery import EpochReport

logger = logging.getLogger(__name__)

#: What a bad file can raise on its way through a decoder (anything else is a bug and propagates).
DECODE_ERRORS = (MediaError, RuntimeError, ValueError, OSError, EOFError, IndexError)


@dataclass(frozen=True)
class DecodeOptions:
    """How the collator decodes (`VideoCollator(decode=DecodeOptions(...))`).

    `backend` torchcodec (CPU or NVDEC) or decord (CPU); `seek_mode` torchcodec's; `threads` FFmpeg
    threads per CPU decoder. `one_pass`: windows of one file in a batch are decoded in one forward pass;
    `reader_cache` decoders stay open per process (None: 4 on CPU, 8 on CUDA); `sessions` files are
    decoded at once (None: 1 on CPU, where DataLoader workers give the parallelism, and 7 on CUDA, one
    per NVDEC engine of an H100/H200). `cpu_fallback`: what a CUDA decoder that decodes on the CPU
    instead of NVDEC does: "warn" (a warning naming the file and the reason, `batch["gpu_fallback"]`
    set for its clips) or "raise" (`GpuFallbackError`).
    """

    backend: Literal["torchcodec", "decord"] = "torchcodec"
    seek_mode: Literal["exact", "approximate"] = "approximate"
    threads: int = 1
    reader_cache: int | None = None
    one_pass: bool = True
    sessions: int | None = None
    cpu_fallback: Literal["warn", "raise"] = "warn"

    def __post_init__(self) -> None:
        if self.backend not in ("torchcodec", "decord"):
            raise ValueError(f"DecodeOptions(backend={self.backend!r}): use 'torchcodec' or 'decord'")
        if self.seek_mode not in ("exact", "approximate"):
            raise ValueError(f"DecodeOptions(seek_mode={self.seek_mode!r}): use 'exact' or 'approximate'")
        if self.cpu_fallback not in ("warn", "raise"):
            raise ValueError(f"DecodeOptions(cpu_fallback={self.cpu_fallback!r}): use 'warn' or 'raise'")
        if self.reader_cache is not None and self.reader_cache < 0:
            raise ValueError(f"DecodeOptions(reader_cache={self.reader_cache}): must be >= 0")


@dataclass
class Decoded:
    """One plan's decoded frames: (T, C, H, W) uint8 on the decode device, their pts (T,) seconds on the
    CPU, and on CUDA the stream they were decoded on with an event recorded after that work."""

    frames: torch.Tensor
    pts: torch.Tensor
    fallback: bool = False  # the decoder fell back to the CPU (CUDA only)
    video_start: float | None = None  # the video stream's first pts from the header, when the reader knows it
    stream: Any = None  # torch.cuda.Stream the frames were made on
    ready: Any = None  # torch.cuda.Event recorded on `stream` after the decode

    def use_on(self, stream: Any) -> None:
        """Make `stream` wait for the decode (on the GPU, not the host), and keep the frames' memory from
        being reused before `stream`'s kernels that read them have run."""
        if self.ready is None:
            return
        stream.wait_event(self.ready)
        if self.frames.is_cuda and stream != self.stream:
            self.frames.record_stream(stream)


@dataclass
class Prepared:
    """One clip's CPU side, made in a DataLoader worker on the CUDA path: the plan and its audio span
    (cut per frame in the main process at the decoded frame times)."""

    plan: ClipPlan
    audio: AudioSpan | None = None
    error: dict[str, Any] | None = None


def _failure(plan: ClipPlan, error: BaseException, attempt: int) -> dict[str, Any]:
    reason = error.reason if isinstance(error, MediaError) else f"{type(error).__name__}: {error}"
    name = plan.video if isinstance(plan.video, str) else "<bytes>"
    return {"clip_id": plan.clip_id, "file": name, "reason": reason, "attempt": attempt}


def _resolve_device(device: str | torch.device) -> torch.device:
    """The collator's device; a bare "cuda" becomes `cuda:{current_device()}` of the calling thread, once,
    so decode threads (whose current device is 0) decode on the GPU this process set with `set_device`."""
    check_device(device, "VideoCollator")
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


@contextlib.contextmanager
def _on_stream(device: torch.device, stream: Any) -> Iterator[None]:
    """Run the block on `device` and `stream` (a pool thread's own current stream is the default one)."""
    if stream is None:
        yield
        return
    with torch.cuda.device(device), torch.cuda.stream(stream):
        yield


class VideoCollator:
    """Turns a list of `ClipPlan`s into a batch dict of fixed-shape tensors on `device`.

    `size`: output (H, W), one int for squares, or a list of (H, W) aspect-ratio buckets (each clip
    goes to the closest; batch with `BucketBatchSampler` so a batch is one bucket); `fit` "crop"
    (fill, crop around the face from the keypoints, else the centre), "pad" (letterbox, nothing
    cut) or "face" (one face-aligned box per window, `face_margin` per side). `dtype` and
    `value_range` set the video's type and range (uint8 keeps 0..255). A bare `device="cuda"` means
    the calling thread's current GPU.

    Grouped options: `audio` (`AudioOptions`: +-k frame windows and sample rate; False for no audio;
    clips of different output fps share a batch, audio padded to the longest, `samples_per_frame` per
    clip); `extras` (`BatchExtras`: face masks, EMO's face region and head-speed buckets, log-mel
    frames, a user's speech-model features; see `training.extras`); `decode` (`DecodeOptions`:
    backend, one-pass decoding, decoder cache, decode sessions, CPU-fallback policy).

    A clip that fails is logged, listed in `batch["errors"]` and replaced: by `replace(plan, attempt)`
    (`clip_loader` wires one drawing from the same group) up to `max_attempts` times, else by another
    clip of the batch; when every clip fails, a `MediaError` names the files. Motion / reference frames
    come when the plans carry them (`ClipDataset(motion=, reference=)`), cropped like the window.
    """

    def __init__(
        self,
        size: int | tuple[int, int] | list[tuple[int, int]] = 512,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        value_range: tuple[float, float] = (-1.0, 1.0),
        fit: Fit = "crop",
        face_margin: float = FACE_MARGIN,
        audio: AudioOptions | bool = True,
        extras: BatchExtras | None = None,
        decode: DecodeOptions | None = None,
        replace: Callable[[ClipPlan, int], ClipPlan] | None = None,
        max_attempts: int = 3,
    ):
        self.device = _resolve_device(device)
        self.buckets = [(int(h), int(w)) for h, w in size] if isinstance(size, list) else None
        if self.buckets is not None and not self.buckets:
            raise ValueError("size=[]: give at least one (height, width) bucket")
        one = self.buckets[0] if self.buckets else size
        self.size = (one, one) if isinstance(one, int) else (int(one[0]), int(one[1]))
        cuda = self.device.type == "cuda"
        self.decode = decode or DecodeOptions()
        if cuda and self.decode.backend != "torchcodec":
            raise ValueError("CUDA decoding uses torchcodec (NVDEC); decord's registry build is CPU only")
        if fit not in ("crop", "pad", "face"):
            raise ValueError(f"fit={fit!r}: use 'crop', 'pad' or 'face'")
        self.audio: AudioOptions | None = AudioOptions() if audio is True else (audio or None)
        self.extras = extras or BatchExtras()
        if self.extras.needs_audio and self.audio is None:
            raise ValueError("BatchExtras(mel=, audio_features=) are computed from the batch's audio: keep audio on")
        if max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
        self.dtype, self.value_range, self.fit, self.face_margin = dtype, value_range, fit, face_margin
        self.reader_cache = (8 if cuda else 4) if self.decode.reader_cache is None else self.decode.reader_cache
        self.decode_sessions = max(1, self.decode.sessions or (7 if cuda else 1))
        self.replace, self.max_attempts = replace, max_attempts
        self.report = EpochReport()  # failures seen by this process (see clip_loader for the epoch's)
        self._readers: OrderedDict[str, tuple[Any, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()  # guards the reader cache, the pool's creation and `_fell_back`
        self._pool: ThreadPoolExecutor | None = None
        self._fell_back: set[str] = set()  # files already warned about

    @property
    def sample_rate(self) -> int:
        """The batch's audio sample rate."""
        return (self.audio or AudioOptions()).sample_rate

    def __getstate__(self) -> dict[str, Any]:  # decoders, locks and threads stay in their process
        state = dict(self.__dict__)
        state.update(_readers=OrderedDict(), _lock=None, _pool=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # --- decoding ------------------------------------------------------------------------------
    def _open(self, source: str | bytes) -> Any:
        opts = self.decode
        if opts.backend == "torchcodec":
            if self.device.type == "cuda":
                return TorchcodecReader(source, device=str(self.device), seek_mode=opts.seek_mode)
            return TorchcodecReader(source, seek_mode=opts.seek_mode, num_threads=opts.threads)
        return open_reader(source, backend=opts.backend, num_threads=opts.threads)

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

    def _check_fallback(self, source: str | bytes, reader: Any) -> bool:
        """Whether `reader` decodes on the CPU although the collator is on CUDA: warned once per file,
        refused with `DecodeOptions(cpu_fallback="raise")`."""
        reason = getattr(reader, "cpu_fallback", None)
        if not reason:
            return False
        name = source if isinstance(source, str) else "<bytes>"
        if self.decode.cpu_fallback == "raise":
            raise GpuFallbackError(name, reason)
        with self._lock:
            first = name not in self._fell_back
            self._fell_back.add(name)
        if first:
            warnings.warn(f"{name}: NVDEC not used, torchcodec decodes this file on the CPU and uploads the "
                          f"frames ({reason}); batch['gpu_fallback'] marks its clips, "
                          "DecodeOptions(cpu_fallback='raise') refuses it", RuntimeWarning, stacklevel=2)
        return True

    def _decode_group(self, plans: Sequence[ClipPlan], stream: Any = None) -> list[Decoded | BaseException]:
        """Frames of several windows of one file: the sorted union of their indices in one call, on
        `stream` (the caller's CUDA stream; None on CPU), with an event recorded after the work."""
        source = plans[0].video
        with _on_stream(self.device, stream):
            try:
                reader, lock = self._reader(source)
                n = int(getattr(reader, "num_frames", 0) or 0)
                wanted = [np.minimum(i, n - 1) if n else i  # the header over-counts
                          for i in map(indices_with_context, plans)]
                union = np.unique(np.concatenate(wanted))
                with lock:
                    frames, pts = reader.get_frames([int(i) for i in union])
                fallback = self._check_fallback(source, reader)
            except DECODE_ERRORS as e:
                self._forget(source)  # a decoder that failed may be left mid-stream
                return [e] * len(plans)
            pts = pts.cpu()
            parts: list[tuple[torch.Tensor, torch.Tensor]] = []
            for idx in wanted:
                if len(idx) == len(union) and np.array_equal(idx, union):
                    parts.append((frames, pts))  # distinct, increasing indices: no gather copy
                    continue
                pos = np.searchsorted(union, idx)
                if np.array_equal(pos, np.arange(pos[0], pos[0] + len(pos))):  # a run of the union: a view, no copy
                    parts.append((frames[pos[0] : pos[0] + len(pos)], pts[pos[0] : pos[0] + len(pos)]))
                    continue
                t = torch.as_tensor(pos)  # repeated or scattered frames: gather, keeping the (T, H, W, C) memory layout
                gathered = frames.permute(0, 2, 3, 1).index_select(0, t.to(frames.device)).permute(0, 3, 1, 2)
                parts.append((gathered, pts.index_select(0, t)))
            ready = None
            if stream is not None:  # the consumer waits for this on the GPU, the host does not
                ready = torch.cuda.Event()
                ready.record(stream)
        start = getattr(reader, "start_seconds", None)
        return [Decoded(f, p, fallback, start, stream, ready) for f, p in parts]

    def _session_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.decode_sessions, thread_name_prefix="facevid-decode")
            return self._pool

    def _stream(self) -> Any:
        """The calling thread's current CUDA stream on the collator's device (None on CPU)."""
        return torch.cuda.current_stream(self.device) if self.device.type == "cuda" else None

    def decode_videos(self, plans: Sequence[ClipPlan]) -> list[Decoded | BaseException]:
        """Each plan's frames and pts (or the error its file gave), windows of one file decoded together
        (`one_pass`), up to `decode_sessions` files at once, all on the caller's CUDA stream."""
        groups: OrderedDict[Any, list[int]] = OrderedDict()
        for i, p in enumerate(plans):
            key = p.video if self.decode.one_pass and isinstance(p.video, str) else ("item", i)
            groups.setdefault(key, []).append(i)
        jobs = list(groups.values())
        stream = self._stream()  # captured here: a pool thread's current stream is the default one
        out: list[Decoded | BaseException | None] = [None] * len(plans)
        if self.decode_sessions > 1 and len(jobs) > 1:
            pool = self._session_pool()
            results = list(pool.map(lambda g: self._decode_group([plans[i] for i in g], stream), jobs))
        else:
            results = [self._decode_group([plans[i] for i in g], stream) for g in jobs]
        for g, res in zip(jobs, results, strict=True):
            for i, r in zip(g, res, strict=True):
                out[i] = r
        return out  # type: ignore[return-value]

    def decode_frames(self, plan: ClipPlan) -> Decoded:
        """The plan's frames (T, C, H, W) uint8 on the decode device and their pts (T,) seconds, ready
        to use on the calling thread's stream."""
        res = self._decode_group([plan], self._stream())[0]
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
                raw = self.decode_frames(own).frames
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
        """Audio samples per output frame of a clip at `fps` (its share of the batch's padded frame)."""
        return samples_per_frame(self.sample_rate, fps)

    def read_audio(self, plan: ClipPlan, video_start: float | None = None) -> AudioSpan | None:
        """The audio span `plan`'s frames can need (fixed by the plan: the same on both paths); None when
        audio is off or the clip has none. `video_start`: the video stream's first pts, when known (else
        read from the file's header)."""
        if self.audio is None or plan.audio is None:
            return None
        return read_audio(plan, _video_start(plan.video) if video_start is None else video_start, self.audio)

    def _finish(self, plan: ClipPlan, decoded: Decoded, prepared: Prepared | None) -> ClipTensors:
        frames, pts = decoded.frames, decoded.pts
        T = len(plan.indices)
        context = self._context(plan, frames) if plan.motion is not None or plan.reference is not None else None
        frames, pts = frames[:T], pts[:T]
        video, omap = fit_with_map(plan, frames, self.size_for(plan), self.fit, self.face_margin)
        kp = None if plan.keypoints is None else torch.from_numpy(omap.points(plan.keypoints))
        video = to_dtype(video, self.dtype, self.value_range)
        audio = None
        if self.audio is not None and plan.audio is not None:  # cut at the instant each output frame stands
            # for, from its decoded pts (the file's own clock), whichever process read the span ahead
            times = pts.numpy().astype(np.float64) + (plan.times - plan.indices / plan.source_fps)
            ahead = prepared.audio if prepared is not None else self.read_audio(plan, decoded.video_start)
            span = audio_for_frames(plan, times, ahead, self.audio)
            if span is not None:
                audio = _cut_audio(span, plan, times, window=self.audio.window)
        return ClipTensors(plan, video, kp, audio, omap, context, decoded.fallback)

    def decode_one(self, plan: ClipPlan) -> ClipTensors:
        """Decode, resize and align one clip (raises MediaError on a bad file)."""
        return self._finish(plan, self.decode_frames(plan), None)

    def prepare(self, plans: Sequence[ClipPlan]) -> list[Prepared]:
        """The CPU side of each clip (its audio span), for DataLoader workers on the CUDA path; a clip
        whose audio fails carries its error, and the main process replaces it."""
        out = []
        for plan in plans:
            try:
                out.append(Prepared(plan, self.read_audio(plan)))
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

    def _refuse_worker_process(self) -> None:
        """A CUDA collator cannot decode inside a DataLoader worker process (torchcodec cannot create CUDA
        decoders there, and each worker would hold its own CUDA context): say what to do instead."""
        if self.device.type == "cuda" and torch.utils.data.get_worker_info() is not None:
            raise RuntimeError(f"VideoCollator(device={str(self.device)!r}) was called inside a DataLoader worker "
                               "process: use clip_loader(dataset, collator, ...), which runs collator.prepare in "
                               "the workers and decodes on the GPU in the main process (or pass "
                               "collate_fn=collator.prepare and wrap the DataLoader in CudaPrefetcher)")

    def __call__(self, items: Sequence[ClipPlan | Prepared]) -> dict[str, Any]:
        """The batch dict of `items` (plans, or `Prepared` clips from `prepare` on the CUDA path)."""
        self._refuse_worker_process()
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
        consumer = self._stream()
        for i, res in zip(todo, self.decode_videos([plans[i] for i in todo]), strict=True):
            try:
                if isinstance(res, BaseException):
                    raise res
                res.use_on(consumer)
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
        batch = stack_batch(items, device=self.device, audio=self.audio)
        dev, T, K = self.device, batch["video"].shape[1], batch["keypoints"].shape[2]
        batch["face_crop"] = torch.tensor([self.fit != "pad" and face_extent(d.plan) is not None for d in items])
        for name in ("motion", "reference"):
            if items[0].context and name in items[0].context:
                batch.update(stack_context(name, [d.context[name] for d in items if d.context], K, dev))
        batch.update(self.extras.stack(items, self.size_for(items[0].plan), dev))
        if self.audio is not None and self.extras.needs_audio:
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
