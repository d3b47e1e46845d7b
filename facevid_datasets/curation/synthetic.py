"""Generated talking-face clips with one known defect each, to test and benchmark every stage.

The face is scikit-image's `astronaut` (Eileen Collins, NASA, public domain). Its mouth opens
and closes with the loudness envelope of a syllable-like voiced signal (harmonics of a 130 Hz
voice under random syllable bumps), so a clip with its audio in place is in sync and a clip
whose audio is shifted by half a second is not. Each defect changes one thing of a clean clip:

| defect           | change                                          | stage that must drop it |
| ---------------- | ----------------------------------------------- | ----------------------- |
| `clean`          | 512x512, face about 300 px, in sync             | none (kept)             |
| `two_faces`      | two clean frames side by side (1024x512)        | face_count              |
| `tiny_face`      | the shot shrunk to 2/7: face box about 105 px   | face_size               |
| `low_resolution` | clean clip at 256x256                           | resolution              |
| `black_bars`     | 40 px black bars above and below                | border                  |
| `subtitles`      | a line of white text burned into the bottom     | subtitles               |
| `blur_noise`     | heavy Gaussian blur (sigma 5) plus faint noise  | quality                 |
| `scene_cut`      | hard cut to a different shot halfway            | scene (split in two)    |
| `audio_shift`    | audio 0.5 s late against the mouth, 10 s long   | sync                    |

The `audio_shift` clip lasts at least `SHIFT_SECONDS` whatever `seconds` asks: over 2 s the shifted
audio overlaps the mouth for 37 of 50 frames and the envelope sync model's confidence scattered from
0.4 to 3.9 across seeds (a clip scored 2.80 against the 3.0 threshold on one machine and 3.1 on
another), with the offset found at -5 frames; over 10 s it found the true -12 to -13 frames at 4.6
to 6.9 on every seed tried. A defect clip must be unmistakable, not near a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from ..media.ffmpeg import encode_video

#: Each defect and the stage expected to reject it (None: the clip must be kept).
EXPECTED_STAGE: dict[str, str | None] = {
    "clean": None,
    "two_faces": "face_count",
    "tiny_face": "face_size",
    "low_resolution": "resolution",
    "black_bars": "border",
    "subtitles": "subtitles",
    "blur_noise": "quality",
    "scene_cut": "scene",
    "audio_shift": "sync",
}
DEFECTS = tuple(EXPECTED_STAGE)
SAMPLE_RATE = 16_000
MAX_OPEN = 0.22  # widest mouth opening as a fraction of the nose-bridge-to-chin length
SHIFT_SECONDS = 10.0  # shortest `audio_shift` clip: long enough for a confident offset (module docstring)


@dataclass(frozen=True)
class SyntheticClip:
    """A generated clip, its defect and the stage expected to reject it (None: keep)."""

    clip_id: str
    path: Path
    defect: str
    expected_stage: str | None


@cache
def _astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def clean_shot(size: int = 512, variant: int = 0) -> np.ndarray:
    """The astronaut's face cropped and scaled so the face fills about 60% of a `size` frame.

    `variant` 1 is a different shot for scene cuts: mirrored, closer, and colour-graded.
    """
    img = _astronaut()
    cx, cy, half = (225, 134, 78) if variant == 0 else (222, 136, 70)
    shot = cv2.resize(img[cy - half : cy + half, cx - half : cx + half], (size, size), interpolation=cv2.INTER_CUBIC)
    shot = cv2.addWeighted(shot, 1.6, cv2.GaussianBlur(shot, (0, 0), 1.5), -0.6, 0)  # undo upscaling softness
    if variant:
        shot = cv2.flip(shot, 1)
        hsv = cv2.cvtColor(shot, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + 12) % 180  # warmer, darker grade: still skin for a face detector
        hsv[..., 2] = (hsv[..., 2].astype(np.float32) * 0.8).astype(np.uint8)
        shot = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return shot


def tiny_shot(size: int = 512) -> np.ndarray:
    """The clean shot shrunk to 2/7 of the frame over a blurred copy of itself: a small face (box
    about 105 px at 512) in a full-size frame, as `defects.py` makes from real clips."""
    base = clean_shot(size)
    side = size * 2 // 7
    out = cv2.GaussianBlur(base, (0, 0), size / 20)
    top = (size - side) // 2
    out[top : top + side, top : top + side] = cv2.resize(base, (side, side), interpolation=cv2.INTER_AREA)
    return out


@cache
def _base(size: int, variant: int, tiny: bool) -> np.ndarray:
    return tiny_shot(size) if tiny else clean_shot(size, variant)


@cache
def _mouth_geometry(size: int, variant: int, tiny: bool) -> tuple[float, float, float, float, float]:
    """Mouth centre, width, chin y and face height of a base frame (dlib landmarks, computed once)."""
    base = _base(size, variant, tiny)
    from .face_models import Dlib68Landmarks, DlibHogDetector

    faces = DlibHogDetector().detect(base)
    if not faces:
        raise RuntimeError("synthetic base frame: dlib found no face")
    pts = Dlib68Landmarks().landmarks(base, max(faces, key=lambda f: f.area))
    mx, my = pts[60:68, :2].mean(axis=0)
    width = float(np.linalg.norm(pts[54, :2] - pts[48, :2]))
    return float(mx), float(my), width, float(pts[8, 1]), float(np.linalg.norm(pts[8, :2] - pts[27, :2]))


@cache
def _warp_field(shape: tuple[int, int], geometry: tuple[float, float, float, float, float]) -> tuple[np.ndarray, ...]:
    """Pixel grids and the weight of the downward slide of each pixel (1 at the lips, 0 far away)."""
    mx, my, width, chin, face_h = geometry
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    gx = np.exp(-0.5 * ((xx - mx) / (0.6 * width)) ** 2)
    gy = np.where(yy < my, 0.0, np.clip(1 - (yy - my) / (chin - my + 0.45 * face_h), 0, 1))
    return xx, yy, (gx * gy).astype(np.float32)


def open_mouth(frame: np.ndarray, geometry: tuple[float, float, float, float, float], opening: float) -> np.ndarray:
    """Open the mouth by `opening` pixels: the lower face slides down and the gap is dark."""
    mx, my, width, _, _ = geometry
    xx, yy, weight = _warp_field(frame.shape[:2], geometry)
    out = cv2.remap(frame, xx, yy - np.float32(opening) * weight, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if opening >= 1:
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.ellipse(mask, (int(mx), int(my + opening / 2)), (int(0.42 * width), int(opening / 2 + 1)), 0, 0, 360,
                    255, -1)  # fmt: skip
        alpha = cv2.GaussianBlur(mask, (0, 0), 1.5)[..., None] / 255.0
        out = (out * (1 - alpha) + np.array([60, 20, 25]) * alpha).astype(np.uint8)
    return out


def syllable_envelope(seconds: float, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A 0-1 loudness envelope of random syllables (120-260 ms bumps, 40-200 ms pauses)."""
    n = int(round(seconds * rate))
    env = np.zeros(n)
    t = int(rng.uniform(0.02, 0.1) * rate)
    while t < n:
        length = int(rng.uniform(0.12, 0.26) * rate)
        bump = np.hanning(length) ** 0.7 * rng.uniform(0.6, 1.0)
        env[t : t + length] = bump[: max(0, min(length, n - t))]
        t += length + int(rng.uniform(0.04, 0.2) * rate)
    return env


def voiced_audio(envelope: np.ndarray, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A buzzy voice-like signal (harmonics of a wavering 130 Hz pitch plus breath) under `envelope`."""
    t = np.arange(len(envelope)) / rate
    f0 = 130 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    voice = voice / np.abs(voice).max() + 0.05 * rng.standard_normal(len(t))
    return (0.5 * envelope * voice).astype(np.float32)


def _frame_levels(envelope: np.ndarray, fps: float, num_frames: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    edges = np.round(np.arange(num_frames + 1) * rate / fps).astype(int)
    return np.array([envelope[edges[k] : edges[k + 1]].mean() for k in range(num_frames)])


def make_clip(
    defect: str, path: str | Path, *, seconds: float = 2.0, fps: float = 25.0, size: int = 512, seed: int = 0
) -> SyntheticClip:
    """Write one clip with `defect` (one of DEFECTS) to `path` (H.264 + AAC)."""
    if defect not in EXPECTED_STAGE:
        raise ValueError(f"unknown defect {defect!r}; choose from {DEFECTS}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    if defect == "scene_cut":
        seconds *= 2
    if defect == "audio_shift":
        seconds = max(seconds, SHIFT_SECONDS)
    n = int(round(seconds * fps))
    shift = 0.5 if defect == "audio_shift" else 0.0
    env = syllable_envelope(seconds + shift + 0.1, rng)
    levels = _frame_levels(env, fps, n)
    audio = voiced_audio(env, rng)
    if shift:  # the sound of the mouth's frame k plays at frame k + shift * fps
        audio = np.concatenate([np.zeros(int(shift * SAMPLE_RATE), np.float32), audio])
    audio = audio[: int(round(seconds * SAMPLE_RATE))]

    frames = []
    for k in range(n):
        variant = 1 if defect == "scene_cut" and k >= n // 2 else 0
        tiny = defect == "tiny_face"
        geo = _mouth_geometry(size, variant, tiny)
        frame = open_mouth(_base(size, variant, tiny), geo, levels[k] * MAX_OPEN * geo[4])
        frames.append(_apply_defect(defect, frame, rng))
    encode_video(frames, path, fps, audio=audio, sample_rate=SAMPLE_RATE, crf=18)
    return SyntheticClip(path.stem, path, defect, EXPECTED_STAGE[defect])


def _apply_defect(defect: str, frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if defect == "two_faces":
        return np.hstack([frame, cv2.flip(frame, 1)])
    if defect == "low_resolution":
        return cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if defect == "black_bars":
        return cv2.copyMakeBorder(frame, 40, 40, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    if defect == "subtitles":
        out = frame.copy()
        text, font, scale = "Hello and welcome back", cv2.FONT_HERSHEY_DUPLEX, out.shape[1] / 560
        (tw, th), _ = cv2.getTextSize(text, font, scale, 2)
        org = ((out.shape[1] - tw) // 2, out.shape[0] - th)
        cv2.putText(out, text, org, font, scale, (0, 0, 0), 6, cv2.LINE_AA)
        cv2.putText(out, text, org, font, scale, (255, 255, 255), 2, cv2.LINE_AA)
        return out
    if defect == "blur_noise":
        # Stronger noise would not do: OpenCV's BRISQUE scores blur plus noise sigma >= 3 as *better*
        # than the clean frame here (the noise restores the local statistics it looks for).
        blurred = cv2.GaussianBlur(frame, (0, 0), 5.0).astype(np.float32)
        return np.clip(blurred + rng.normal(0, 1.0, frame.shape), 0, 255).astype(np.uint8)
    return frame


def make_labelled_set(
    out_dir: str | Path,
    *,
    clean: int = 2,
    defects: tuple[str, ...] = tuple(d for d in DEFECTS if d != "clean"),
    seconds: float = 2.0,
    fps: float = 25.0,
    seed: int = 0,
) -> list[SyntheticClip]:
    """`clean` clean clips plus one clip per defect in `out_dir` (ids `<defect>_<n>`)."""
    out_dir = Path(out_dir)
    items = [("clean", i) for i in range(clean)] + [(d, 0) for d in defects]
    clips = []
    for k, (defect, i) in enumerate(items):
        path = out_dir / f"{defect}_{i}.mp4"
        clips.append(make_clip(defect, path, seconds=seconds, fps=fps, seed=seed * 1000 + k))
    return clips
