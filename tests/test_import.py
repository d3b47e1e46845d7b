"""Start-up stays light: the package and the `facevid` command import no torch, torchvision, OpenCV or Ray."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "torchcodec", "cv2", "ray", "decord")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import facevid_datasets",
    "import facevid_datasets.cli",
    "from facevid_datasets import FEATURES, load_dataset, list_datasets",
    "import facevid_datasets.training",
])
def test_light_imports_load_no_heavy_library(code):
    assert _loaded_after(code) == []


def test_training_names_still_resolve_and_bring_torch():
    assert "torch" in _loaded_after("import facevid_datasets as fd\nassert fd.ClipDataset.__name__ == 'ClipDataset'")


def test_help_lists_every_command_without_heavy_imports():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom facevid_datasets.cli import app\n"
            "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "for c in ('list', 'info', 'demo', 'curate', 'download', 'export', 'stats', 'training-copies'):\n"
            "    assert c in r.output, c\n"
            "r = CliRunner().invoke(app, ['list'])\nassert r.exit_code == 0 and 'facevid-1k' in r.output, r.output")
    assert _loaded_after(code) == []


def test_unknown_public_name_is_an_attribute_error():
    import facevid_datasets

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        facevid_datasets.nope  # noqa: B018
    assert "ClipDataset" in dir(facevid_datasets)
