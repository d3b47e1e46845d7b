"""One builder module per dataset. This file is the list of supported datasets.

Each entry maps the public name to `module:Class`; modules are imported on first use so that
listing datasets stays cheap.
"""

from __future__ import annotations

import importlib

BUILDERS: dict[str, str] = {
    "facevid-1k": "facevid_1k:FaceVid1K",
    "talkingface-wild": "talkingface_wild:TalkingFaceWild",
    "hdtf": "hdtf:HDTF",
    "celebv-hq": "celebv_hq:CelebVHQ",
    "celebv-text": "celebv_text:CelebVText",
    "talkinghead-1kh": "talkinghead_1kh:TalkingHead1KH",
    "voxceleb2": "voxceleb2:VoxCeleb2",
}


def available() -> list[str]:
    """Names whose builder module is present in this installation."""
    out = []
    for name, target in BUILDERS.items():
        module = target.split(":")[0]
        if importlib.util.find_spec(f"{__name__}.{module}") is not None:
            out.append(name)
    return out


def builder_class(name: str) -> type:
    """The builder class registered under `name` (aliases with '_' accepted)."""
    key = name.replace("_", "-").lower()
    if key not in BUILDERS:
        raise KeyError(f"unknown dataset {name!r}; supported: {', '.join(BUILDERS)}")
    module, cls = BUILDERS[key].split(":")
    if importlib.util.find_spec(f"{__name__}.{module}") is None:
        raise KeyError(f"dataset {name!r} is planned but its builder is not in this version yet")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
