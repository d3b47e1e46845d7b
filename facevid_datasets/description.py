"""`DatasetDescription`: everything the package needs to know about one dataset, in one typed object.

Each builder module (`builders/<name>.py`) declares one, as its builder's `DESCRIPTION`: the
public name and title, where the data comes from (homepage, Hub and ModelScope repos, the
application form), the licence and whether its terms gate access, what to do to obtain the files,
the expected size, the dataset card, and how a clip id maps to the source video ids and the
identity it was cut from. Hub access, deletion requests, copy scans, statistics, the card check
and the builder test base all read these facts from the description, never from a table of their
own: adding a dataset is one builder module, one card and one test subclass.

The id rules matter under the licences: a takedown request names a clip, a source video or a
person, and `licence.deletions` asks the description which source video ids a clip id was cut
from. A dataset whose ids follow no rule the package knew before (MEAD's
`M003_front_angry_level_1_001`, whose speaker is `M003`) is matched because its builder declares
the rule.

This is a leaf module: it imports nothing of the package, so any module may import it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

#: Hugging Face `size_categories` values, smallest first (the card's field).
SIZE_CATEGORIES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M")


def no_video_ids(clip_id: str) -> tuple[str, ...]:
    """Id rule of a dataset whose clips are their own source videos: no other id covers a clip."""
    return ()


def no_identity(clip_id: str) -> str | None:
    """Identity rule of a dataset whose clip ids do not name the person (the metadata may)."""
    return None


_CUT_INDEX = re.compile(r"^(.*[A-Za-z].*?)_\d+$")


def cut_index_video_ids(clip_id: str, depth: int = 1) -> tuple[str, ...]:
    """`<video>_<n>` ids of clips cut from a named video (HDTF `Radio11_0` -> `Radio11`), up to `depth`
    trailing indices removed (CelebV-Text `<ytid>_<n>_<m>` -> `<ytid>_<n>`, `<ytid>`).

    A head without a letter (`000680_3`) is not a video name, so nothing is removed from it."""
    out: list[str] = []
    cid = clip_id
    for _ in range(depth):
        m = _CUT_INDEX.match(cid)
        if not m:
            break
        cid = m.group(1)
        out.append(cid)
    return tuple(out)


def first_match(*rules: Callable[[str], tuple[str, ...]]) -> Callable[[str], tuple[str, ...]]:
    """An id rule that answers with the first of `rules` that finds any source video id."""

    def rule(clip_id: str) -> tuple[str, ...]:
        for r in rules:
            got = r(clip_id)
            if got:
                return got
        return ()

    return rule


@dataclass(frozen=True)
class DatasetDescription:
    """The facts of one dataset the rest of the package reads (see the module docstring).

    name: public name (`facevid-1k`); also the card's file stem and the `dataset` field of records.
    title: the dataset's own name (`DH-FaceVid-1K`).
    homepage, citation: where it is described and how to cite it (BibTeX).
    licence: one line; the full terms are in the card.
    access: what a user must do to obtain the files (shown when they are missing).
    gated: whether its terms go beyond an open licence: every build from a folder shows them once.
    size_category: the Hub `size_categories` value of the full release (one of SIZE_CATEGORIES).
    clips: clips in the full release as published, None when not published.
    hub_repo / modelscope_repo: the official repo of the full release (None: none published; then
        `repo_id=` or FACEVID_HUB_REPO_<NAME> names one).
    hub_sample_repo / modelscope_sample_repo: the official sample's repos, when there is one.
    application_form: where access is applied for before any download, when there is a form.
    video_ids: clip id -> the source video (or person) ids it was cut from, nearest first; a
        deletion request naming any of them withholds the clip.
    identity: clip id -> the identity the builder gives it, when the id alone says (else None).
    video_keys: keys of a record's `original` JSON that name its source video; the values go
        through `video_ids` too (a TalkingHead-1KH chunk `<ytid>_<chunk>` -> `<ytid>`).
    card: the dataset card; default `dataset_cards/<name>.md` shipped with the package.
    """

    name: str
    title: str
    homepage: str
    citation: str
    licence: str
    access: str
    gated: bool
    size_category: str
    clips: int | None = None
    hub_repo: str | None = None
    modelscope_repo: str | None = None
    hub_sample_repo: str | None = None
    modelscope_sample_repo: str | None = None
    application_form: str | None = None
    video_ids: Callable[[str], tuple[str, ...]] = no_video_ids
    identity: Callable[[str], str | None] = no_identity
    video_keys: tuple[str, ...] = ()
    card: Path | None = None

    def __post_init__(self) -> None:
        if self.size_category not in SIZE_CATEGORIES:
            raise ValueError(f"{self.name}: size_category {self.size_category!r} is not one of {SIZE_CATEGORIES}")
        if self.name != self.name.lower() or "_" in self.name:
            raise ValueError(f"{self.name!r}: dataset names are lower case with '-' (e.g. 'facevid-1k')")

    @property
    def card_path(self) -> Path:
        """The dataset card: `card`, else the one shipped with the package."""
        if self.card is not None:
            return Path(self.card)
        return Path(str(files("facevid_datasets.dataset_cards") / f"{self.name}.md"))

    @property
    def dataset_name(self) -> str:
        """The name `datasets` uses for cache folders (`facevid_1k`)."""
        return self.name.replace("-", "_")

    def source_video_ids(self, clip_id: str) -> tuple[str, ...]:
        """`video_ids(clip_id)`, never raising for an id that does not follow the naming."""
        try:
            return tuple(self.video_ids(str(clip_id)))
        except (TypeError, ValueError, IndexError):
            return ()
