"""The download: an untrusted listing checked, then `snapshot_download` of what the config needs."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

from ..errors import FaceVidError, UnsafePath
from ..raw import METADATA_NAMES
from ..raw.layout import safe_relpath
from .access import _translate, endpoint_url, env_var, hub_repo
from .select import select_files
from .verify import VerificationError, verify_files

try:  # the HTTP client huggingface_hub 2.x uses; 1.x used httpx
    from httpx2 import HTTPError as _TransportError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import HTTPError as _TransportError

logger = logging.getLogger(__name__)

_NET_ERRORS = (HfHubHTTPError, LocalEntryNotFoundError, _TransportError, ConnectionError)


class UnsafeListing(FaceVidError):
    """The Hub repo lists paths that would land outside the download folder: nothing is fetched."""


def check_listing(name: str, repo_id: str, paths: Iterable[str]) -> None:
    """Refuse a repo listing (untrusted input) that holds an absolute path, `..` or another unsafe name."""
    bad = []
    for p in paths:
        try:
            if safe_relpath(p) != p:
                raise UnsafePath(p, "not in normal form")
        except UnsafePath as e:
            bad.append(e)
    if bad:
        raise UnsafeListing(f"{name}: the Hub repo {repo_id} lists {len(bad)} unsafe path(s), e.g. {bad[0]}; "
                            "refusing to download from it.")  # fmt: skip


def _offline() -> bool:
    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def download(
    name: str,
    local_dir: str | Path,
    *,
    config: str | Any = "all",
    repo_id: str | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    max_workers: int = 8,
) -> Path:
    """Download dataset `name`'s files for `config` (a name or a config object) from its gated Hub repo.

    Files come through `huggingface_hub.snapshot_download` (parallel, resumed, files already
    complete skipped); sizes and hashes are then checked with a memo (`verify_files`). Returns
    `local_dir` (a release folder the builders read with data_dir=). Raises AccessError with
    guidance when the repo cannot be read, UnsafeListing for a listing with unsafe paths, and
    OfflineError under HF_HUB_OFFLINE when nothing was downloaded before.
    """
    from ..errors import DatasetNotFound, OfflineError

    name = name.replace("_", "-").lower()
    repo = hub_repo(name, repo_id)
    if repo is None:
        from ..builders import builder_class

        raise DatasetNotFound(f"{name}: no Hub repo configured; pass repo_id=... (--repo-id) or set {env_var(name)}. "
                              f"{builder_class(name).ACCESS}")  # fmt: skip
    local = Path(local_dir)
    if _offline():
        if any(local.glob("metadata.*")) or any(local.rglob("*.mp4")):
            logger.warning("%s: HF_HUB_OFFLINE is set: using the files already in %s, not checked against %s",
                           name, local, repo)  # fmt: skip
            return local
        raise OfflineError(f"{name}: HF_HUB_OFFLINE is set and {local} holds no earlier download of {repo}. Unset "
                           "HF_HUB_OFFLINE to download, or pass data_dir= a folder holding the files.")  # fmt: skip
    ep = endpoint_url(endpoint)
    local.mkdir(parents=True, exist_ok=True)
    api = HfApi(endpoint=ep, token=token, library_name="facevid-datasets")

    def fetch(paths: list[str], commit: str, force: bool = False) -> None:
        if paths:
            snapshot_download(repo, repo_type="dataset", revision=commit, local_dir=local, token=token, endpoint=ep,
                              allow_patterns=[glob.escape(p) for p in paths], max_workers=max(1, max_workers),
                              force_download=force, library_name="facevid-datasets")  # fmt: skip

    try:
        commit = api.dataset_info(repo, revision=revision).sha
        entries = {f.path: f for f in api.list_repo_tree(repo, repo_type="dataset", recursive=True, revision=commit)
                   if isinstance(f, RepoFile)}  # fmt: skip
        check_listing(name, repo, entries)
        fetch([p for p in entries if p in METADATA_NAMES or p == "README.md"], commit)
        wanted = select_files(name, config, entries, local)
        fetch(wanted, commit)
        bad = verify_files(local, entries, wanted)
        if bad:
            fetch(bad, commit, force=True)
            bad = verify_files(local, entries, bad)
    except _NET_ERRORS as e:
        raise _translate(name, repo, ep, token, e) from None
    if bad:
        raise VerificationError(f"{name}: {len(bad)} files do not match the repo's size/hash after a fresh "
                                f"download, e.g. {local / bad[0]}")  # fmt: skip
    return local
