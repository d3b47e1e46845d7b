"""facevid-datasets: get, clean and train on talking-face video data.

The data's path through the package: raw release -> `builders/` -> typed record (`FEATURES`)
-> sampler -> collator -> batch.

Public names are imported on first use (module `__getattr__`), so `import facevid_datasets` and
the `facevid` command start without torch; the training names bring torch in when touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from .training import __all__ as _TRAINING_NAMES

__version__ = "0.1.0"

#: public name -> module that defines it (every public training name, from `training`'s own table)
_LAZY = {
    "FEATURES": ".schema",
    "DatasetDescription": ".description",
    "ReportRow": ".report",
    "Status": ".report",
    "list_datasets": ".loading",
    "load_builder": ".loading",
    "load_dataset": ".loading",
    **dict.fromkeys(_TRAINING_NAMES, ".training"),
}

__all__ = ["DatasetDescription", "FEATURES", "ReportRow", "Status", "list_datasets", "load_builder", "load_dataset",
           *_TRAINING_NAMES]

if TYPE_CHECKING:
    from .description import DatasetDescription
    from .loading import list_datasets, load_builder, load_dataset
    from .report import ReportRow, Status
    from .schema import FEATURES
    from .training import *  # noqa: F403 (every public training name, as `_LAZY` lists them)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
