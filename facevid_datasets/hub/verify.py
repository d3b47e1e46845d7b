"""Downloaded files checked against the repo's sizes and hashes, with a memo so a second load of a
4 TB release does not hash it again (`HfApi.verify_repo_checksums` hashes every file each call).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils.sha import git_hash, sha_fileobj

from ..errors import FaceVidError


class VerificationError(FaceVidError):
    """A downloaded file does not match the repo's size or hash."""


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
