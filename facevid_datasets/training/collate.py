"""Decode a batch of clip plans into fixed-shape tensors on the trainer's device.

`VideoCollator` is the DataLoader `collate_fn` on CPU (it then decodes in worker processes), and
is called in the main process on CUDA, where torchcodec decodes on NVDEC and the resize runs on the
GPU (`clip_loader` sets up either, overlapping GPU decode with the training step). Both paths run
the same code after decoding, so they agree up to decoder rounding.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from .. import vocab
from ..errors import MediaError
from ..media import AUDIO_SAMPLE_RATE, TorchcodecReader, decode_audio, open_reader
from .plan import ClipPlan

logger = logging.getLogger(__name__)

Fit = Literal["crop", "pad"]

#: Attribute ids the batch carries (index in the DH-FaceVid-1K vocabulary, -1 when unknown/other).
ID_FIELDS = ("ethnicity", "gender", "age_group", "emotion", "head_pose")


@dataclass
class _Decoded:
    plan: ClipPlan
    video: torch.Tensor  # (T, C, H, W) in the output size and dtype
    keypoints: torch.Tensor | None  # (T, K, 3) in output pixels
    audio: torch.Tensor | None  # (T * spf,)
    windows: torch.Tensor | None  # (T, (2k+1) * spf)


def _label_id(kind: str, value: Any) -> int:
    if value is None:
        return -1
    canon = vocab.map_label(kind, value)
    names = vocab.VOCABULARIES[kind]
    lower = [n.lower() for n in names]
    return lower.index(canon.lower()) if isinstance(canon, str) and canon.lower() in lower else -1


class VideoCollator:
    """Turns a list of `ClipPlan`s into a batch dict of fixed-shape tensors on `device`.

    `size`: output (H, W) or one int for squares; `fit` "crop" (fill, crop around the face from the
    keypoints, else the centre) or "pad" (letterbox, nothing cut). `dtype` and `value_range` set
    the video's type and range (uint8 keeps 0..255). Audio is mono at `sample_rate`, cut per
    output frame; `audio_window` k adds each frame's +-k frame window. A clip that fails to decode
    is logged, listed in `batch["errors"]` and replaced by another clip of the batch.
    """

    def __init__(
        self,
        size: int | tuple[int, int] = 512,
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
        reader_cache: int = 0,
    ):
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.device = torch.device(device)
        if self.device.type == "cuda" and backend != "torchcodec":
            raise ValueError("CUDA decoding uses torchcodec (NVDEC); decord's registry build is CPU only")
        if fit not in ("crop", "pad"):
            raise ValueError(f"fit={fit!r}: use 'crop' or 'pad'")
        self.dtype, self.value_range, self.fit = dtype, value_range, fit
        self.audio, self.audio_window, self.sample_rate = audio, audio_window, sample_rate
        self.backend, self.seek_mode, self.decode_threads = backend, seek_mode, decode_threads
        self.reader_cache = reader_cache
        self._readers: OrderedDict[str, Any] = OrderedDict()

    # --- decoding ------------------------------------------------------------------------------
    def _reader(self, source: str | bytes) -> Any:
        key = source if isinstance(source, str) else None
        if key is not None and key in self._readers:
            self._readers.move_to_end(key)
            return self._readers[key]
        if self.backend == "torchcodec":
            if self.device.type == "cuda":
                from torchcodec.decoders import set_cuda_backend

                with set_cuda_backend("nvdec"):
                    reader = TorchcodecReader(source, device=str(self.device), seek_mode=self.seek_mode)
            else:
                reader = TorchcodecReader(source, seek_mode=self.seek_mode, num_threads=self.decode_threads)
        else:
            reader = open_reader(source, backend=self.backend, num_threads=self.decode_threads)
        if key is not None and self.reader_cache > 0:
            self._readers[key] = reader
            while len(self._readers) > self.reader_cache:
                self._readers.popitem(last=False)
        return reader

    def decode_frames(self, plan: ClipPlan) -> tuple[torch.Tensor, torch.Tensor]:
        """The plan's frames (T, C, H, W) uint8 on the decode device, and their pts (T,) seconds."""
        uniq, inverse = np.unique(plan.indices, return_inverse=True)
        reader = self._reader(plan.video)
        n = getattr(reader, "num_frames", 0)
        if n and uniq[-1] >= n:  # the record over-counts frames (approximate header): clamp to the file
            uniq = np.minimum(uniq, n - 1)
        frames, pts = reader.get_frames([int(i) for i in uniq])
        if len(uniq) == len(plan.indices) and np.array_equal(uniq, plan.indices):
            return frames, pts.cpu()  # distinct, increasing indices (the usual case): no gather copy
        inv = torch.as_tensor(inverse.reshape(-1), device=frames.device)
        return frames.index_select(0, inv), pts.cpu().index_select(0, inv.cpu())

    # --- geometry ------------------------------------------------------------------------------
    def _face_centre(self, plan: ClipPlan, w: int, h: int) -> tuple[float, float]:
        kp = plan.keypoints
        if kp is not None and len(kp):
            pts = kp[plan.valid] if plan.valid.any() else kp
            ok = pts[..., 2] > 0 if pts.shape[-1] == 3 else np.ones(pts.shape[:-1], bool)
            ok &= np.isfinite(pts[..., 0]) & np.isfinite(pts[..., 1])
            if ok.any():  # centre of the points' box: dense landmark regions do not pull it
                x, y = pts[..., 0][ok], pts[..., 1][ok]
                return float(x.min() + x.max()) / 2, float(y.min() + y.max()) / 2
        return w / 2.0, h / 2.0

    def _geometry(self, plan: ClipPlan, kp_scale: tuple[float, float], w: int, h: int) -> tuple[float, ...]:
        """Crop (top, left, height, width) in decoded pixels; output = (crop - offset) * scale + pad."""
        H, W = self.size
        if self.fit == "crop":
            cw = min(float(w), h * W / H)
            ch = cw * H / W
            cx, cy = self._face_centre(plan, plan.width or w, plan.height or h)
            cx, cy = cx * kp_scale[0], cy * kp_scale[1]
            left = int(round(min(max(cx - cw / 2, 0.0), w - cw)))
            top = int(round(min(max(cy - ch / 2, 0.0), h - ch)))
            return top, left, int(round(ch)), int(round(cw)), 0, 0
        s = min(H / h, W / w)
        nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
        return 0, 0, h, w, (H - nh) // 2, (W - nw) // 2

    def transform(self, plan: ClipPlan, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Resize/crop the frames to the output size and move keypoints into output pixels."""
        H, W = self.size
        h, w = frames.shape[-2:]
        # keypoints are in the record's stored-video pixels; decoded frames may differ (rotation is
        # already applied by the decoder, a training copy may be smaller)
        kp_scale = (w / plan.width if plan.width else 1.0, h / plan.height if plan.height else 1.0)
        top, left, ch, cw, pad_top, pad_left = self._geometry(plan, kp_scale, w, h)
        if self.fit == "crop":
            out = TF.resized_crop(frames, top, left, ch, cw, [H, W], antialias=True)
            sx, sy = W / cw, H / ch
        else:
            s = min(H / h, W / w)
            nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
            out = TF.resize(frames, [nh, nw], antialias=True)
            out = torch.nn.functional.pad(out, (pad_left, W - nw - pad_left, pad_top, H - nh - pad_top))
            sx, sy = nw / w, nh / h
        kp = None
        if plan.keypoints is not None:
            k = torch.as_tensor(plan.keypoints, dtype=torch.float32).clone()
            k[..., 0] = (k[..., 0] * kp_scale[0] - left) * sx + pad_left
            k[..., 1] = (k[..., 1] * kp_scale[1] - top) * sy + pad_top
            kp = k
        return out, kp

    def _to_dtype(self, video: torch.Tensor) -> torch.Tensor:
        if self.dtype == torch.uint8:
            return video
        lo, hi = self.value_range
        return video.to(self.dtype) * ((hi - lo) / 255.0) + lo

    # --- audio ---------------------------------------------------------------------------------
    def samples_per_frame(self, fps: float) -> int:
        return int(round(self.sample_rate / fps))

    def _audio(self, plan: ClipPlan, times: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Per-frame audio (T * spf) at the frames' instants, and +-k frame windows (T, (2k+1) * spf)."""
        if not self.audio or plan.audio is None:
            return None, None
        k, sr, f = self.audio_window, self.sample_rate, plan.fps
        spf = self.samples_per_frame(f)
        a0 = float(times.min()) - k / f
        a1 = float(times.max()) + (k + 1) / f
        wav = decode_audio(plan.audio, a0, a1, sr)
        if wav is None:
            return None, None
        margin = spf * (k + 1)
        wav = torch.nn.functional.pad(wav, (margin, margin))
        offsets = np.round((times - a0) * sr).astype(np.int64) + margin
        valid = torch.as_tensor(plan.valid)
        ar = torch.arange(spf)
        per_frame = wav[torch.as_tensor(offsets)[:, None] + ar]  # (T, spf)
        per_frame[~valid] = 0
        windows = None
        if k > 0:
            war = torch.arange(-k * spf, (k + 1) * spf)
            windows = wav[torch.as_tensor(offsets)[:, None] + war]
            windows[~valid] = 0
        return per_frame.reshape(-1), windows

    # --- one clip and a batch -------------------------------------------------------------------
    def decode_one(self, plan: ClipPlan) -> _Decoded:
        """Decode, resize and align one clip (raises MediaError on a bad file)."""
        frames, pts = self.decode_frames(plan)
        video, kp = self.transform(plan, frames)
        video = self._to_dtype(video)
        # the instant each output frame stands for, on the file's own clock
        times = pts.numpy().astype(np.float64) + (plan.times - plan.indices / plan.source_fps)
        audio, windows = self._audio(plan, times)
        return _Decoded(plan, video, kp, audio, windows)

    def __call__(self, plans: Sequence[ClipPlan]) -> dict[str, Any]:
        if not len(plans):
            raise ValueError("empty batch")
        decoded: list[_Decoded | None] = []
        errors: list[dict[str, str]] = []
        for plan in plans:
            try:
                decoded.append(self.decode_one(plan))
            except (MediaError, RuntimeError, ValueError, OSError) as e:
                reason = e.reason if isinstance(e, MediaError) else str(e)
                name = plan.video if isinstance(plan.video, str) else "<bytes>"
                logger.warning("clip %s (%s) replaced in batch: %s", plan.clip_id, name, reason)
                errors.append({"clip_id": plan.clip_id, "file": name, "reason": reason})
                decoded.append(None)
        good = [d for d in decoded if d is not None]
        if not good:
            raise MediaError(errors[0]["file"], f"every clip of the batch failed to decode: {errors}")
        replaced = [d is None for d in decoded]
        items = [d if d is not None else good[i % len(good)] for i, d in enumerate(decoded)]
        batch = self._stack(items)
        batch["replaced"] = torch.tensor(replaced)
        batch["errors"] = errors
        return batch

    def _stack(self, items: list[_Decoded]) -> dict[str, Any]:
        dev = self.device
        B, T = len(items), len(items[0].plan.indices)
        fps = [d.plan.fps for d in items]
        batch: dict[str, Any] = {
            "video": torch.stack([d.video for d in items]).to(dev, non_blocking=True),
            "frame_mask": torch.as_tensor(np.stack([d.plan.valid for d in items])).to(dev),
            "indices": torch.as_tensor(np.stack([d.plan.indices for d in items])),
            "fps": torch.tensor(fps, dtype=torch.float64),
            "clip_id": [d.plan.clip_id for d in items],
            "row": torch.tensor([d.plan.row for d in items]),
            "position": torch.tensor([d.plan.position for d in items]),
            "duration": torch.tensor([d.plan.duration for d in items], dtype=torch.float64),
            "caption": [d.plan.labels.get("caption") for d in items],
            "attributes": [d.plan.labels.get("attributes") for d in items],
            "source": [d.plan.labels.get("source") for d in items],
            "language": [d.plan.labels.get("language") for d in items],
        }
        for kind in ID_FIELDS:
            key = "head_pose_label" if kind == "head_pose" else kind
            vals = [d.plan.labels.get(key) if kind == "head_pose" else (d.plan.labels.get("attributes") or {}).get(key)
                    for d in items]
            batch[f"{kind}_id"] = torch.tensor([_label_id(kind, v) for v in vals])
        if self.audio:
            spfs = {self.samples_per_frame(f) for f in fps}
            if len(spfs) > 1:
                raise ValueError(f"clips of one batch have different frame rates {sorted(set(fps))}: set fps= "
                                 "on the ClipDataset so audio per frame has one length")
            spf = spfs.pop()
            k = self.audio_window
            audio = torch.zeros(B, T * spf)
            windows = torch.zeros(B, T, (2 * k + 1) * spf)
            amask = torch.zeros(B, dtype=torch.bool)
            for b, d in enumerate(items):
                if d.audio is not None:
                    audio[b], amask[b] = d.audio, True
                    if d.windows is not None:
                        windows[b] = d.windows
            batch["audio"], batch["audio_mask"] = audio.to(dev), amask.to(dev)
            if k > 0:
                batch["audio_windows"] = windows.to(dev)
        K = max((d.keypoints.shape[1] for d in items if d.keypoints is not None), default=0)
        kps = torch.zeros(B, T, K, 3)
        kmask = torch.zeros(B, T, dtype=torch.bool)
        pose = torch.zeros(B, T, 3)
        pmask = torch.zeros(B, T, dtype=torch.bool)
        for b, d in enumerate(items):
            valid = torch.as_tensor(d.plan.valid)
            if d.keypoints is not None:
                kps[b, :, : d.keypoints.shape[1]] = d.keypoints
                kmask[b] = valid
            if d.plan.head_pose is not None:
                pose[b] = torch.as_tensor(d.plan.head_pose)
                pmask[b] = valid & torch.isfinite(pose[b]).all(-1)
        batch.update(keypoints=kps.to(dev), keypoints_mask=kmask.to(dev), head_pose=pose.to(dev),
                     head_pose_mask=pmask.to(dev))
        return batch


def plans_collate(plans: Sequence[ClipPlan]) -> list[ClipPlan]:
    """collate_fn for the CUDA path: workers only plan; the main process decodes on the GPU."""
    return list(plans)
