"""The models behind each measurement: one small protocol per kind, offline defaults, a registry.

Every default runs on this machine without downloading anything:

| kind            | default        | what it is                                                              |
| --------------- | -------------- | ----------------------------------------------------------------------- |
| `face_detector` | `dlib-hog`     | dlib's HOG + linear SVM frontal detector (also `opencv-haar`)           |
| `landmarks`     | `dlib-68`      | dlib's 68-point shape predictor, layout `ibug68` (iBUG 300-W points)     |
| `keypoints`     | `dlib-68`      | per-frame keypoints stored in records (the paper uses DWPose)            |
| `ocr`           | `tesseract`    | Tesseract through pytesseract (English data)                             |
| `quality`       | `brisque`      | OpenCV's BRISQUE with the LIVE model files (lower is better)             |
| `sync`          | `av-envelope`  | mouth opening vs audio envelope correlation: a proxy, *not* SyncNet      |
| `head_pose`     | `solvepnp`     | cv2.solvePnP of 6 landmarks on a generic 3D face                         |

dlib's 68-point model was trained on iBUG 300-W, whose images are licensed for research only:
check that before using its output commercially.

The paper's models (DWPose keypoints, SyncNet, a learned IQA) need weights this package cannot
ship or download. Plug them in with `register_model(kind, name, factory)` in an importable
module, or pass `"package.module:factory"` as the model spec: specs are resolved again inside
every worker process (and Ray worker), so factories must be importable there.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

DLIB_PREDICTOR = os.environ.get("FACEVID_DLIB_PREDICTOR", "/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
BRISQUE_DIR = os.environ.get("FACEVID_BRISQUE_DIR", "/usr/share/opencv4/quality")


@dataclass(frozen=True)
class Face:
    """A detected face: box (x, y, w, h) in pixels of the frame, and the detector's score."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class SyncResult:
    """Lip-sync of one clip: `offset` in video frames (> 0: the sound comes after the mouth moves),
    `confidence` on the model's own scale, and the score at every tried offset."""

    confidence: float
    offset: int
    curve: tuple[float, ...] = ()


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in an RGB uint8 frame (H, W, 3)."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]: ...


@runtime_checkable
class LandmarkModel(Protocol):
    """Points of one face given its box: array (P, 3) of x, y, confidence in frame pixels.

    `format` names the layout ("ibug68"); mouth opening and head pose need "ibug68".
    """

    name: str
    format: str

    def landmarks(self, rgb: np.ndarray, face: Face) -> np.ndarray: ...


@runtime_checkable
class TextReader(Protocol):
    """OCR: the text found in a grayscale uint8 image."""

    name: str

    def read(self, gray: np.ndarray) -> str: ...


@runtime_checkable
class QualityModel(Protocol):
    """A no-reference image-quality score of an RGB uint8 frame."""

    name: str
    higher_is_better: bool

    def score(self, rgb: np.ndarray) -> float: ...


@runtime_checkable
class SyncModel(Protocol):
    """Audio-visual sync of one face track.

    `landmarks` (T, 68, 3) with NaN rows where no face was found, `audio` mono float32 at
    `sample_rate` covering exactly the T frames at `fps`. `crop_size` > 0 asks the pipeline to also
    pass `crops` (T, crop_size, crop_size, 3) uint8 face crops (what SyncNet-style models need).
    """

    name: str
    crop_size: int

    def measure(
        self,
        landmarks: np.ndarray,
        audio: np.ndarray,
        sample_rate: int,
        fps: float,
        crops: np.ndarray | None = None,
    ) -> SyncResult | None: ...


@runtime_checkable
class HeadPoseModel(Protocol):
    """Euler angles in degrees (yaw > 0: the face turns to the image's right; pitch > 0: up;
    roll > 0: clockwise in the image) from ibug68 landmarks of a frame of `width` x `height`."""

    name: str

    def angles(self, landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None: ...


# -- offline defaults ------------------------------------------------------------------------------


class DlibHogDetector:
    """dlib's HOG frontal detector (its five sub-detectors cover frontal and half-profile faces).

    The smallest face it finds is about 80 px; `upsample` > 0 finds smaller ones, slower.
    """

    name = "dlib-hog"

    def __init__(self, upsample: int = 0, min_score: float = 0.0):
        import dlib

        self._det = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.min_score = min_score

    def detect(self, rgb: np.ndarray) -> list[Face]:
        rects, scores, _ = self._det.run(np.ascontiguousarray(rgb), self.upsample, self.min_score)
        h, w = rgb.shape[:2]
        faces = []
        for r, s in zip(rects, scores, strict=True):
            x0, y0 = max(0, r.left()), max(0, r.top())
            x1, y1 = min(w, r.right()), min(h, r.bottom())
            if x1 > x0 and y1 > y0:
                faces.append(Face(x0, y0, x1 - x0, y1 - y0, float(s)))
        return faces


class HaarDetector:
    """OpenCV Haar cascades: frontal plus profile (both directions), merged by overlap."""

    name = "opencv-haar"

    def __init__(self, min_size: int = 64):
        root = cv2.data.haarcascades
        self._frontal = cv2.CascadeClassifier(os.path.join(root, "haarcascade_frontalface_default.xml"))
        self._profile = cv2.CascadeClassifier(os.path.join(root, "haarcascade_profileface.xml"))
        self.min_size = min_size

    def detect(self, rgb: np.ndarray) -> list[Face]:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        w = gray.shape[1]
        size = (self.min_size, self.min_size)
        boxes = list(self._frontal.detectMultiScale(gray, 1.1, 6, minSize=size))
        boxes += list(self._profile.detectMultiScale(gray, 1.1, 6, minSize=size))
        flipped = self._profile.detectMultiScale(cv2.flip(gray, 1), 1.1, 6, minSize=size)
        boxes += [(w - x - bw, y, bw, bh) for x, y, bw, bh in flipped]
        return _merge_boxes([Face(int(x), int(y), int(bw), int(bh)) for x, y, bw, bh in boxes])


def _merge_boxes(faces: list[Face], iou: float = 0.3) -> list[Face]:
    """Greedy non-maximum suppression by area (the same face found by two cascades counts once)."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.area):
        if all(_iou(f, k) < iou for k in kept):
            kept.append(f)
    return kept


def _iou(a: Face, b: Face) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    return inter / float(a.area + b.area - inter) if inter else 0.0


class Dlib68Landmarks:
    """dlib's 68-point shape predictor (ibug68 layout; confidence is 1 for every point)."""

    name = "dlib-68"
    format = "ibug68"

    def __init__(self, path: str = DLIB_PREDICTOR):
        import dlib

        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path}: dlib's 68-point predictor not found; install Debian's libdlib-data or set "
                "FACEVID_DLIB_PREDICTOR to shape_predictor_68_face_landmarks.dat"
            )
        self._dlib = dlib
        self._pred = dlib.shape_predictor(path)

    def landmarks(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        rect = self._dlib.rectangle(face.x, face.y, face.x + face.w, face.y + face.h)
        shape = self._pred(np.ascontiguousarray(rgb), rect)
        pts = np.ones((68, 3), dtype=np.float32)
        for i, p in enumerate(shape.parts()):
            pts[i, 0], pts[i, 1] = p.x, p.y
        return pts


class TesseractOCR:
    """Tesseract via pytesseract; keeps words read with confidence >= `min_conf` (0-100)."""

    name = "tesseract"

    def __init__(self, lang: str = "eng", min_conf: float = 60.0):
        import pytesseract

        self._tess = pytesseract
        self.lang = lang
        self.min_conf = min_conf

    def read(self, gray: np.ndarray) -> str:
        data = self._tess.image_to_data(gray, lang=self.lang, config="--psm 6", output_type=self._tess.Output.DICT)
        words = [w.strip() for w, c in zip(data["text"], data["conf"], strict=True) if float(c) >= self.min_conf]
        return " ".join(w for w in words if w)


class BrisqueQuality:
    """BRISQUE (Mittal et al. 2012) with OpenCV's LIVE-trained model: about 0 (pristine) to 100+.

    Lower is better. (The DH-FaceVid-1K paper plots a "higher is better" BRISQUE-derived score;
    this package stores the raw BRISQUE value.)
    """

    name = "brisque"
    higher_is_better = False

    def __init__(self, model_dir: str = BRISQUE_DIR):
        model = os.path.join(model_dir, "brisque_model_live.yml")
        rng = os.path.join(model_dir, "brisque_range_live.yml")
        for p in (model, rng):
            if not os.path.isfile(p):
                raise FileNotFoundError(
                    f"{p}: BRISQUE model file not found; install Debian's opencv-data or set FACEVID_BRISQUE_DIR"
                )
        self._q = cv2.quality.QualityBRISQUE_create(model, rng)

    def score(self, rgb: np.ndarray) -> float:
        return float(self._q.compute(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[0])


class EnvelopeSync:
    """Lip-sync proxy: correlation of mouth opening (landmarks) with the audio loudness envelope.

    For every offset in [-max_offset, +max_offset] frames it takes the Pearson correlation of the
    per-frame mouth opening with the per-frame audio RMS envelope shifted by that offset. Offset =
    the best one; confidence = best correlation minus the median over offsets (SyncNet reports its
    confidence the same way, on its own distance scale). It sees only how wide the mouth opens and
    how loud the sound is: it cannot tell which sound a mouth shape makes, is fooled by a mouth that
    moves with any loud sound, and has nothing to say about silent clips. It is not SyncNet.
    """

    name = "av-envelope"
    crop_size = 0

    def __init__(self, max_offset: int = 15):
        self.max_offset = max_offset

    def measure(
        self,
        landmarks: np.ndarray,
        audio: np.ndarray,
        sample_rate: int,
        fps: float,
        crops: np.ndarray | None = None,
    ) -> SyncResult | None:
        from .stages import audio_envelope, mouth_opening, sync_by_correlation

        mouth = mouth_opening(landmarks)
        env = audio_envelope(audio, sample_rate, fps, len(mouth))
        return sync_by_correlation(mouth, env, self.max_offset)


class SolvePnPHeadPose:
    """Head pose from 6 ibug68 points (nose tip, chin, eye corners, mouth corners) and a generic
    3D face (the widely used model of Mallick, LearnOpenCV 2016), focal length = image width."""

    name = "solvepnp"

    def angles(self, landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None:
        from .stages import head_pose_angles

        return head_pose_angles(landmarks, width, height)


# -- registry --------------------------------------------------------------------------------------

MODEL_KINDS = ("face_detector", "landmarks", "keypoints", "ocr", "quality", "sync", "head_pose")

_REGISTRY: dict[str, dict[str, Callable[[], Any]]] = {
    "face_detector": {"dlib-hog": DlibHogDetector, "opencv-haar": HaarDetector},
    "landmarks": {"dlib-68": Dlib68Landmarks},
    "keypoints": {"dlib-68": Dlib68Landmarks},
    "ocr": {"tesseract": TesseractOCR},
    "quality": {"brisque": BrisqueQuality},
    "sync": {"av-envelope": EnvelopeSync},
    "head_pose": {"solvepnp": SolvePnPHeadPose},
}

#: The model of each kind a curation run uses unless told otherwise.
DEFAULT_MODELS: dict[str, str] = {
    "face_detector": "dlib-hog",
    "landmarks": "dlib-68",
    "keypoints": "dlib-68",
    "ocr": "tesseract",
    "quality": "brisque",
    "sync": "av-envelope",
    "head_pose": "solvepnp",
}


def register_model(kind: str, name: str, factory: Callable[[], Any]) -> None:
    """Make `factory()` available as model `name` of `kind` (e.g. "sync", "syncnet")."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; kinds are {MODEL_KINDS}")
    _REGISTRY[kind][name] = factory
    load_model.cache_clear()


def available_models(kind: str) -> list[str]:
    """Registered model names of `kind`."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; kinds are {MODEL_KINDS}")
    return sorted(_REGISTRY[kind])


@cache
def load_model(kind: str, spec: str) -> Any:
    """The model `spec` of `kind`: a registered name or "module:factory"; built once per process."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; kinds are {MODEL_KINDS}")
    if spec in _REGISTRY[kind]:
        return _REGISTRY[kind][spec]()
    if ":" in spec:
        module, attr = spec.split(":", 1)
        return getattr(importlib.import_module(module), attr)()
    raise ValueError(
        f"unknown {kind} model {spec!r}: registered are {available_models(kind)}; or give 'package.module:factory'"
    )
