"""facevid-datasets: get, clean and train on talking-face video data.

The data's path through the package: raw release -> `builders/` -> typed record (`FEATURES`)
-> sampler -> collator -> batch.

Public names are imported on first use (module `__getattr__`), so `import facevid_datasets` and
the `facevid` command start without torch; the training names bring torch in when touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "clip_loader": ".training",
    "training_copies": ".training",
}

__all__ = [
    "BalancedSampler",
    "ClipDataset",
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
    from .training import BalancedSampler, ClipDataset, VideoCollator, clip_loader, training_copies


def __getattr__(name: str) -> Any:
    """Import the module defining public `name` on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
