"""One builder module per dataset. This file is the list of supported datasets.

Each entry maps the public name to `module:Class`; modules are imported on first use so that
listing datasets stays cheap. Everything else about a dataset (repos, licence, id rules, size,
card) is its builder's `DESCRIPTION` (`facevid_datasets.description`), read with `description()`.
`register(cls)` adds a builder defined elsewhere (a plugin, or a test) for this process.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facevid_datasets.description import DatasetDescription  # noqa: F401 (string annotations)

BUILDERS: dict[str, str] = {
    "facevid-1k": "facevid_1k:FaceVid1K",
    "talkingface-wild": "talkingface_wild:TalkingFaceWild",
    "hdtf": "hdtf:HDTF",
    "celebv-hq": "celebv_hq:CelebVHQ",
    "celebv-text": "celebv_text:CelebVText",
    "talkinghead-1kh": "talkinghead_1kh:TalkingHead1KH",
    "voxceleb2": "voxceleb2:VoxCeleb2",
}
#: Builders registered at run time with `register` (name -> class).
_REGISTERED: dict[str, type] = {}
#: Descriptions already looked up (deletion checks ask once per record).
_DESCRIPTIONS: dict[str, DatasetDescription] = {}


def _key(name: str) -> str:
    return name.replace("_", "-").lower()


def names() -> list[str]:
    """Every dataset name known to this process: the shipped list, then registered builders."""
    return [*BUILDERS, *(n for n in _REGISTERED if n not in BUILDERS)]


def available() -> list[str]:
    """Names whose builder module is present in this installation (and registered builders)."""
    out = []
    for name, target in BUILDERS.items():
        module = target.split(":")[0]
        if importlib.util.find_spec(f"{__name__}.{module}") is not None:
            out.append(name)
    return out + [n for n in _REGISTERED if n not in out]


def is_known(name: str) -> bool:
    """Whether `name` is a dataset of this package (shipped or registered)."""
    return _key(name) in BUILDERS or _key(name) in _REGISTERED


def builder_class(name: str) -> type:
    """The builder class registered under `name` (aliases with '_' accepted)."""
    key = _key(name)
    if key in _REGISTERED:
        return _REGISTERED[key]
    if key not in BUILDERS:
        raise KeyError(f"unknown dataset {name!r}; supported: {', '.join(names())}")
    module, cls = BUILDERS[key].split(":")
    if importlib.util.find_spec(f"{__name__}.{module}") is None:
        raise KeyError(f"dataset {name!r} is planned but its builder is not in this version yet")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def description(name: str) -> DatasetDescription:
    """The `DatasetDescription` of dataset `name` (KeyError naming the known ones otherwise)."""
    key = _key(name)
    got = _DESCRIPTIONS.get(key)
    if got is None:
        got = _DESCRIPTIONS[key] = builder_class(key).DESCRIPTION
    return got


def descriptions() -> list[DatasetDescription]:
    """The descriptions of every available dataset."""
    return [description(n) for n in available()]


def register(cls: type) -> type:
    """Make builder class `cls` known under its `DESCRIPTION.name` for this process (usable as a
    decorator); `load_dataset`, deletions, `forget` and `facevid info` then treat it like a shipped one."""
    desc = getattr(cls, "DESCRIPTION", None)
    if desc is None:
        raise TypeError(f"{cls.__name__} has no DESCRIPTION (a facevid_datasets.description.DatasetDescription)")
    _REGISTERED[desc.name] = cls
    _DESCRIPTIONS.pop(desc.name, None)
    return cls


def unregister(name: str) -> None:
    """Forget a builder added with `register` (tests)."""
    _REGISTERED.pop(_key(name), None)
    _DESCRIPTIONS.pop(_key(name), None)
