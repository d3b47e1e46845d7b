"""Gated Hugging Face Hub access: download the files a config needs, verified, with clear access errors.

A release in the layout of `facevid_datasets.raw` lives in a gated Hub *dataset* repo. The
download goes through `huggingface_hub` (so `HF_ENDPOINT`, `HF_TOKEN`, `hf auth login` and
resumable `.incomplete` files all work as usual; `snapshot_download(allow_patterns=...,
max_workers=...)` fetches in parallel): the metadata tables come first, then only the videos and
side files of the clips the config keeps. The repo listing is untrusted: a path that is absolute
or climbs out with `..` stops the download. Every file is checked against the repo's size and
hash (sha256 for LFS files, git blob id otherwise) with `huggingface_hub`'s own hash functions.
The check is done here rather than with `HfApi.verify_repo_checksums`, which hashes every local
file on every call: a memo keyed by (size, mtime) keeps a second load of a 4 TB release from
hashing it again.

Without access the user gets an `AccessError` naming the licence, the page where access is
requested (for DH-FaceVid-1K also the application form) and how to log in; 401 (not logged in)
and 403 (logged in, not approved) read differently. No message ever contains the token.

Repo ids: `HUB_REPOS` lists the defaults (none is published yet); `repo_id=` or the environment
variable `FACEVID_HUB_REPO_<NAME>` (e.g. `FACEVID_HUB_REPO_FACEVID_1K`) sets one.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, get_token, snapshot_download
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils.sha import git_hash, sha_fileobj

from ..errors import FaceVidError, UnsafePath
from ..raw import AUDIO_EXTENSIONS, METADATA_NAMES, SIDE_DIRS, VIDEO_EXTENSIONS, config_keeps, iter_table, parse_row
from ..raw.layout import safe_relpath

try:  # the HTTP client huggingface_hub 2.x uses; 1.x used httpx
    from httpx2 import HTTPError as _TransportError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import HTTPError as _TransportError

logger = logging.getLogger(__name__)

#: Gated Hub dataset repo of each dataset. None: no official repo id has been published; set one
#: with `repo_id=` or FACEVID_HUB_REPO_<NAME>.
HUB_REPOS: dict[str, str | None] = {
    "facevid-1k": None,
    "talkingface-wild": None,
    "hdtf": None,
    "celebv-hq": None,
    "celebv-text": None,
    "talkinghead-1kh": None,
    "voxceleb2": None,
}

#: Where DH-FaceVid-1K access is applied for before the Hub request is approved.
APPLICATION_FORMS = {"facevid-1k": "the application form linked from https://luna-ai-lab.github.io/DH-FaceVid-1K/"}


class AccessError(FaceVidError):
    """The Hub refused or could not serve the files; the message says what to do next."""


class VerificationError(FaceVidError):
    """A downloaded file does not match the repo's size or hash."""


def env_var(name: str) -> str:
    """The environment variable that names dataset `name`'s Hub repo."""
    return "FACEVID_HUB_REPO_" + name.upper().replace("-", "_")


def hub_repo(name: str, repo_id: str | None = None) -> str | None:
    """Repo id for dataset `name`: the argument, else FACEVID_HUB_REPO_<NAME>, else `HUB_REPOS`."""
    return repo_id or os.environ.get(env_var(name)) or HUB_REPOS.get(name.replace("_", "-").lower())


def endpoint_url(endpoint: str | None = None) -> str:
    """The Hub endpoint: the argument, else HF_ENDPOINT read now (not only at import), else the default."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _licence(name: str) -> str:
    from ..builders import builder_class

    try:
        return builder_class(name).LICENSE
    except KeyError:
        return "see the dataset card"


def access_message(name: str, repo_id: str, endpoint: str, status: int | None, *, token_known: bool,
                   reason: str = "") -> str:  # fmt: skip
    """What a user without access reads: licence, where to ask, how to log in; never the token."""
    page = f"{endpoint}/datasets/{repo_id}"
    form = APPLICATION_FORMS.get(name)
    ask = f"Request access on {page}" + (f" after applying with {form} (manual review, 2-3 days)" if form else "")
    login = "log in with `hf auth login`, or set HF_TOKEN, or pass token=... (facevid download --token ...)"
    manual = f"Files obtained by another route: load_dataset({name!r}, data_dir='/path/to/files')."
    head = f"{name}: the Hub repo {repo_id} is gated (licence: {_licence(name)})."
    if status == 401 and reason == "invalid":
        what = f"The Hub rejected the token (invalid or expired): {login}."
    elif status == 401 or (status is None and not token_known):
        what = f"You are not logged in: {login}. {ask}."
    elif status == 403:
        what = (f"You are logged in but access to {repo_id} has not been granted yet (request pending or not "
                f"made). {ask}, then wait for approval.")  # fmt: skip
    else:
        what = f"{ask}; {login}."
    return f"{head}\n{what}\n{manual}"


def _translate(name: str, repo_id: str, endpoint: str, token: str | bool | None, err: Exception) -> FaceVidError:
    """An AccessError for a huggingface_hub / network failure (the chained error is dropped: no token leaks)."""
    token_known = bool(token) if token is not None else get_token() is not None
    if isinstance(err, GatedRepoError):
        status = err.response.status_code if err.response is not None else None
        return AccessError(access_message(name, repo_id, endpoint, status, token_known=token_known))
    if isinstance(err, RevisionNotFoundError):
        return AccessError(f"{name}: revision not found in {repo_id} on {endpoint}.")
    if isinstance(err, RepositoryNotFoundError):
        return AccessError(
            f"{name}: dataset repo {repo_id} not found on {endpoint}, or private to you. Check the repo id "
            f"(repo_id= or {env_var(name)}). " + access_message(name, repo_id, endpoint, None, token_known=token_known)
        )
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else None
        invalid = status == 401 and "Invalid credentials" in (err.response.headers.get("X-Error-Message") or "")
        if status in (401, 403):
            return AccessError(access_message(name, repo_id, endpoint, status, token_known=token_known,
                                              reason="invalid" if invalid else ""))  # fmt: skip
        return AccessError(f"{name}: the Hub at {endpoint} answered HTTP {status} for {repo_id}; try again later.")
    return AccessError(f"{name}: could not reach {endpoint} ({type(err).__name__}). Check the network or HF_ENDPOINT; "
                       f"files obtained by another route load with data_dir=.")  # fmt: skip


_NET_ERRORS = (HfHubHTTPError, LocalEntryNotFoundError, _TransportError, ConnectionError)


# -- file selection --------------------------------------------------------------------------------


def select_files(name: str, config: str | Any, repo_files: Iterable[str], local_dir: Path) -> list[str]:
    """Repo paths a config needs: metadata, card, and the videos and side files of the clips it keeps.

    `config` is a config name or a builder config object (with its `origins` / `languages`). Reads
    the metadata tables already downloaded to `local_dir`.
    """
    from ..builders import builder_class

    cls = builder_class(name)
    cfg = config if not isinstance(config, str) else next((c for c in cls.BUILDER_CONFIGS if c.name == config), None)
    if cfg is None:
        raise KeyError(f"{name} has no config {config!r}; configs: {[c.name for c in cls.BUILDER_CONFIGS]}")
    files = list(repo_files)
    base = [p for p in files if p in METADATA_NAMES or p == "README.md"]
    videos = [p for p in files if p.split("/")[0] not in SIDE_DIRS and Path(p).suffix.lower() in VIDEO_EXTENSIONS]
    side = {(p.split("/")[0], Path(p).stem): p for p in files if p.split("/")[0] in SIDE_DIRS}
    all_side = [p for p in files if p.split("/")[0] in SIDE_DIRS
                and (p.endswith(".npy") or Path(p).suffix.lower() in AUDIO_EXTENSIONS)]  # fmt: skip
    if getattr(cfg, "origins", None) is None and getattr(cfg, "languages", None) is None:
        return base + videos + all_side
    by_stem = {Path(p).stem: p for p in videos}
    chosen: set[str] = set()
    referenced: set[str] = set()
    for table in (local_dir / n for n in METADATA_NAMES):
        if not table.is_file():
            continue
        for line, row in iter_table(table, []):
            try:
                m = parse_row(row, table, line)
            except FaceVidError:
                continue
            rel = m.video or by_stem.get(m.clip_id)
            if rel is None:
                continue
            referenced.add(rel)
            src = m.source or cls.origin_of(m.clip_id) or cls.origin_of(Path(rel).stem)
            if not config_keeps(cfg, cls.NAME, src, m.language or cls.language_of(rel)):
                continue
            chosen.add(rel)
            if m.audio:
                chosen.add(m.audio)
            for kind in SIDE_DIRS:
                if (kind, m.clip_id) in side:
                    chosen.add(side[(kind, m.clip_id)])
    for stem, rel in by_stem.items():
        if rel not in referenced and config_keeps(cfg, cls.NAME, cls.origin_of(stem), cls.language_of(rel)):
            chosen.add(rel)
            chosen.update(side[(k, stem)] for k in SIDE_DIRS if (k, stem) in side)
    return base + sorted(p for p in chosen if p in set(files))


# -- verification ----------------------------------------------------------------------------------


def expected_hash(entry: RepoFile) -> tuple[str, str]:
    """(algorithm, hex digest) the Hub publishes for a file: sha256 for LFS, git blob sha1 otherwise."""
    if entry.lfs is not None:
        return "sha256", entry.lfs.sha256.lower()
    return "git-sha1", entry.blob_id.lower()


def file_hash(path: Path, algorithm: str) -> str:
    """Hex digest of a local file in the Hub's algorithm."""
    with path.open("rb") as f:
        if algorithm == "sha256":
            return sha_fileobj(f).hex()
        return git_hash(f.read())


def verify_files(local_dir: Path, entries: dict[str, RepoFile], paths: Iterable[str]) -> list[str]:
    """Check size and hash of each downloaded path; returns the paths that do not match.

    Results are remembered in `<local_dir>/.cache/facevid/verified.json` by (size, mtime), so a
    second run does not hash terabytes again.
    """
    memo_path = local_dir / ".cache" / "facevid" / "verified.json"
    memo: dict[str, list] = json.loads(memo_path.read_text()) if memo_path.is_file() else {}
    bad = []
    for rel in paths:
        entry = entries[rel]
        p = local_dir / rel
        size = entry.lfs.size if entry.lfs is not None else entry.size
        algo, want = expected_hash(entry)
        if not p.is_file() or p.stat().st_size != size:
            bad.append(rel)
            continue
        st = p.stat()
        if memo.get(rel) == [st.st_size, st.st_mtime_ns, want]:
            continue
        if file_hash(p, algo) != want:
            bad.append(rel)
            continue
        memo[rel] = [st.st_size, st.st_mtime_ns, want]
    memo_path.parent.mkdir(parents=True, exist_ok=True)
    memo_path.write_text(json.dumps(memo))
    return bad


# -- download --------------------------------------------------------------------------------------


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
