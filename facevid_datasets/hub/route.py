"""`RepoRoute`: what every download route knows, whichever server it reads (the Hub, ModelScope).

`hub/fetch.py` drives one plan (list, select, verify, fetch) over any route; each route subclass
adds its own client in `__post_init__` and answers `listing()` and `fetch()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RepoRoute:
    """One dataset repo of dataset `name`, read into the folder `local`.

    revision: a branch, tag or commit (None: the default branch).
    token: the user's token (None: the library's own lookup; False: anonymous); never printed.
    endpoint: the server (None: the library's environment variable, else its default).
    max_workers: files downloaded at once.
    """

    name: str
    repo_id: str
    local: Path
    revision: str | None
    token: str | bool | None
    endpoint: str | None = None
    max_workers: int = 8
