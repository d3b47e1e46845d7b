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
    "AudioOptions": ".audio",
    "BatchExtras": ".extras",
    "DecodeOptions": ".collate",
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
    "DEFAULT_FPS",
    "AudioOptions",
    "BatchExtras",
    "BalancedSampler",
    "ClipDataset",
    "ClipPlan",
    "ClipSampler",
    "CudaPrefetcher",
    "DecodeOptions",
    "Draw",
    "GroupShare",
    "StreamingClipDataset",
    "VideoCollator",
    "clip_loader",
    "population_shares",
    "population_tables",
    "training_copies",
]

if TYPE_CHECKING:
    from .audio import AudioOptions
    from .collate import DecodeOptions, VideoCollator
    from .extras import BatchExtras
    from .plan import DEFAULT_FPS, ClipDataset, ClipPlan, Draw
    from .populations import population_shares, population_tables
    from .prefetch import CudaPrefetcher, clip_loader
    from .sampling import BalancedSampler, ClipSampler, GroupShare, StreamingClipDataset
    from .store import training_copies


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
