"""Training loader: clip plans -> balanced, resumable sampling -> decoded fixed-shape batches.

`ClipDataset` plans clips (no pixels), `BalancedSampler` mixes groups by seconds of video across
ranks and resumes mid-epoch, `VideoCollator` decodes and aligns video, audio and keypoints, and
`clip_loader` puts decoding in CPU workers or on NVDEC in the main process.
"""

from .collate import VideoCollator
from .mixing import GroupShare
from .plan import DEFAULT_FPS, ClipDataset, ClipPlan, Draw
from .populations import population_shares, population_tables
from .prefetch import CudaPrefetcher, clip_loader
from .sampler import BalancedSampler, ClipSampler
from .store import training_copies
from .streaming import StreamingClipDataset

__all__ = [
    "DEFAULT_FPS",
    "BalancedSampler",
    "ClipDataset",
    "ClipPlan",
    "ClipSampler",
    "CudaPrefetcher",
    "Draw",
    "GroupShare",
    "StreamingClipDataset",
    "VideoCollator",
    "clip_loader",
    "population_shares",
    "population_tables",
    "training_copies",
]
