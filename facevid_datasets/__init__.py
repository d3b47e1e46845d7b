"""facevid-datasets: get, clean and train on talking-face video data.

The data's path through the package: raw release -> `builders/` -> typed record (`FEATURES`)
-> sampler -> collator -> batch.
"""

from .loading import list_datasets, load_builder, load_dataset
from .schema import FEATURES
from .training import BalancedSampler, ClipDataset, VideoCollator, clip_loader, training_copies

__version__ = "0.1.0"

__all__ = [
    "FEATURES",
    "BalancedSampler",
    "ClipDataset",
    "VideoCollator",
    "clip_loader",
    "list_datasets",
    "load_builder",
    "load_dataset",
    "training_copies",
]
