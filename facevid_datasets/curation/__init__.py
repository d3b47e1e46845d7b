"""Cleaning (curation) pipeline of the DH-FaceVid-1K and MCDM papers, with every decision recorded.

Stages: scene-cut split and <= 30 s segments; a clip of at least 512 px that is not an upscale;
exactly one face whose detector box is at least 128 px and a quarter of the frame (the paper's
256 px "face region" is about twice that box); black bars; burned-in subtitles; BRISQUE; lip sync
(decided only where the sync model is confident, else `unknown` and kept); then the head-pose class
(face mesh, smoothed) and per-frame 468-point keypoints for the clips kept. `Thresholds.for_resolution`
scales the pixel thresholds for other footage (the official sample clips are 256 px).
`curate()` measures each clip once (in parallel, resumable, locally or on Ray),
`decisions.parquet` says why every clip was kept or dropped, and `cleaned_records()` gives the
kept clips as records (the builders' `cleaned` config).
"""

from .decisions import STAGES, Thresholds, decide, decide_clip, summarize, sync_status
from .measure import ClipInput, MeasureConfig, measure_clip
from .measurements import MeasurementStore
from .models import (
    DEFAULT_MODELS,
    MODEL_KINDS,
    Face,
    FaceDetector,
    HeadPoseModel,
    LandmarkModel,
    QualityModel,
    SyncModel,
    SyncResult,
    TextReader,
    available_models,
    load_model,
    register_model,
)
from .pipeline import CurationResult, cleaned_records, curate, curate_dataset, read_decisions

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_KINDS",
    "STAGES",
    "ClipInput",
    "CurationResult",
    "Face",
    "FaceDetector",
    "HeadPoseModel",
    "LandmarkModel",
    "MeasureConfig",
    "MeasurementStore",
    "QualityModel",
    "SyncModel",
    "SyncResult",
    "TextReader",
    "Thresholds",
    "available_models",
    "cleaned_records",
    "curate",
    "curate_dataset",
    "decide",
    "decide_clip",
    "load_model",
    "measure_clip",
    "read_decisions",
    "register_model",
    "summarize",
    "sync_status",
]
