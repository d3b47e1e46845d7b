"""Training loader: clip plans -> balanced, resumable sampling -> decoded fixed-shape batches.

`ClipDataset` plans clips (no pixels), `BalancedSampler` mixes groups by seconds of video across
ranks and resumes mid-epoch, `VideoCollator` decodes and aligns video, audio and keypoints, and
`clip_loader` puts decoding in CPU workers or on NVDEC in the main process. Names are imported on
first use, so planning in a worker does not load torchvision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

_LAZY = {
    "VideoCollator": ".collate",
    "LogMel": ".audio_features",
    "FeatureModel": ".audio_features",
    "features_per_frame": ".audio_features",
    "BucketBatchSampler": ".buckets",
    "aspect_buckets": ".buckets",
    "bucket_of": ".buckets",
    "SpeedBuckets": ".conditions",
    "head_speed": ".conditions",
    "ClipSpec": ".plan",
    "ClipLoader": ".prefetch",
    "EpochReport": ".recovery",
    "MISSING_GROUP": ".sampling",
    "format_tally": ".sampling",
    "GroupShare": ".sampling",
    "DEFAULT_FPS": ".plan",
    "ClipDataset": ".plan",
    "ClipPlan": ".plan",
    "Draw": ".plan",
    "StreamingClipDataset": ".sampling",
    "population_shares": ".populations",
    "population_tables": ".populations",
    "CudaPrefetcher": ".prefetch",
    "clip_loader": ".prefetch",
    "BalancedSampler": ".sampling",
    "ClipSampler": ".sampling",
    "training_copies": ".store",
}

__all__ = [
    "BalancedSampler",
    "BucketBatchSampler",
    "ClipDataset",
    "ClipLoader",
    "ClipPlan",
    "ClipSampler",
    "ClipSpec",
    "CudaPrefetcher",
    "DEFAULT_FPS",
    "Draw",
    "EpochReport",
    "FeatureModel",
    "GroupShare",
    "LogMel",
    "MISSING_GROUP",
    "SpeedBuckets",
    "StreamingClipDataset",
    "VideoCollator",
    "aspect_buckets",
    "bucket_of",
    "clip_loader",
    "features_per_frame",
    "format_tally",
    "head_speed",
    "population_shares",
    "population_tables",
    "training_copies",
]

if TYPE_CHECKING:
    from .audio_features import FeatureModel, LogMel, features_per_frame
    from .buckets import BucketBatchSampler, aspect_buckets, bucket_of
    from .collate import VideoCollator
    from .conditions import SpeedBuckets, head_speed
    from .plan import DEFAULT_FPS, ClipDataset, ClipPlan, ClipSpec, Draw
    from .populations import population_shares, population_tables
    from .prefetch import ClipLoader, CudaPrefetcher, clip_loader
    from .recovery import EpochReport
    from .sampling import MISSING_GROUP, BalancedSampler, ClipSampler, GroupShare, StreamingClipDataset, format_tally
    from .store import training_copies


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
