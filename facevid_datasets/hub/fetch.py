"""The download: an untrusted listing checked, then only what the config needs fetched and verified.

Two routes share this one flow: the Hugging Face Hub (`huggingface_hub`) and ModelScope
(`hub/modelscope.py`, the `modelscope` SDK). A route lists the repo (`RemoteFile`s), fetches the
chosen files (complete files skipped, partial ones resumed, in parallel) and explains its errors.
The plan is linear at release scale: the chosen paths go to the SDK as a list of files, never as
glob patterns (`snapshot_download(allow_patterns=...)` matches every listed file against every
pattern: 540k files against the 205k keypoint files of one config would not finish).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError
from tqdm.auto import tqdm

from ..errors import FaceVidError, UnsafePath
from ..raw import METADATA_NAMES
from ..raw.layout import safe_relpath
from .access import _translate, endpoint_url, env_var, hub_repo
from .modelscope import ModelScopeRoute, modelscope_repo, split_repo
from .route import RepoRoute
from .select import select_files
from .verify import RemoteFile, VerificationError, remote_file, verify_files

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


@dataclass
class HubRoute(RepoRoute):
    """One Hugging Face Hub dataset repo read through `huggingface_hub` into `local`."""

    errors = _NET_ERRORS

    def __post_init__(self) -> None:
        self.url = endpoint_url(self.endpoint)
        self.api = HfApi(endpoint=self.url, token=self.token, library_name="facevid-datasets")
        self.commit: str | None = None

    def listing(self) -> dict[str, RemoteFile]:
        """Every file of the repo at one commit (later fetches read that same commit)."""
        self.commit = self.api.dataset_info(self.repo_id, revision=self.revision).sha
        tree = self.api.list_repo_tree(self.repo_id, repo_type="dataset", recursive=True, revision=self.commit)
        return {f.path: remote_file(f) for f in tree if isinstance(f, RepoFile)}

    def fetch(self, paths: list[str], force: bool = False) -> None:
        """Download `paths` in parallel with `hf_hub_download` (what `snapshot_download` runs per file:
        complete files skipped, `.incomplete` ones resumed); `force`: downloaded again."""
        if not paths:
            return

        def one(path: str) -> None:
            hf_hub_download(self.repo_id, path, repo_type="dataset", revision=self.commit, local_dir=self.local,
                            token=self.token, endpoint=self.url, force_download=force,
                            library_name="facevid-datasets")  # fmt: skip

        with ThreadPoolExecutor(max(1, self.max_workers)) as pool:
            done = pool.map(one, paths)
            for _ in tqdm(done, total=len(paths), unit="file", desc=f"{self.name} files", disable=None):
                pass

    def translate(self, err: BaseException) -> FaceVidError:
        return _translate(self.name, self.repo_id, self.url, self.token, err)  # type: ignore[arg-type]


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
    hub: str | None = None,
) -> Path:
    """Download dataset `name`'s files for `config` (a name or a config object) from its gated repo.

    `hub` is "huggingface" (default) or "modelscope"; a repo id written `modelscope:owner/name`
    picks ModelScope too. Files come through the hub's SDK (parallel, resumed, files already
    complete skipped); sizes and hashes are then checked with a memo (`verify_files`), and files
    that fail are fetched once more. Returns `local_dir` (a release folder the builders read with
    data_dir=; a release delivered as archives is extracted when it is built). Raises AccessError
    with guidance when the repo cannot be read, UnsafeListing for a listing with unsafe paths, and
    OfflineError under HF_HUB_OFFLINE when nothing was downloaded before.
    """
    from ..errors import DatasetNotFound, OfflineError

    name = name.replace("_", "-").lower()
    repo = modelscope_repo(name, repo_id) if hub == "modelscope" else hub_repo(name, repo_id)
    if repo is None:
        from ..builders import builder_class

        raise DatasetNotFound(f"{name}: no Hub repo configured; pass repo_id=... (--repo-id) or set {env_var(name)}. "
                              f"{builder_class(name).ACCESS}")  # fmt: skip
    which, repo = split_repo(repo, hub)
    local = Path(local_dir)
    if _offline() and which == "huggingface":
        if any(local.glob("metadata.*")) or any(local.rglob("*.mp4")):
            logger.warning("%s: HF_HUB_OFFLINE is set: using the files already in %s, not checked against %s",
                           name, local, repo)  # fmt: skip
            return local
        raise OfflineError(f"{name}: HF_HUB_OFFLINE is set and {local} holds no earlier download of {repo}. Unset "
                           "HF_HUB_OFFLINE to download, or pass data_dir= a folder holding the files.")  # fmt: skip
    local.mkdir(parents=True, exist_ok=True)
    route_cls = ModelScopeRoute if which == "modelscope" else HubRoute
    route = route_cls(name, repo, local, revision, token, endpoint, max_workers)
    try:
        entries = route.listing()
        check_listing(name, repo, entries)
        listed = list(entries)
        route.fetch([p for p in listed if p in METADATA_NAMES or p in ("README.md", "deletions.txt")])
        wanted = select_files(name, config, listed, local)
        route.fetch(wanted)
        bad = verify_files(local, entries, wanted)
        if bad:
            route.fetch(bad, force=True)
            bad = verify_files(local, entries, bad)
    except route.errors as e:
        raise route.translate(e) from None
    if bad:
        raise VerificationError(f"{name}: {len(bad)} files do not match the repo's size/hash after a fresh "
                                f"download, e.g. {local / bad[0]}")  # fmt: skip
    return local
