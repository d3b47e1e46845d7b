"""The test environment, set before `datasets` or `huggingface_hub` is imported (both read their
environment variables at import): a private HF home and datasets cache, online mode, the default
endpoint and no token from the user's machine. Tests that need offline mode patch it themselves
(`offline` fixture), so the suite passes whatever the user's shell exports (HF_HUB_OFFLINE=1...).

Tests marked `gpu` are skipped when torch sees no CUDA GPU; with `FACEVID_REQUIRE_GPU=1` they fail
instead, so a run on a GPU machine whose driver is too old for the torch build (or whose GPU is hidden)
cannot pass by skipping everything that matters there.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HF_HOME = tempfile.mkdtemp(prefix="facevid-tests-hf-")
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_TOKEN",
             "HUGGING_FACE_HUB_TOKEN", "HF_DATASETS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):  # fmt: skip
    os.environ.pop(_var, None)
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_DATASETS_CACHE"] = os.path.join(_HF_HOME, "datasets")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for _var in [v for v in os.environ if v.startswith("FACEVID_HUB_REPO_")]:
    os.environ.pop(_var)


def _gpu_required() -> bool:
    return os.environ.get("FACEVID_REQUIRE_GPU", "").strip() not in ("", "0")


_NO_GPU = ("torch sees no CUDA GPU (torch.cuda.is_available() is False: a driver older than this torch build "
           "needs, CUDA_VISIBLE_DEVICES, or no device)")


def pytest_collection_modifyitems(config, items):
    gpu = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    for item in gpu:  # FACEVID_REQUIRE_GPU=1: marked here, failed at setup
        item.add_marker(pytest.mark.gpu_missing if _gpu_required() else
                        pytest.mark.skip(reason=f"needs a CUDA GPU: {_NO_GPU}; FACEVID_REQUIRE_GPU=1 fails instead"))


def pytest_runtest_setup(item):
    if item.get_closest_marker("gpu_missing") is not None:
        pytest.fail(f"FACEVID_REQUIRE_GPU=1 but {_NO_GPU}", pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture
def offline(monkeypatch):
    """Offline mode as `HF_HUB_OFFLINE=1` gives it, patched where both libraries read it."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    return True
