"""Where this package keeps its files inside the `datasets` cache folder: one place for every name.

The `datasets` cache (`cache_dir=`, else HF_DATASETS_CACHE) holds the Arrow caches of builds in
folders named by `datasets` (`<dataset_name>/<config>/<version>/<hash>`); beside them this package
keeps folders whose names all start with `facevid_`, so a scan of the cache can tell its own
files from another library's:

    facevid_clips/<dataset>/<config>/<source key>/<clip>-<content key>.mp4   clips cut by builds
    facevid_reports/<dataset>/<config>/build_report.tsv                     clips not built, and why
    facevid_state/<dataset>/<config id>.npz                                  file state of the last build
    facevid_hub/<owner>--<repo>/                                             gated Hub downloads
    facevid_terms/<name>-<folder hash>                                       licence terms shown once
    facevid_forget/<name>/deletions.txt, facevid_forget/audit.jsonl          what `forget` removed
    facevid_probe_cache.sqlite                                               probe results by file version
    facevid_ledger/copies.jsonl                                              every copy written, with its clip ids

`cache_root(builder)` is the only reader of `datasets`' private `_cache_dir_root`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Every folder or file this package writes at the top of the cache starts with this.
PREFIX = "facevid_"
CLIPS = "facevid_clips"
REPORTS = "facevid_reports"
STATE = "facevid_state"
HUB = "facevid_hub"
TERMS = "facevid_terms"
FORGET = "facevid_forget"
PROBE_CACHE = "facevid_probe_cache.sqlite"
LEDGER = "facevid_ledger"


def default_cache_dir() -> Path:
    """The `datasets` cache builders use when no `cache_dir` is given (HF_DATASETS_CACHE)."""
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE)


def cache_root(builder: Any) -> Path:
    """The cache folder a `datasets` builder writes to (its `cache_dir`, or the default)."""
    root = getattr(builder, "_cache_dir_root", None)
    return Path(root) if root else default_cache_dir()


def clips_dir(cache: str | Path, dataset_name: str, config: str, key: str) -> Path:
    """Clips cut by a build of `dataset_name`/`config` from the sources identified by `key`."""
    return Path(cache) / CLIPS / dataset_name / config / key


def clips_root(cache: str | Path, dataset_name: str | None = None) -> Path:
    """All cut clips (of one dataset, when named)."""
    root = Path(cache) / CLIPS
    return root / dataset_name if dataset_name else root


def report_file(cache: str | Path, dataset_name: str, config: str) -> Path:
    """The build report of `dataset_name`/`config`."""
    return Path(cache) / REPORTS / dataset_name / config / "build_report.tsv"


def reports_root(cache: str | Path, dataset_name: str | None = None) -> Path:
    """All build reports (of one dataset, when named)."""
    root = Path(cache) / REPORTS
    return root / dataset_name if dataset_name else root


def state_file(cache: str | Path, dataset_name: str, config_id: str) -> Path:
    """The file state of the last build of a config (`builder_state`)."""
    return Path(cache) / STATE / dataset_name / f"{config_id}.npz"


def hub_dir(cache: str | Path, repo_id: str) -> Path:
    """Where a gated Hub repo is downloaded: `facevid_hub/<owner>--<repo>`."""
    return Path(cache) / HUB / repo_id.replace("/", "--")


def hub_root(cache: str | Path) -> Path:
    """All Hub downloads."""
    return Path(cache) / HUB


def terms_marker(cache: str | Path, name: str, key: str) -> Path:
    """Marker that the licence terms of `name` were shown for the release folder hashed to `key`."""
    return Path(cache) / TERMS / f"{name}-{key}"


def forget_list(cache: str | Path, name: str) -> Path:
    """The ids `facevid forget` removed from this cache's copies of `name`."""
    return Path(cache) / FORGET / name / "deletions.txt"


def audit_log(cache: str | Path) -> Path:
    """`facevid forget`'s audit lines."""
    return Path(cache) / FORGET / "audit.jsonl"


def probe_cache_file(cache: str | Path) -> Path:
    """The probe cache (probe results keyed by path, size and mtime)."""
    return Path(cache) / PROBE_CACHE


def ledger_file(cache: str | Path) -> Path:
    """The ledger of copies (`licence.ledger`): every file written that holds clip data, with its ids."""
    return Path(cache) / LEDGER / "copies.jsonl"
