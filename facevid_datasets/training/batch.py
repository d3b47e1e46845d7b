"""Decoded clips to the batch dict: fixed-shape tensors, labels as vocabulary ids, masks for what is missing.

Audio of clips with different output frame rates is padded per frame to the longest frame
(`samples_per_frame` gives each clip's own length); `audio_frame_mask` says which frames the audio
track really plays (one that ends early leaves zero padding, which is not speech); keypoints and
head pose that are not finite are zeroed and masked, so no NaN reaches the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import vocab
from .audio import AudioOptions, FrameAudio, samples_per_frame
from .geometry import OutputMap, clean_keypoints
from .plan import ClipPlan

#: Attribute ids the batch carries (index in the DH-FaceVid-1K vocabulary, -1 when unknown/other).
ID_FIELDS = ("ethnicity", "gender", "age_group", "emotion", "head_pose")


@dataclass
class ClipTensors:
    """One clip decoded, resized and aligned, ready to stack."""

    plan: ClipPlan
    video: torch.Tensor  # (T, C, H, W) in the output size and dtype
    keypoints: torch.Tensor | None  # (T, K, 3) in output pixels
    audio: FrameAudio | None  # None: no audio (or audio off)
    omap: OutputMap | None = None  # stored pixels -> output pixels (for boxes and masks)
    context: dict[str, tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] | None = None  # motion / reference
    gpu_fallback: bool = False  # a CUDA collator's decoder fell back to the CPU for this clip's file


def _label_id(kind: str, value: Any) -> int:
    if value is None:
        return -1
    canon = vocab.map_label(kind, value)
    names = vocab.VOCABULARIES[kind]
    lower = [n.lower() for n in names]
    return lower.index(canon.lower()) if isinstance(canon, str) and canon.lower() in lower else -1


def stack_batch(items: list[ClipTensors], *, device: torch.device, audio: AudioOptions | None) -> dict[str, Any]:
    """The batch dict: video, masks, labels, audio and keypoints of `items`, on `device`; `gpu_fallback`
    (B,) marks clips a CUDA collator's decoder decoded on the CPU instead of NVDEC."""
    dev = device
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
        "gpu_fallback": torch.tensor([d.gpu_fallback for d in items]),
    }
    for kind in ID_FIELDS:
        key = "head_pose_label" if kind == "head_pose" else kind
        vals = [d.plan.labels.get(key) if kind == "head_pose" else (d.plan.labels.get("attributes") or {}).get(key)
                for d in items]
        batch[f"{kind}_id"] = torch.tensor([_label_id(kind, v) for v in vals])
    if audio is not None:
        batch.update({k: v.to(dev) if isinstance(v, torch.Tensor) and k != "samples_per_frame" else v
                      for k, v in stack_audio(items, T, audio.sample_rate, audio.window).items()})
    K = max((d.keypoints.shape[1] for d in items if d.keypoints is not None), default=0)
    kps = torch.zeros(B, T, K, 3)
    kmask = torch.zeros(B, T, dtype=torch.bool)
    pose = torch.zeros(B, T, 3)
    pmask = torch.zeros(B, T, dtype=torch.bool)
    for b, d in enumerate(items):
        valid = torch.as_tensor(d.plan.valid)
        if d.keypoints is not None:  # NaN / inf points never reach the batch: zeroed and masked
            pts, usable = clean_keypoints(d.keypoints)
            kps[b, :, : pts.shape[1]] = pts
            kmask[b] = valid & usable
        if d.plan.head_pose is not None:
            p = torch.as_tensor(d.plan.head_pose, dtype=torch.float32)
            ok = torch.isfinite(p).all(-1)
            pose[b] = torch.where(ok[:, None], p, torch.zeros(()))
            pmask[b] = valid & ok
    batch.update(keypoints=kps.to(dev), keypoints_mask=kmask.to(dev), head_pose=pose.to(dev),
                 head_pose_mask=pmask.to(dev))
    return batch


def stack_audio(items: list[ClipTensors], T: int, sample_rate: int, window: int) -> dict[str, torch.Tensor]:
    """Audio of the batch; clips of different output fps are padded to the longest frame.
    `audio_frame_mask` (B, T): the track plays all of the frame's own samples; `audio_mask` (B,): it
    plays at least one frame's (a window wholly past the end of a short track is masked)."""
    B, k = len(items), window
    spfs = [samples_per_frame(sample_rate, d.plan.fps) for d in items]
    S = max(spfs)
    audio = torch.zeros(B, T, S)
    windows = torch.zeros(B, T, (2 * k + 1) * S)
    heard = torch.zeros(B, T, dtype=torch.bool)
    for b, (d, spf) in enumerate(zip(items, spfs, strict=True)):
        if d.audio is not None:
            audio[b, :, :spf], heard[b] = d.audio.audio.reshape(T, spf), d.audio.heard
            if d.audio.windows is not None:
                windows[b, :, : (2 * k + 1) * spf] = d.audio.windows
    out = {"audio": audio.reshape(B, T * S), "audio_mask": heard.any(1), "audio_frame_mask": heard,
           "samples_per_frame": torch.tensor(spfs)}
    if k > 0:
        out["audio_windows"] = windows
    return out
