"""What a talking-face training step gets beside the window: context frames, face masks, EMO's conditions
and audio features, stacked into the batch by `VideoCollator` when asked for.

- motion / reference frames (Hallo, EMO, MCDM): decoded with the window, cropped like it (an identity
  reference from another clip is cropped around its own face), keypoints moved with them;
- `face_mask` / `mouth_mask` (lip-sync inpainting, LatentSync / MuseTalk style): per-frame boxes from the
  keypoints in output pixels; the mouth box is the lower face, from the nose tip down;
- `face_region` (EMO's face locator): the union of the window's face boxes (the record's detector
  boxes, else boxes grown from the keypoints);
- `head_speed` (EMO's speed layers): degrees per second between successive frames' head poses, with
  the soft bucket code stacked over +-m frames;
- `mel` / `audio_features`: log-mel frames per video frame, or a user's speech model's features
  resampled to the video frames, computed on the collator's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .audio_features import FeatureModel, LogMel, features_per_frame
from .conditions import SpeedBuckets, boxes_from_keypoints, face_region_mask
from .geometry import clean_keypoints
from .plan import ClipPlan

#: ibug-68 landmarks: nose tip and the jaw line (for the lower-face / mouth box).
_IBUG_NOSE_TIP, _IBUG_JAW = 30, slice(0, 17)


def indices_with_context(plan: ClipPlan) -> np.ndarray:
    """The frames to decode from the plan's file: the window, then its motion frames, then reference
    frames taken from the same clip (a reference from another clip is decoded from that file)."""
    parts = [plan.indices]
    if plan.motion is not None:
        parts.append(plan.motion.indices)
    if plan.reference is not None and plan.reference.video is None:
        parts.append(plan.reference.indices)
    return np.concatenate(parts) if len(parts) > 1 else plan.indices


def stack_context(name: str, parts: list[tuple[torch.Tensor, Any, torch.Tensor]], K: int,
                   dev: torch.device) -> dict[str, torch.Tensor]:
    """`name` (B, n, C, H, W), `name_mask` (B, n) and `name_keypoints` (B, n, K, 3) of the batch."""
    frames = torch.stack([f for f, _, _ in parts]).to(dev, non_blocking=True)
    mask = torch.stack([v for _, _, v in parts]).to(dev)
    B, n = mask.shape
    K = max([K, *(k.shape[1] for _, k, _ in parts if k is not None)])
    kps = torch.zeros(B, n, K, 3)
    for b, (_, k, _) in enumerate(parts):
        if k is not None:
            kps[b, :, : k.shape[1]] = clean_keypoints(k)[0]
    return {name: frames, f"{name}_mask": mask, f"{name}_keypoints": kps.to(dev)}


def mouth_boxes(kp: np.ndarray, fmt: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower-face boxes (T, 4) from keypoints in output pixels: from the nose tip down to the chin, jaw-wide
    (ibug-68); for other layouts the lower half of the keypoint box."""
    boxes, known = boxes_from_keypoints(kp, margin=0.0)
    out = boxes.copy()
    if fmt == "ibug68" and kp.shape[1] >= 68:
        jaw = kp[:, _IBUG_JAW]
        out[:, 0] = jaw[..., 0].min(1)
        out[:, 2] = jaw[..., 0].max(1)
        out[:, 1] = kp[:, _IBUG_NOSE_TIP, 1]
        out[:, 3] = jaw[..., 1].max(1)
    else:
        out[:, 1] = (boxes[:, 1] + boxes[:, 3]) / 2
    return out, known


@dataclass
class BatchExtras:
    """Which extra keys the collator adds (`VideoCollator(extras=BatchExtras(...))`; all off by default,
    see the module docstring): `face_masks` (boxes grown by `face_margin` per side), `face_region`
    ("union" or per "frame"), `speed` (a `SpeedBuckets`), `mel` (True or a `LogMel`),
    `audio_features` (a user's speech model, run per window on the collator's device)."""

    face_masks: bool = False
    face_margin: float = 0.1
    face_region: Literal["union", "frame"] | None = None
    speed: SpeedBuckets | None = None
    mel: LogMel | bool | None = None
    audio_features: FeatureModel | None = None

    def __post_init__(self) -> None:
        if self.face_region not in (None, "union", "frame"):
            raise ValueError(f"face_region={self.face_region!r}: use 'union', 'frame' or None")
        self.mel = LogMel() if self.mel is True else (self.mel or None)

    @property
    def needs_audio(self) -> bool:
        """Whether these keys are computed from the batch's audio."""
        return self.mel is not None or self.audio_features is not None

    def stack(self, items: list[Any], size: tuple[int, int], device: torch.device) -> dict[str, torch.Tensor]:
        """The extra keys for decoded `items` (each with `.plan`, `.keypoints`, `.omap`)."""
        out: dict[str, torch.Tensor] = {}
        if self.face_masks:
            out.update(self._face_masks(items, size))
        if self.face_region is not None:
            out.update(self._face_region(items, size))
        if self.speed is not None:
            out.update(self._speed(items))
        return {k: v.to(device) for k, v in out.items()}

    def _face_masks(self, items: list[Any], size: tuple[int, int]) -> dict[str, torch.Tensor]:
        B, T = len(items), len(items[0].plan.indices)
        face = np.zeros((B, T, *size), dtype=bool)
        mouth = np.zeros((B, T, *size), dtype=bool)
        known = np.zeros((B, T), dtype=bool)
        for b, d in enumerate(items):
            if d.keypoints is None:
                continue
            kp = d.keypoints.numpy() if isinstance(d.keypoints, torch.Tensor) else np.asarray(d.keypoints)
            boxes, ok = boxes_from_keypoints(kp, margin=self.face_margin)
            ok &= np.asarray(d.plan.valid, dtype=bool)
            face[b] = face_region_mask(boxes, ok, size, per_frame=True)
            mboxes, _ = mouth_boxes(kp, d.plan.keypoint_format)
            mouth[b] = face_region_mask(mboxes, ok, size, per_frame=True)
            known[b] = ok
        return {"face_mask": torch.from_numpy(face), "mouth_mask": torch.from_numpy(mouth),
                "face_mask_known": torch.from_numpy(known)}

    def _face_region(self, items: list[Any], size: tuple[int, int]) -> dict[str, torch.Tensor]:
        B, T = len(items), len(items[0].plan.indices)
        per_frame = self.face_region == "frame"
        region = np.zeros((B, T if per_frame else 1, *size), dtype=bool)
        source = np.zeros(B, dtype=np.int8)  # 0 unknown, 1 detector boxes, 2 grown from keypoints
        for b, d in enumerate(items):
            valid = np.asarray(d.plan.valid, dtype=bool)
            fb = d.plan.face_boxes
            if fb is not None and (fb[:, 4] > 0).any():
                boxes, ok = d.omap.boxes(fb[:, :4]), (fb[:, 4] > 0) & valid
                source[b] = 1
            elif d.keypoints is not None:
                kp = d.keypoints.numpy() if isinstance(d.keypoints, torch.Tensor) else np.asarray(d.keypoints)
                boxes, ok = boxes_from_keypoints(kp)
                ok &= valid
                source[b] = 2 if ok.any() else 0
            else:
                continue
            region[b] = face_region_mask(boxes, ok, size, per_frame=per_frame)
        return {"face_region": torch.from_numpy(region), "face_region_source": torch.from_numpy(source)}

    def _speed(self, items: list[Any]) -> dict[str, torch.Tensor]:
        buckets = self.speed
        if buckets is None:
            return {}
        B, T = len(items), len(items[0].plan.indices)
        m = buckets.context
        deg_s = np.zeros((B, T), dtype=np.float32)
        known = np.zeros((B, T), dtype=bool)
        codes = np.zeros((B, T, buckets.dim), dtype=np.float32)
        cmask = np.zeros((B, T), dtype=bool)
        for b, d in enumerate(items):
            p = d.plan
            if p.head_speed is None:
                continue
            ctx = (len(p.head_speed) - T) // 2
            if ctx < m:
                raise ValueError(f"plans carry +-{ctx} frames of head speed, the speed buckets need +-{m}: "
                                 f"ClipDataset(speed_context={m})")
            cut = slice(ctx - m, ctx + T + m)
            w = p.head_speed[cut] * p.fps  # degrees per second
            k = p.head_speed_known[cut]
            deg_s[b], known[b] = w[m : m + T], k[m : m + T] & np.asarray(p.valid, dtype=bool)
            codes[b], cmask[b] = buckets.encode(w, k)
            cmask[b] &= np.asarray(p.valid, dtype=bool)
        return {"head_speed": torch.from_numpy(deg_s), "head_speed_mask": torch.from_numpy(known),
                "head_speed_code": torch.from_numpy(codes), "head_speed_code_mask": torch.from_numpy(cmask)}

    def audio_keys(self, audio: torch.Tensor, spfs: list[int], T: int, sample_rate: int) -> dict[str, torch.Tensor]:
        """`mel` (B, T, mels_per_frame, n_mels) and/or `audio_features` (B, T, D) from the batch's audio."""
        out: dict[str, torch.Tensor] = {}
        B = audio.shape[0]
        S = audio.shape[1] // T
        clips = [audio[b].reshape(T, S)[:, : spfs[b]].reshape(-1) for b in range(B)]
        if isinstance(self.mel, LogMel):
            out["mel"] = torch.stack([self.mel(c[None], spfs[b], sample_rate)[0] for b, c in enumerate(clips)])
        if self.audio_features is not None:
            rate = getattr(self.audio_features, "sample_rate", sample_rate)
            if rate != sample_rate:
                raise ValueError(f"the feature model expects {rate} Hz audio; the collator's sample_rate is "
                                 f"{sample_rate}: VideoCollator(audio=AudioOptions(sample_rate={rate}))")
            with torch.no_grad():
                feats = [features_per_frame(self.audio_features(c[None]), T)[0] for c in clips]
            out["audio_features"] = torch.stack(feats)
        return out
