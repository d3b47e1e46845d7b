"""ModelScope beside the Hugging Face Hub: the same download (listing checked, files chosen per config,
verified, resumed) from a ModelScope dataset repo, through the `modelscope` SDK.

DH-FaceVid-1K's sample is mirrored on ModelScope, and users in mainland China reach it more easily
than the Hub. Choose the route with `facevid download NAME --from modelscope --repo-id owner/name`,
or name the repo with a `modelscope:` prefix wherever a Hub repo id goes:
`load_dataset("facevid-1k", repo_id="modelscope:owner/name")` or
`FACEVID_HUB_REPO_FACEVID_1K=modelscope:owner/name`.

The listing comes from `modelscope_hub.HubApi.list_repo_files` (the SDK's paginated dataset tree,
with each file's size and sha256); the files from `HubApi.download_repo(file_list=...)`, the
downloader `modelscope.hub.snapshot_download.dataset_snapshot_download` runs after its own listing,
handed the chosen files as a list (its `allow_patterns` would match every listed file against
every pattern: quadratic at release scale). Complete files are skipped, partial ones resumed.
The server is `MODELSCOPE_ENDPOINT`, else `MODELSCOPE_DOMAIN` (a host
name, https assumed, or a URL), else www.modelscope.cn; the token is `token=` (`--token`), else
`MODELSCOPE_API_TOKEN`, else the SDK's stored login (`modelscope login`). Refusals read like the
Hub's: 401 (not logged in or a bad token) and 403 (logged in, access not granted) differ, the
licence and where to ask are named, and the token is never shown.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import FaceVidError
from .access import AccessError, _description, _licence, env_var, request_access
from .route import RepoRoute
from .verify import RemoteFile, VerificationError

#: Prefix of a repo id that names a ModelScope dataset repo rather than a Hugging Face Hub one.
PREFIX = "modelscope:"
DEFAULT_ENDPOINT = "https://www.modelscope.cn"


def split_repo(repo_id: str, hub: str | None = None) -> tuple[str, str]:
    """("huggingface" or "modelscope", bare repo id) of a repo id that may carry the `modelscope:` prefix."""
    if repo_id.startswith(PREFIX):
        return "modelscope", repo_id[len(PREFIX) :]
    if hub not in (None, "huggingface", "hf", "modelscope"):
        raise FaceVidError(f"unknown hub {hub!r}: use huggingface or modelscope")
    return ("modelscope" if hub == "modelscope" else "huggingface"), repo_id


def modelscope_repo(name: str, repo_id: str | None = None) -> str | None:
    """ModelScope repo id for dataset `name`: the argument, else FACEVID_HUB_REPO_<NAME>, else the
    official ModelScope repo its description names (`modelscope_repo`; None where none is published)."""
    if repo_id or os.environ.get(env_var(name)):
        return repo_id or os.environ.get(env_var(name))
    desc = _description(name)
    return desc.modelscope_repo if desc is not None else None


def modelscope_endpoint(endpoint: str | None = None) -> str:
    """The ModelScope server: the argument, MODELSCOPE_ENDPOINT, MODELSCOPE_DOMAIN, else the default."""
    url = endpoint or os.environ.get("MODELSCOPE_ENDPOINT") or os.environ.get("MODELSCOPE_DOMAIN", "").strip()
    if not url:
        return DEFAULT_ENDPOINT
    return (url if url.startswith(("http://", "https://")) else f"https://{url}").rstrip("/")


def modelscope_token(token: str | bool | None) -> str | None:
    """The token to send: a string argument, else MODELSCOPE_API_TOKEN, else None (the SDK's stored login)."""
    if isinstance(token, str) and token:
        return token
    return os.environ.get("MODELSCOPE_API_TOKEN") or None


def access_message(name: str, repo_id: str, endpoint: str, status: int | None, *, token_known: bool) -> str:
    """What a user without access to a ModelScope repo reads: licence, where to ask, how to log in."""
    ask = request_access(name, f"{endpoint}/datasets/{repo_id}")
    login = "log in with `modelscope login --token ...`, or set MODELSCOPE_API_TOKEN, or pass token=... (--token)"
    head = f"{name}: the ModelScope repo {repo_id} is gated (licence: {_licence(name)})."
    if status == 401 and token_known:
        what = f"ModelScope rejected the token (invalid or expired): {login}."
    elif status == 401:
        what = f"You are not logged in to ModelScope: {login}. {ask}."
    elif status == 403:
        what = (f"You are logged in but access to {repo_id} has not been granted yet (request pending or not "
                f"made). {ask}, then wait for approval.")  # fmt: skip
    elif status == 404:
        what = f"The dataset repo {repo_id} was not found on {endpoint}, or is private to you. Check the repo id."
    else:
        what = f"{ask}; {login}."
    manual = f"Files obtained by another route: load_dataset({name!r}, data_dir='/path/to/files')."
    return f"{head}\n{what}\n{manual}"


def _status(err: BaseException) -> int | None:
    """The HTTP status behind an SDK error (also inside a FileDownloadError's per-file failures)."""
    from modelscope_hub.errors import AuthenticationError, FileDownloadError, NotExistError, PermissionDeniedError

    seen: list[BaseException] = [err]
    if isinstance(err, FileDownloadError):
        seen += list(err.failed_files.values())
    if err.__cause__ is not None:
        seen.append(err.__cause__)
    for e in seen:
        for cls, code in ((AuthenticationError, 401), (PermissionDeniedError, 403), (NotExistError, 404)):
            if isinstance(e, cls):
                return code
        response = getattr(e, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
    return None


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    """The SDK nags that MODELSCOPE_DOMAIN is deprecated even when the endpoint is passed explicitly
    (it is read here, as documented, and handed over as `endpoint=`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*MODELSCOPE_DOMAIN is deprecated", category=FutureWarning)
        yield


@dataclass
class ModelScopeRoute(RepoRoute):
    """One ModelScope dataset repo read through the `modelscope` SDK into `local`."""

    def __post_init__(self) -> None:
        self.url = modelscope_endpoint(self.endpoint)
        self._token = modelscope_token(self.token)
        self._listed: dict[str, RemoteFile] = {}

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """The SDK and transport errors `translate` explains."""
        import requests
        from modelscope_hub.errors import HubError

        return (HubError, requests.RequestException, ConnectionError)

    def listing(self) -> dict[str, RemoteFile]:
        """Every file of the repo with its size and sha256 (size only where the server gives no hash)."""
        from modelscope_hub import HubApi

        with _quiet_sdk():
            api = HubApi(endpoint=self.url, token=self._token)
            files = api.list_repo_files(self.repo_id, "dataset", revision=self.revision or "master", recursive=True)
        out = {}
        for f in files:
            if f.is_dir or not f.path:
                continue
            out[f.path] = RemoteFile(f.size, "sha256", f.sha256.lower()) if f.sha256 else RemoteFile(f.size, "size", "")
        self._listed = out
        return out

    def fetch(self, paths: list[str], force: bool = False) -> None:
        """Download `paths` with the SDK's downloader (`HubApi.download_repo(file_list=...)`, what
        `dataset_snapshot_download` runs after its listing: parallel, complete files skipped, partial
        ones resumed, each checked against its sha256); `force`: local copies removed first."""
        if not paths:
            return
        from modelscope_hub import HubApi

        if force:
            for rel in paths:
                (self.local / rel).unlink(missing_ok=True)
        files = [{"Path": p, "Size": self._listed[p].size, "Sha256": self._listed[p].digest or None} for p in paths]
        with _quiet_sdk():
            api = HubApi(endpoint=self.url, token=self._token)
            api.download_repo(self.repo_id, "dataset", revision=self.revision or "master", local_dir=self.local,
                              max_workers=max(1, self.max_workers), file_list=files)  # fmt: skip

    def translate(self, err: BaseException) -> FaceVidError:
        """An AccessError a user can act on (the SDK's own text, which names URLs, is not repeated), or a
        VerificationError when the SDK's own hash check refused files."""
        from modelscope_hub.errors import FileDownloadError, FileIntegrityError

        if isinstance(err, FileDownloadError):
            bad = [p for p, e in err.failed_files.items() if isinstance(e, FileIntegrityError)]
            if bad:
                return VerificationError(f"{self.name}: {len(bad)} files do not match the repo's size/hash after "
                                         f"a fresh download, e.g. {self.local / bad[0]}")  # fmt: skip
        status = _status(err)
        if status in (401, 403, 404):
            return AccessError(access_message(self.name, self.repo_id, self.url, status,
                                              token_known=self._token is not None))  # fmt: skip
        if status is not None:
            return AccessError(f"{self.name}: ModelScope at {self.url} answered HTTP {status} for {self.repo_id}; "
                               "try again later (complete files are kept).")  # fmt: skip
        return AccessError(f"{self.name}: could not reach ModelScope at {self.url} ({type(err).__name__}). Check "
                           "the network or MODELSCOPE_ENDPOINT; files obtained by another route load with data_dir=.")
