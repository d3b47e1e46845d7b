"""Names of the release layout (extensions, metadata tables, side folders), the spellings of a
metadata `source`, and the containment rule: every path a release names stays inside its root.
Which dataset a clip came from by its file name is its builder's rule (`FaceVid1K.origin_of`).

This is the leaf both the builders and `hub` import: it imports nothing else of the package
but `errors`.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from ..errors import UnsafePath

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi")
AUDIO_EXTENSIONS = (".wav", ".flac", ".m4a", ".mp3", ".aac")
METADATA_NAMES = ("metadata.jsonl", "metadata.csv", "metadata.parquet")
SIDE_DIRS = ("keypoints", "head_pose", "face_boxes", "audio")
#: Metadata columns that carry what a probe would measure; with all of them (and the audio
#: presence) the video file is not opened.
PROBE_FIELDS = ("fps", "num_frames", "width", "height", "duration")

#: Origin spellings accepted in a metadata `source` column, mapped to this package's names.
SOURCE_ALIASES = {
    "collected": "facevid-1k",
    "facevid": "facevid-1k",
    "facevid1k": "facevid-1k",
    "dhfacevid1k": "facevid-1k",
    "celebv": "celebv",
    "celebvhq": "celebv-hq",
    "celebvtext": "celebv-text",
    "talkinghead1kh": "talkinghead-1kh",
    "th1kh": "talkinghead-1kh",
    "talkingfacewild": "talkingface-wild",
}


def normalize_source(value: Any) -> str | None:
    """A metadata `source` value in this package's spelling (`CelebV-HQ` -> `celebv-hq`); unknown kept."""
    if value in (None, ""):
        return None
    key = re.sub(r"[^a-z0-9]", "", str(value).lower())
    return SOURCE_ALIASES.get(key, str(value).strip())


def printable(name: str) -> str:
    """A file name safe to print and to store as UTF-8 (undecodable bytes shown as \\xNN escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_utf8(name: str) -> bool:
    """Whether a name read from disk decodes as UTF-8 (names that do not carry surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_relpath(rel: str) -> str:
    """`rel` normalised as a POSIX path relative to a release root, checked by its text alone.

    Raises UnsafePath for an absolute path (a drive-relative `C:x.mp4` too), one that climbs out
    with `..`, a NUL byte, a name that is not UTF-8, or an empty path. Used for metadata rows and
    Hub listings (untrusted).
    """
    if not isinstance(rel, str) or not rel.strip():
        raise UnsafePath(str(rel), "empty path")
    if "\x00" in rel:
        raise UnsafePath(printable(rel), "path contains a NUL byte")
    if not is_utf8(rel):
        raise UnsafePath(printable(rel), "path is not valid UTF-8")
    text = rel.replace("\\", "/")
    if text.startswith("/") or os.path.isabs(rel):
        raise UnsafePath(rel, "absolute path; release paths must be relative to the release root")
    if re.match(r"^[A-Za-z]:", text):  # `C:\x`, and `C:x.mp4` (relative to drive C's current folder)
        raise UnsafePath(rel, "absolute path (names a drive); release paths must be relative to the release root")
    norm = posixpath.normpath(text)
    if norm == ".." or norm.startswith("../"):
        raise UnsafePath(rel, "path leaves the release root")
    if norm == ".":
        raise UnsafePath(rel, "path names the release root itself")
    return norm


def resolve_inside(root_real: str, rel: str) -> str:
    """Real path of `rel` under the release root (already `realpath`-ed), symlinks followed.

    Raises UnsafePath when the text or a symlink on the way leads outside the root, or when the
    symlinks loop.
    """
    norm = safe_relpath(rel)
    try:
        real = os.path.realpath(os.path.join(root_real, norm), strict=True)
    except FileNotFoundError:
        return os.path.join(root_real, norm)  # not there: the caller reports it missing
    except OSError as e:
        raise UnsafePath(rel, f"cannot be resolved ({e.strerror or e})") from None
    if real != root_real and not real.startswith(root_real.rstrip(os.sep) + os.sep):
        raise UnsafePath(rel, f"resolves outside the release root (to {printable(real)})")
    return real
