"""Downloaded files checked against the repo's sizes and hashes, with a memo so a second load of a
4 TB release does not hash it again (`HfApi.verify_repo_checksums` hashes every file each call).

Both routes (the Hugging Face Hub and ModelScope) describe a repo file as a `RemoteFile` (size,
hash algorithm, digest), so one check serves both. The memo is written atomically (a temporary
file, then `os.replace`): a kill mid-write leaves the previous memo, and a memo that cannot be
read (torn by an older version, edited by hand) is treated as empty with a warning, so the
files are hashed again rather than the download failing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils.sha import git_hash, sha_fileobj

from ..errors import FaceVidError

logger = logging.getLogger(__name__)

#: Where the memo lives inside a download folder (hidden: never part of the release's file state).
MEMO = Path(".cache") / "facevid" / "verified.json"


class VerificationError(FaceVidError):
    """A downloaded file does not match the repo's size or hash."""


@dataclass(frozen=True)
class RemoteFile:
    """What a repo publishes about one file: its size and its hash (algorithm, hex digest)."""

    size: int
    algorithm: str  # "sha256", "git-sha1", or "size" (the server published no hash: size checked only)
    digest: str


def expected_hash(entry: RepoFile) -> tuple[str, str]:
    """(algorithm, hex digest) the Hub publishes for a file: sha256 for LFS, git blob sha1 otherwise."""
    if entry.lfs is not None:
        return "sha256", entry.lfs.sha256.lower()
    return "git-sha1", entry.blob_id.lower()


def remote_file(entry: RepoFile) -> RemoteFile:
    """A Hub listing entry as a `RemoteFile`."""
    algo, digest = expected_hash(entry)
    return RemoteFile(entry.lfs.size if entry.lfs is not None else entry.size, algo, digest)


def file_hash(path: Path, algorithm: str) -> str:
    """Hex digest of a local file in the Hub's algorithm."""
    with path.open("rb") as f:
        if algorithm == "sha256":
            return sha_fileobj(f).hex()
        return git_hash(f.read())


def read_memo(path: Path) -> dict[str, list]:
    """The verification memo, or an empty one (with a warning) when it is missing or unreadable."""
    if not path.is_file():
        return {}
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        logger.warning("%s: unreadable verification memo (%s); files will be hashed again", path, e)
        return {}
    if not isinstance(memo, dict):
        logger.warning("%s: verification memo is not a JSON object; files will be hashed again", path)
        return {}
    return memo


def write_memo(path: Path, memo: dict[str, list]) -> None:
    """Write the memo atomically: a kill leaves the previous memo, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(memo), encoding="utf-8")
    os.replace(tmp, path)


def verify_files(local_dir: Path, entries: Mapping[str, RemoteFile | RepoFile], paths: Iterable[str]) -> list[str]:
    """Check size and hash of each downloaded path; returns the paths that do not match.

    `entries` maps repo paths to `RemoteFile`s (Hub `RepoFile`s are converted). Results are
    remembered in `<local_dir>/.cache/facevid/verified.json` by (size, mtime), so a second run
    does not hash terabytes again. One pass over `paths`: a stat and a dict lookup per file.
    """
    memo_path = local_dir / MEMO
    memo = read_memo(memo_path)
    bad = []
    changed = False
    for rel in paths:
        entry = entries[rel]
        want = entry if isinstance(entry, RemoteFile) else remote_file(entry)
        p = local_dir / rel
        try:
            st = p.stat()
        except OSError:
            bad.append(rel)
            continue
        if st.st_size != want.size:
            bad.append(rel)
            continue
        key = [st.st_size, st.st_mtime_ns, want.digest]
        if want.algorithm == "size" or memo.get(rel) == key:
            continue
        if file_hash(p, want.algorithm) != want.digest:
            bad.append(rel)
            continue
        memo[rel] = key
        changed = True
    if changed or not memo:  # also replaces a missing or unreadable memo
        write_memo(memo_path, memo)
    return bad
