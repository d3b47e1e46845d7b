"""facevid-datasets: get, clean and train on talking-face video data.

The data's path through the package: raw release -> `builders/` -> typed record (`FEATURES`)
-> sampler -> collator -> batch.

Public names are imported on first use (module `__getattr__`), so `import facevid_datasets` and
the `facevid` command start without torch; the training names bring torch in when touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY = {
    "FEATURES": ".schema",
    "list_datasets": ".loading",
    "load_builder": ".loading",
    "load_dataset": ".loading",
    "BalancedSampler": ".training",
    "ClipDataset": ".training",
    "VideoCollator": ".training",
    "AudioOptions": ".training",
    "BatchExtras": ".training",
    "DecodeOptions": ".training",
    "clip_loader": ".training",
    "training_copies": ".training",
}

__all__ = [
    "AudioOptions",
    "BalancedSampler",
    "BatchExtras",
    "ClipDataset",
    "DecodeOptions",
    "FEATURES",
    "VideoCollator",
    "clip_loader",
    "list_datasets",
    "load_builder",
    "load_dataset",
    "training_copies",
]

if TYPE_CHECKING:
    from .loading import list_datasets, load_builder, load_dataset
    from .schema import FEATURES
    from .training import (
        AudioOptions,
        BalancedSampler,
        BatchExtras,
        ClipDataset,
        DecodeOptions,
        VideoCollator,
        clip_loader,
        training_copies,
    )


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
