"""Deletion lists: which clips must no longer be built, loaded or kept, and the hooks that apply them.

DH-FaceVid-1K's licence requires deleting data on request; the CelebV sets, HDTF and VoxCeleb2
receive takedown requests from the people filmed. A deletion list is a plain text file, one id a
line: a clip id, or a source video id that covers every clip cut from that video.

    # comments start with '#', blank lines are skipped; UTF-8 (a BOM is fine), LF or CRLF
    000680                          a clip (FaceVid-1K collected clips are their own video)
    Czb5Ml9VDsI                     a YouTube video: Czb5Ml9VDsI_0, Czb5Ml9VDsI_1, ... and TH1KH tubes
    RS127258                        a collected video: RS127258_segment_049_7350_0, ...
    Radio11                         an HDTF video: Radio11_0, Radio11_1, ...
    id00017                         a VoxCeleb2 speaker: every clip in id00017/
    id00017/_mjZ87sK6cA/00001       a VoxCeleb2 clip (path form; the builder's id is id00017__mjZ87sK6cA_00001)

Lists come from the user (`facevid forget NAME --ids FILE`), the release folder
(`<root>/deletions.txt`, shipped by the authors) and the gated Hub repo's `deletions.txt`, which
the authors can update; and the cache's own list of ids `facevid forget` removed
(`<cache_dir>/facevid_forget/<name>/deletions.txt`), so a rebuild does not bring them back.
`load_deletions` / `builder_deletions` merge them; `Withholder` is the build hook (a listed clip
is not built and the build report gets one `withheld` row saying why); `apply_deletions` filters an
already built dataset (an older cache or export); `excluded_rows` is the plan-time guard for
samplers and `ClipDataset`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import cache_paths
from ..description import DatasetDescription
from ..errors import FaceVidError
from ..report import Status

if TYPE_CHECKING:
    import datasets

    from ..report import BuildReport

logger = logging.getLogger(__name__)

#: File name of a deletion list shipped in a release folder or a gated Hub repo.
LIST_NAME = "deletions.txt"
#: Build report status of a clip left out because a deletion list names it.
WITHHELD = Status.WITHHELD

_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_CURATION_SEGMENT = re.compile(r"^(.+)_s\d{3}$")
_YOUTUBE_URL = re.compile(r"^https?://(?:www\.|m\.)?(?:youtube\.com/watch\?(?:.*&)?v=|youtu\.be/)([A-Za-z0-9_-]{11})")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_VIDEO_EXT = re.compile(r"\.(mp4|mkv|webm|mov|avi|m4a|wav)$", re.IGNORECASE)


class DeletionListError(FaceVidError):
    """A deletion list could not be read or fetched; the message names the file or repo."""


def describe(dataset: DatasetDescription | str | None) -> DatasetDescription | None:
    """The description of `dataset` (a description, or a name this package knows), else None."""
    if dataset is None or isinstance(dataset, DatasetDescription):
        return dataset
    from ..builders import description, is_known

    return description(dataset) if is_known(dataset) else None


def _all_descriptions() -> list[DatasetDescription]:
    from ..builders import descriptions

    return descriptions()


def video_ids_of(clip_id: str, dataset: DatasetDescription | str | None = None) -> tuple[str, ...]:
    """Source video ids a clip id was cut from, nearest first, by the rule its dataset's description declares.

    With `dataset` (a description or a name), that dataset's `video_ids` rule: CelebV-HQ
    `Czb5Ml9VDsI_0` -> (`Czb5Ml9VDsI`,); a TalkingHead-1KH tube -> (`<ytid>_<chunk>`, `<ytid>`); HDTF
    `Radio11_0` -> (`Radio11`,); VoxCeleb2 `id00017__mjZ87sK6cA_00001` -> (`_mjZ87sK6cA`, `id00017`:
    the speaker, so a speaker's request covers all their clips); DH-FaceVid-1K
    `RS127258_segment_049_7350_0` -> (`RS127258`,) and `000680` (its own video) -> (). Without a
    known dataset, the ids every known dataset's rule gives. A segment a curation cut, `<clip>_s001`,
    is covered by `<clip>` and its videos, whatever the dataset.
    """
    out: list[str] = []
    cid = str(clip_id)
    m = _CURATION_SEGMENT.match(cid)
    if m:
        cid = m.group(1)
        out.append(cid)
    desc = describe(dataset)
    if desc is not None:
        out.extend(desc.source_video_ids(cid))
    else:
        for d in _all_descriptions():
            out.extend(d.source_video_ids(cid))
    return tuple(dict.fromkeys(out))


def record_video_ids(record: dict[str, Any], dataset: DatasetDescription | str | None = None) -> tuple[str, ...]:
    """Source video ids a record names in its fields (`original` JSON, `video` file stem) and clip id.

    The keys of `original` read are the dataset's `video_keys` (every known dataset's without one);
    each value is also run through the dataset's id rule (a TalkingHead-1KH chunk -> its YouTube id)."""
    desc = describe(dataset if dataset is not None else record.get("dataset"))
    found: list[str] = []
    original = record.get("original")
    if isinstance(original, str) and original:
        try:
            original = json.loads(original)
        except json.JSONDecodeError:
            original = None
    if isinstance(original, dict):
        keys = desc.video_keys if desc is not None else {k: 0 for d in _all_descriptions() for k in d.video_keys}
        for key in keys:
            v = original.get(key)
            if isinstance(v, str) and v:
                found.append(v)
                found.extend(video_ids_of(v, desc))
    path = _video_path(record)
    if path:
        stem = Path(str(path)).name.split(".")[0]
        if stem and stem != record.get("clip_id"):
            found.append(stem)
    cid = record.get("clip_id")
    if cid:
        found.extend(video_ids_of(str(cid), desc))
    return tuple(dict.fromkeys(found))


def _video_path(record: dict[str, Any]) -> str | None:
    """The record's video file: `video.path` of a record, or the `video` column of a metadata row."""
    video = record.get("video")
    path = video.get("path") if isinstance(video, dict) else video
    return str(path) if isinstance(path, str) and path else None


def normalize_id(text: str) -> str | None:
    """The id a list line means (a YouTube URL gives its video id, a file name its stem, a path
    `a/b/c` the clip id `a_b_c`), or None."""
    s = text.strip()
    m = _YOUTUBE_URL.match(s)
    if m:
        return m.group(1)
    s = _VIDEO_EXT.sub("", s)
    if "/" in s:  # a path form names the clip whose id joins its parts (VoxCeleb2 `id00017/<ytid>/00001`)
        parts = s.strip("/").split("/")
        if all(_ID.match(p) and re.search(r"[A-Za-z0-9]", p) for p in parts):
            return "_".join(parts)
        return None
    if _ID.match(s) and re.search(r"[A-Za-z0-9]", s):
        return s
    return None


@dataclass
class DeletionList:
    """The ids of one or more deletion lists, with where each came from and the lines that were not ids."""

    ids: dict[str, str] = field(default_factory=dict)  # id -> "file:line" it was read from
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line: why", one per bad line
    #: The dataset the list applies to: its description's id rules decide which clips an id covers
    #: (None: a record's own `dataset`, else every known dataset's rules).
    dataset: DatasetDescription | None = None

    @classmethod
    def parse(cls, text: str, source: str = "<ids>") -> DeletionList:
        """Read a list's text; a line that is not a plausible id becomes a problem naming file and line."""
        out = cls(sources=[source])
        for i, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
            line = raw.split("#", 1)[0].strip() if not _YOUTUBE_URL.match(raw.strip()) else raw.strip()
            if not line:
                continue
            ident = normalize_id(line)
            if ident is None:
                why = "several ids on one line (one a line)" if re.search(r"[\s,;]", line) else "not a clip or video id"
                out.problems.append(f"{source}:{i}: {why}: {line[:80]!r}")
                continue
            out.ids.setdefault(ident, f"{source}:{i}")
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> DeletionList:
        """Read a list file; raises DeletionListError naming it when it cannot be read as UTF-8 text."""
        p = Path(path)
        try:
            text = p.read_bytes().decode("utf-8-sig")
        except OSError as e:
            raise DeletionListError(f"{p}: cannot read the deletion list ({e.strerror or e})") from None
        except UnicodeDecodeError as e:
            raise DeletionListError(f"{p}: the deletion list is not UTF-8 text (byte {e.start})") from None
        return cls.parse(text, str(p))

    @classmethod
    def of(cls, ids: DeletionList | str | Path | Iterable[str] | None) -> DeletionList:
        """A list from a DeletionList, a file path, or ids given directly."""
        if ids is None:
            return cls()
        if isinstance(ids, DeletionList):
            return ids
        if isinstance(ids, str | Path):
            return cls.from_file(ids)
        return cls.parse("\n".join(ids), "<ids>")

    def merge(self, other: DeletionList) -> DeletionList:
        """Both lists in one (the first source of an id is kept)."""
        ids = dict(self.ids)
        for k, v in other.ids.items():
            ids.setdefault(k, v)
        return DeletionList(ids, self.sources + other.sources, self.problems + other.problems,
                            self.dataset or other.dataset)  # fmt: skip

    def bound(self, dataset: DatasetDescription | str | None) -> DeletionList:
        """The same ids, applied with `dataset`'s id rules."""
        return DeletionList(self.ids, self.sources, self.problems, describe(dataset) or self.dataset)

    def __len__(self) -> int:
        return len(self.ids)

    def __bool__(self) -> bool:
        return bool(self.ids)

    def __contains__(self, ident: object) -> bool:
        return ident in self.ids

    def match(self, clip_id: str, video_id: str | None = None, record: dict[str, Any] | None = None,
              dataset: DatasetDescription | str | None = None) -> str | None:  # fmt: skip
        """The listed id that covers this clip (itself, its source video, a video its record names), or None.

        The id rules are those of `dataset`, else of the record's `dataset`, else of the list's."""
        cid = str(clip_id)
        if cid in self.ids:
            return cid
        norm = normalize_id(cid) if ("/" in cid or "." in cid) else None  # path form, or a file name
        if norm is not None and norm in self.ids:
            return norm
        desc = describe(dataset) or (describe(record.get("dataset")) if record else None) or self.dataset
        for v in ([video_id] if video_id else []) + list(video_ids_of(norm or cid, desc)):
            if v in self.ids:
                return v
        if record is not None and self._mentioned(record):
            for v in record_video_ids(record, desc):
                if v in self.ids:
                    return v
        return None

    def _mentioned(self, record: dict[str, Any]) -> bool:
        """Cheap pre-check: does any listed id appear in the record's `original` or video path, as a word
        or a run of its `_`-separated parts (`WA1L8vXkSKQ` in `WA1L8vXkSKQ_0001`)? Parsing every record's
        JSON costs seconds on a 270k-clip release."""
        text = f"{record.get('original') or ''} {_video_path(record) or ''}"
        for token in set(_TOKEN.findall(text)):
            if token in self.ids:
                return True
            parts = token.split("_")
            for i in range(len(parts)):
                for j in range(i + 1, len(parts) + 1):
                    if "_".join(parts[i:j]) in self.ids:
                        return True
        return False

    def covers(self, clip_id: str, video_id: str | None = None,
               dataset: DatasetDescription | str | None = None) -> bool:  # fmt: skip
        """Whether the list names this clip or its source video (given, or derived from the clip id)."""
        return self.match(clip_id, video_id, dataset=dataset) is not None

    def reason(self, clip_id: str, video_id: str | None = None, record: dict[str, Any] | None = None,
               dataset: DatasetDescription | str | None = None) -> str | None:  # fmt: skip
        """Why the clip is withheld ("deletion request: clip listed in FILE:LINE"), or None."""
        hit = self.match(clip_id, video_id, record, dataset)
        if hit is None:
            return None
        what = "clip" if hit == str(clip_id) else f"source video {hit}"
        return f"deletion request: {what} listed in {self.ids[hit]}"


# -- where lists come from ---------------------------------------------------------------------------


def hub_deletions(
    name: str,
    repo_id: str,
    local_dir: str | Path,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
) -> Path | None:
    """The gated Hub repo's `deletions.txt`, downloaded into `local_dir` (None if the repo has none).

    Offline (`HF_HUB_OFFLINE=1`, or the Hub unreachable) a copy downloaded earlier is used with a
    warning; with none, DeletionListError says the list could not be checked and how to fix it.
    """
    from huggingface_hub import constants, get_token, hf_hub_download
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    from ..hub import endpoint_url
    from ..hub.access import access_message

    local = Path(local_dir)
    kwargs = dict(repo_type="dataset", revision=revision, local_dir=local, token=token, endpoint=endpoint_url())
    def refusal(status: int | None) -> str:
        """A refused request explained as `hub.access` does (logged in or not, where to ask), on one line."""
        known = bool(token) or get_token() is not None
        why = access_message(name, repo_id, endpoint_url(), status, token_known=known)
        return f"the Hub refused access (HTTP {status or 403}). " + " ".join(why.split("\n"))

    refused = ""
    try:
        return Path(hf_hub_download(repo_id, LIST_NAME, **kwargs))
    except LocalEntryNotFoundError as e:  # offline or unreachable, and no copy (a subclass of the next one)
        failure: Exception = e
        status = getattr(getattr(e.__cause__, "response", None), "status_code", None)  # a refusal it wraps
        refused = refusal(status) if status in (401, 403) else ""
    except EntryNotFoundError:
        return None
    except (GatedRepoError, RepositoryNotFoundError, HfHubHTTPError, OSError) as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(e, GatedRepoError) or status in (401, 403):
            refused = refusal(status)
        elif isinstance(e, RepositoryNotFoundError):
            raise DeletionListError(f"{name}: dataset repo {repo_id} not found (or private to you); its "
                                    f"{LIST_NAME} cannot be checked.") from None  # fmt: skip
        failure = e
    old = local / LIST_NAME
    if old.is_file():
        logger.warning("%s: could not refresh %s from %s (%s); using the copy in %s", name, LIST_NAME, repo_id,
                       type(failure).__name__, old)  # fmt: skip
        return old
    offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    why = "HF_HUB_OFFLINE is set" if offline else f"the Hub is unreachable ({type(failure).__name__})"
    if refused:
        raise DeletionListError(f"{name}: cannot fetch the deletion list {LIST_NAME} of {repo_id}: {refused}")
    raise DeletionListError(
        f"{name}: cannot fetch the deletion list {LIST_NAME} of {repo_id}: {why} and no earlier copy is in "
        f"{local}. Run once with network access, or pass the list yourself (facevid forget {name} --ids FILE)."
    )


def load_deletions(
    name: DatasetDescription | str,
    *,
    ids: DeletionList | str | Path | Iterable[str] | None = None,
    root: str | Path | None = None,
    repo_id: str | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    hub_dir: str | Path | None = None,
    strict: bool = False,
) -> DeletionList:
    """Every deletion list that applies to a build of `name`: the user's `ids`, `<root>/deletions.txt`
    and, with `repo_id`, the gated repo's `deletions.txt` (kept in `hub_dir`, default `root`).

    A Hub list that cannot be fetched (offline, no earlier copy) is a warning and a problem line, so an
    offline load of a cached build still works; `strict=True` raises DeletionListError instead."""
    out = DeletionList.of(ids).bound(name)
    if root is not None and (Path(root) / LIST_NAME).is_file():
        out = out.merge(DeletionList.from_file(Path(root) / LIST_NAME))
    label = name.name if isinstance(name, DatasetDescription) else name
    if repo_id:
        local = hub_dir or root
        if local is None:
            raise ValueError("load_deletions: repo_id needs hub_dir (or root) to keep the downloaded list in")
        try:
            got = hub_deletions(label, repo_id, local, revision=revision, token=token)
        except DeletionListError as e:
            if strict:
                raise
            out.problems.append(str(e))
            got = None
        if got is not None and not (root is not None and Path(got).resolve() == (Path(root) / LIST_NAME).resolve()):
            out = out.merge(DeletionList.from_file(got))
    for line in out.problems:
        logger.warning("%s: %s", label, line)
    return out


def forgotten_list(cache_dir: str | Path, name: str) -> Path:
    """The ids `facevid forget` removed from this cache's copies of `name`, kept so a rebuild from the
    (untouched) release does not bring them back: `<cache_dir>/facevid_forget/<name>/deletions.txt`."""
    return cache_paths.forget_list(cache_dir, name)


def builder_deletions(builder: Any, root: str | Path | None = None) -> DeletionList:
    """The lists that apply to a builder's build: the ids forgotten in its cache, its release folder's
    list and its gated repo's.

    `root` is the release folder the builder reads (default: its `data_dir`; the packaged sample's
    folder for the `sample` config). The Hub list is fetched when the build goes through the Hub.
    """
    cfg = builder.config
    if root is None:
        if cfg.data_dir:
            root = Path(os.path.expanduser(cfg.data_dir))
        elif cfg.name == "sample" and getattr(builder, "SAMPLE_DIR", None) is not None:
            root = builder.SAMPLE_DIR
    repo_id = None
    if not cfg.data_dir and cfg.name != "sample":
        from ..hub import hub_repo

        repo_id = hub_repo(builder.NAME, getattr(cfg, "hub_repo", None) or getattr(builder, "repo_id", None))
    cache = cache_paths.cache_root(builder)
    hub_dir = cache_paths.hub_dir(cache, repo_id) if repo_id else None
    local = forgotten_list(cache, builder.NAME)
    return load_deletions(builder.DESCRIPTION, ids=local if local.is_file() else None, root=root, repo_id=repo_id,
                          revision=getattr(cfg, "revision", None), token=getattr(builder, "token", None),
                          hub_dir=hub_dir)  # fmt: skip


# -- applying a list ---------------------------------------------------------------------------------


@dataclass
class Withheld:
    """Clips a deletion list kept out, with why; `summary()` is the build report's line."""

    rows: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, reason)

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        if not self.rows:
            return "no clip withheld"
        by_video = sum("source video" in r for _, r in self.rows)
        return (f"{len(self.rows)} clips withheld by deletion requests ({len(self.rows) - by_video} listed by clip id, "
                f"{by_video} by source video)")  # fmt: skip


class Withholder:
    """Build hook: `withholder(clip_id, record)` is True for a listed clip, which is then not built;
    each withheld clip gets one `withheld` row (with why) in the build report, nowhere else."""

    def __init__(self, deletions: DeletionList, report: BuildReport | None = None):
        self.deletions = deletions
        self.report = report
        self.withheld = Withheld()

    def __call__(self, clip_id: str, record: dict[str, Any] | None = None, video_id: str | None = None) -> bool:
        if not self.deletions:
            return False
        why = self.deletions.reason(clip_id, video_id, record)
        if why is None:
            return False
        self.withheld.rows.append((str(clip_id), why))
        if self.report is not None:
            self.report.add(str(clip_id), WITHHELD, why)
        return True


def withheld(records: Iterable[dict[str, Any]], deletions: DeletionList) -> tuple[list[dict[str, Any]], Withheld]:
    """Split records into those kept and the report of those a deletion list withholds."""
    hook = Withholder(deletions)
    kept = [r for r in records if not hook(r["clip_id"], r)]
    return kept, hook.withheld


def iter_kept(records: Iterable[dict[str, Any]], hook: Withholder) -> Iterator[dict[str, Any]]:
    """Records `hook` does not withhold, streamed (for builders that yield records one by one)."""
    for r in records:
        if not hook(r["clip_id"], r):
            yield r


def _columns(data: Any) -> tuple[list[str], list[Any], list[Any], list[Any]]:
    """(clip ids, `original` values, video paths, `dataset` values) of a Dataset (four Arrow columns,
    nothing decoded), of records, or of bare ids."""
    import datasets

    if isinstance(data, datasets.Dataset):
        cols = [c for c in ("clip_id", "original", "video", "dataset") if c in data.column_names]
        table = data.select_columns(cols).with_format("arrow")[:]
        ids = table.column("clip_id").to_pylist()
        none = [None] * len(ids)
        orig = table.column("original").to_pylist() if "original" in cols else none
        paths = table.column("video").combine_chunks().field("path").to_pylist() if "video" in cols else none
        names = table.column("dataset").to_pylist() if "dataset" in cols else none
        return ids, orig, paths, names
    items = list(data)
    if items and isinstance(items[0], dict):
        paths = [(r.get("video") or {}).get("path") if isinstance(r.get("video"), dict) else None for r in items]
        names = [r.get("dataset") for r in items]
        return [r["clip_id"] for r in items], [r.get("original") for r in items], paths, names
    none = [None] * len(items)
    return [str(x) for x in items], none, none, none


def covered_rows(records_or_ids: Any, deletions: DeletionList) -> dict[int, tuple[str, str]]:
    """Row position -> (clip id, why) for every row of a Dataset, records or ids that the list covers."""
    if not deletions:
        return {}
    out = {}
    for i, (cid, orig, path, name) in enumerate(zip(*_columns(records_or_ids), strict=True)):
        rec = {"clip_id": cid, "original": orig, "video": {"path": path} if path else None, "dataset": name}
        why = deletions.reason(cid, record=rec)
        if why is not None:
            out[i] = (cid, why)
    return out


def excluded_rows(records_or_ids: Any, deletions: DeletionList) -> set[int]:
    """Positions of the rows a deletion list covers: the plan-time guard a sampler or `ClipDataset` takes
    (`exclude_ids=`), so an older cache or export never yields a listed clip."""
    return set(covered_rows(records_or_ids, deletions))


def apply_deletions(
    data: datasets.Dataset | datasets.DatasetDict | datasets.IterableDataset | datasets.IterableDatasetDict,
    deletions: DeletionList,
    report: BuildReport | None = None,
) -> Any:
    """`data` without the rows a deletion list covers (same type). Each removed row gets one `withheld`
    report row (not repeated on later loads). An older cache keeps its files; `facevid forget` rewrites them."""
    import datasets

    if not deletions:
        return data
    if isinstance(data, datasets.DatasetDict | datasets.IterableDatasetDict):
        return type(data)({k: apply_deletions(v, deletions, report) for k, v in data.items()})
    if isinstance(data, datasets.IterableDataset):
        return data.filter(lambda r: deletions.reason(r["clip_id"], record=r) is None)
    drop = covered_rows(data, deletions)
    if not drop:
        return data
    if report is not None:
        known = {r.clip_id for r in report.rows() if r.status == WITHHELD}
        for cid, why in drop.values():
            if cid not in known:
                report.add(cid, WITHHELD, why)
    return data.select([i for i in range(len(data)) if i not in drop])


def apply_shipped_deletions(builder: Any, data: Any) -> Any:
    """`load_dataset`'s hook: the built (possibly older, cached) dataset without the clips the release's
    or the Hub repo's deletion lists name; the builder's report says how many and why."""
    deletions = builder_deletions(builder)
    report = getattr(builder, "report", None)
    return apply_deletions(data, deletions, report)
