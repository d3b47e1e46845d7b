"""What every dataset builder shares: the record features, the report of clips not built, and
the manual-download rule (files obtained under a licence are pointed at with `data_dir`).

Builders in `builders/` subclass `FaceVidBuilder`, set the class facts (name, homepage,
licence, citation, how to get the data) and write `_split_generators` / `_generate_examples`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets

from .errors import DatasetNotFound
from .report import BuildReport
from .schema import FEATURES


@dataclass
class FaceVidConfig(datasets.BuilderConfig):
    """Options every builder understands.

    videos_dir: where the downloaded source videos are, when not `<data_dir>/videos`.
    """

    videos_dir: str | None = None


class FaceVidBuilder(datasets.GeneratorBasedBuilder):
    """Base class of this package's builders; subclasses stay a screen long."""

    BUILDER_CONFIG_CLASS = FaceVidConfig
    #: Public name, e.g. "hdtf".
    NAME: ClassVar[str] = ""
    HOMEPAGE: ClassVar[str] = ""
    LICENSE: ClassVar[str] = ""
    CITATION: ClassVar[str] = ""
    #: What the user must do to obtain the files (shown when they are missing).
    ACCESS: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("dataset_name", self.NAME.replace("-", "_"))
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(self.__doc__ or "").strip().split("\n\n")[0],
            features=FEATURES,
            homepage=self.HOMEPAGE,
            license=self.LICENSE,
            citation=self.CITATION,
        )

    @property
    def manual_download_instructions(self) -> str | None:
        return self.ACCESS or None

    # -- shared helpers -------------------------------------------------------------------------

    @property
    def report(self) -> BuildReport:
        """Report of this build's clips that could not be made, beside the Arrow cache."""
        root = Path(self._cache_dir_root) / "facevid_reports" / self.dataset_name / self.config.name
        return BuildReport(root / "build_report.tsv")

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
        d = Path(self._cache_dir_root) / "facevid_clips" / self.dataset_name / self.config.name / key
        d.mkdir(parents=True, exist_ok=True)
        return d
