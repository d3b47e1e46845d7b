"""Who may read a gated Hub repo: repo ids, the endpoint, and the messages a user without access
reads (licence, where to ask, how to log in; 401 and 403 read differently, the token never shown).
"""

from __future__ import annotations

import os

from huggingface_hub import constants, get_token
from huggingface_hub.utils import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from ..description import DatasetDescription
from ..errors import FaceVidError


def _description(name: str) -> DatasetDescription | None:
    """The dataset's description (its Hub repo, licence and application form), None for an unknown name."""
    from ..builders import description, is_known

    return description(name) if is_known(name) else None


class AccessError(FaceVidError):
    """The Hub refused or could not serve the files; the message says what to do next."""


def env_var(name: str) -> str:
    """The environment variable that names dataset `name`'s Hub repo."""
    return "FACEVID_HUB_REPO_" + name.upper().replace("-", "_")


def hub_repo(name: str, repo_id: str | None = None) -> str | None:
    """Repo id for dataset `name`: the argument, else FACEVID_HUB_REPO_<NAME>, else the official repo its
    description names (`hub_repo`; None where none is published)."""
    if repo_id or os.environ.get(env_var(name)):
        return repo_id or os.environ.get(env_var(name))
    desc = _description(name)
    return desc.hub_repo if desc is not None else None


def endpoint_url(endpoint: str | None = None) -> str:
    """The Hub endpoint: the argument, else HF_ENDPOINT read now (not only at import), else the default."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _licence(name: str) -> str:
    desc = _description(name)
    return desc.licence if desc is not None else "see the dataset card"


def request_access(name: str, page: str) -> str:
    """Where to ask for access to dataset `name` on the repo page `page` (and its application form,
    when the dataset has one): the same words on the Hub and on ModelScope."""
    desc = _description(name)
    form = desc.application_form if desc is not None else None
    return f"Request access on {page}" + (f" after applying with {form} (manual review, 2-3 days)" if form else "")


def access_message(name: str, repo_id: str, endpoint: str, status: int | None, *, token_known: bool,
                   reason: str = "") -> str:  # fmt: skip
    """What a user without access reads: licence, where to ask, how to log in; never the token."""
    ask = request_access(name, f"{endpoint}/datasets/{repo_id}")
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
