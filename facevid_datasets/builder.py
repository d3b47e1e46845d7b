"""What every dataset builder shares: the record features, the report of clips not built, and
the manual-download rule (files obtained under a licence are pointed at with `data_dir`).

Builders in `builders/` subclass `FaceVidBuilder`, declare their `DESCRIPTION` (a
`facevid_datasets.description.DatasetDescription`: name, homepage, licence, citation, how to get
the data, repos, id rules; `NAME`, `HOMEPAGE`, `LICENSE`, `CITATION` and `ACCESS` are read from
it) and write `_split_generators` / `_generate_examples`.

The cache follows the files and the code: the build's cache key covers the file state of the
folders a build reads (`state_roots`: `data_dir` and `videos_dir` by default, see
`builder_state`), the builder's `VERSION` (a folder of the cache path) and `code_facts()`, the
constants that decide what a build makes (a crop's enlargement, an output size, encoder
settings). A changed release or a new version of the code is built again (and the user told
what changed) instead of being served stale; cut clips are reused when their own key is unchanged
(`cutting`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets

from . import cache_paths
from .builder_state import FileState, file_state
from .description import DatasetDescription
from .errors import CacheError, DatasetNotFound
from .licence.ledger import CopyKind, arrow_ids, record_copies
from .report import BuildReport
from .schema import FEATURES

logger = logging.getLogger(__name__)

_CACHE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
_CACHE_TEXTS = ("Permission denied", "Read-only file system", "No space left", "Disk quota", "Not enough disk space")


def cache_error(err: OSError, cache_root: str | Path) -> CacheError | None:
    """A one-line CacheError for an OSError that means the cache folder cannot be written, else None."""
    text = str(err)
    if err.errno not in _CACHE_ERRNOS and not any(t in text for t in _CACHE_TEXTS):
        return None
    where = err.filename or cache_root
    why = err.strerror or next((t for t in _CACHE_TEXTS if t in text), "cannot be written")
    return CacheError(f"cache folder {cache_root} cannot be written ({why}: {where}). Free space there, or "
                      "pass cache_dir=... (facevid --cache-dir) or set HF_DATASETS_CACHE to a writable folder.")


@dataclass
class FaceVidConfig(datasets.BuilderConfig):
    """Options every builder understands.

    videos_dir: where the downloaded source videos are, when not `<data_dir>/videos`.
    """

    videos_dir: str | None = None


class FaceVidBuilder(datasets.GeneratorBasedBuilder):
    """Base class of this package's builders; subclasses stay a screen long."""

    BUILDER_CONFIG_CLASS = FaceVidConfig
    #: Everything the package knows about the dataset (set by every concrete builder).
    DESCRIPTION: ClassVar[DatasetDescription | None] = None
    #: Read from DESCRIPTION when the subclass is defined: public name (e.g. "hdtf"), homepage,
    #: one-line licence, citation, and what the user must do to obtain the files.
    NAME: ClassVar[str] = ""
    HOMEPAGE: ClassVar[str] = ""
    LICENSE: ClassVar[str] = ""
    CITATION: ClassVar[str] = ""
    ACCESS: ClassVar[str] = ""
    #: Version of what the builder makes: a folder of the Arrow cache path. Bump it when a change of
    #: the code changes the records (the cut clips follow their own content key either way).
    VERSION = datasets.Version("1.0.0")

    #: Whether the cache key covers the file state of `state_roots` (the cache follows the files).
    TRACK_FILES: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        d = cls.__dict__.get("DESCRIPTION")
        if d is not None:
            cls.NAME, cls.HOMEPAGE, cls.LICENSE, cls.CITATION, cls.ACCESS = (
                d.name, d.homepage, d.licence, d.citation, d.access)  # fmt: skip

    @classmethod
    def code_facts(cls) -> dict[str, Any]:
        """Constants of the code that decide what a build makes (JSON values), part of the cache key.

        Read when the builder is made, so a new version of the code (or a test that patches a
        constant) gets a new Arrow cache. Builders that cut clips add their crop and size constants."""
        return {}

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("dataset_name", self.NAME.replace("-", "_"))
        self._file_state: FileState | None = None
        self._force = False  # download_mode="force_redownload": cut clips are made again too
        if kwargs.get("hash") is None:
            name = kwargs.get("config_name") or self.DEFAULT_CONFIG_NAME
            roots = self.state_roots(name, kwargs) if self.TRACK_FILES else []
            if roots:
                self._file_state = file_state(roots)
            kwargs["hash"] = self._cache_hash(self._file_state)
        try:
            super().__init__(*args, **kwargs)
        except OSError as e:
            raise cache_error(e, kwargs.get("cache_dir") or datasets.config.HF_DATASETS_CACHE) or e from None

    @classmethod
    def _cache_hash(cls, state: FileState | None) -> str:
        """The Arrow cache key beside config and version: the file state and the code facts."""
        facts = json.dumps(cls.code_facts(), sort_keys=True, default=str)
        text = f"{state.digest if state is not None else ''}|{cls.__module__}.{cls.__qualname__}|{facts}"
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    @property
    def cache_root(self) -> Path:
        """The cache folder of this build (`cache_dir=`, else HF_DATASETS_CACHE)."""
        return cache_paths.cache_root(self)

    @classmethod
    def state_roots(cls, config_name: str | None, config_kwargs: dict[str, Any]) -> list[Path]:
        """Folders whose files the build reads: `data_dir` and `videos_dir` (hook for other layouts)."""
        roots = []
        for key in ("data_dir", "videos_dir"):
            v = config_kwargs.get(key)
            if v:
                p = Path(os.path.expanduser(str(v))).resolve()
                if p.is_dir() and not any(p == r or r in p.parents for r in roots):
                    roots.append(p)
        return roots

    def _state_file(self) -> Path:
        return cache_paths.state_file(self.cache_root, self.dataset_name, self.config_id)

    def download_and_prepare(self, *args: Any, **kwargs: Any) -> None:
        """`datasets`' download_and_prepare, plus: say what changed in the files since the last build,
        and turn an unwritable or full cache folder into one clear error."""
        state = self._file_state
        built = os.path.exists(os.path.join(self._cache_dir, datasets.config.DATASET_INFO_FILENAME))
        if state is not None and not built:
            old = FileState.load(self._state_file())
            if old is not None and old.digest != state.digest:
                added, removed, changed = state.changes(old)
                logger.warning("%s/%s: the files changed since the last build (%d added, %d removed, %d changed): "
                               "building the new state (probe results of unchanged files are reused)",
                               self.NAME, self.config.name, added, removed, changed)  # fmt: skip
        mode = kwargs.get("download_mode")
        self._force = mode is not None and datasets.DownloadMode(mode) == datasets.DownloadMode.FORCE_REDOWNLOAD
        try:
            super().download_and_prepare(*args, **kwargs)
        except OSError as e:
            err = cache_error(e, self.cache_root)
            if err is None:
                raise
            raise err from None
        if not built:  # the Arrow files just written: on the ledger of copies, for `facevid forget`
            record_copies(CopyKind.ARROW_CACHE, arrow_ids(self._cache_dir), dataset=self.NAME,
                          cache_dir=self.cache_root)  # fmt: skip
        if state is not None:
            try:
                state.save(self._state_file())
            except OSError as e:
                logger.warning("%s: could not record the file state (%s)", self.NAME, e)

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        # The only "expected" split sizes a builder of user files has come from an earlier cache of
        # possibly other files; checking against them broke download_mode="force_redownload".
        self.info.splits = None
        super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        empty = [name for name, info in (self.info.splits or {}).items() if not info.num_examples]
        for name in empty:  # every clip of the split was dropped (each one is in the report)
            del self.info.splits[name]
            for f in Path(self._output_dir).glob(f"{self.dataset_name}-{name}*.arrow"):
                f.unlink()
        if empty and not self.info.splits:
            raise DatasetNotFound(f"{self.NAME}/{self.config.name}: no clip could be built. {self.report.summary()}")

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(self.__doc__ or "").strip().split("\n\n")[0],
            features=FEATURES,
            homepage=self.HOMEPAGE,
            license=self.LICENSE,
            citation=self.CITATION,
        )

    def announce_terms(self) -> str | None:
        """Show the dataset's licence terms once per release folder when they gate access (`licence.terms`)."""
        from .licence.terms import announce_terms

        return announce_terms(self)

    @property
    def manual_download_instructions(self) -> str | None:
        return self.ACCESS or None

    # -- shared helpers -------------------------------------------------------------------------

    @property
    def report(self) -> BuildReport:
        """Report of this build's clips that could not be made, beside the Arrow cache."""
        return BuildReport(cache_paths.report_file(self.cache_root, self.dataset_name, self.config.name))

    def data_root(self) -> Path:
        """The user's `data_dir`, checked to exist, or an error that says how to get the data."""
        data_dir = self.config.data_dir
        if not data_dir:
            raise DatasetNotFound(
                f"{self.NAME}: no data_dir given. {self.ACCESS}\n"
                f"Then: load_dataset({self.NAME!r}, data_dir='/path/to/{self.NAME}')"
            )
        root = Path(os.path.expanduser(data_dir))
        if not root.is_dir():
            raise DatasetNotFound(f"{self.NAME}: data_dir {root} does not exist. {self.ACCESS}")
        return root

    def videos_dir(self) -> Path:
        """Downloaded source videos: `videos_dir=` if given, else `<data_dir>/videos`."""
        if self.config.videos_dir:
            return Path(os.path.expanduser(self.config.videos_dir))
        return self.data_root() / "videos"

    def processed_dir(self) -> Path:
        """Where clips cut and cropped by this build are written (once) inside the cache.

        Keyed by the source folders too, so two releases built with one cache never share clips."""
        origin = f"{Path(self.config.data_dir or '').expanduser().resolve()}|{self.config.videos_dir or ''}"
        key = hashlib.sha1(origin.encode()).hexdigest()[:12]
        d = cache_paths.clips_dir(self.cache_root, self.dataset_name, self.config.name, key)
        d.mkdir(parents=True, exist_ok=True)
        return d
