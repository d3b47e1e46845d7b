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

Repo ids: each dataset's description (`DESCRIPTION.hub_repo` in its builder module) names the
official repo, None where none is published; `repo_id=` or the environment variable
`FACEVID_HUB_REPO_<NAME>` (e.g. `FACEVID_HUB_REPO_FACEVID_1K`) sets one.
"""

from .access import AccessError, access_message, endpoint_url, env_var, hub_repo
from .fetch import UnsafeListing, check_listing, download
from .select import select_files
from .verify import VerificationError, expected_hash, file_hash, verify_files

__all__ = [
    "AccessError",
    "UnsafeListing",
    "VerificationError",
    "access_message",
    "check_listing",
    "download",
    "endpoint_url",
    "env_var",
    "expected_hash",
    "file_hash",
    "hub_repo",
    "select_files",
    "verify_files",
]
