"""`LayoutBuilder`: the base of builders that read a release in the layout of
`facevid_datasets.raw` (FaceVid-1K, TalkingFace-Wild, the embedded sample).

It reads the release once into a small index (`raw.index`), probes the videos the metadata does
not describe (in parallel, cached on disk by path, size and mtime), and writes records as Arrow
tables (`datasets.ArrowBasedBuilder`): per-example encoding through `Features.encode_example`
costs about a millisecond a row, minutes for a 270k-clip release. Hooks, as class attributes or
class methods: `SAMPLE_DIR`, `origin_of`, `language_of`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets
import pyarrow as pa

from facevid_datasets import cache_paths
from facevid_datasets.builder import FaceVidBuilder, FaceVidConfig
from facevid_datasets.errors import AnnotationError, DatasetNotFound, MediaError
from facevid_datasets.licence.deletions import Withholder, builder_deletions
from facevid_datasets.media.probe_cache import ProbeCache
from facevid_datasets.raw import (
    ReleaseIndex,
    assign_index_splits,
    build_index,
    config_keeps,
    iter_table,
    make_record,
    parse_row,
    split_counts,
)
from facevid_datasets.report import Status
from facevid_datasets.schema import FEATURES

logger = logging.getLogger(__name__)


@dataclass
class LayoutConfig(FaceVidConfig):
    """Options of builders that read the release layout.

    origins: keep only clips whose `source` is one of these (None: all).
    languages: keep only clips in these languages (None: all).
    num_test: size of the computed test split (None: 2,048, or 10% of releases under 20,480 clips).
    split_seed: seed of the identity ordering that picks the test identities.
    hub_repo / revision: gated Hub dataset repo to download from when no data_dir is given (the
        builder's own `repo_id=` argument, as `load_dataset(..., repo_id=...)` passes it, works too).
    probe_cache: keep probe results in `<cache_dir>/facevid_probe_cache.sqlite`.
    probe_workers: parallel probes of files the metadata does not describe (None: `num_proc` of
        `download_and_prepare`, else the machine's cores).
    """

    origins: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    num_test: int | None = None
    split_seed: int = 0
    hub_repo: str | None = None
    revision: str | None = None
    probe_cache: bool = True
    probe_workers: int | None = None


class LayoutBuilder(datasets.ArrowBasedBuilder, FaceVidBuilder):
    """Builder of a dataset distributed in the release layout (FaceVid-1K, TalkingFace-Wild)."""

    BUILDER_CONFIG_CLASS = LayoutConfig
    #: Rows per Arrow table written; a table is flushed early once it holds this many keypoint frames
    #: (a keypoint row is megabytes as Python lists), which bounds memory whatever the release.
    TABLE_ROWS = 512
    TABLE_KEYPOINT_FRAMES = 20_000
    #: Record batches of the cache file. `datasets` defaults to 10 rows for tables with a Video column
    #: (sized for embedded video bytes); ours hold paths, and 27k tiny batches for a 270k-clip release
    #: cost ~650 MB of Arrow metadata each time the dataset is opened.
    DEFAULT_WRITER_BATCH_SIZE = TABLE_ROWS
    #: Release shipped inside the package for the `sample` config, if any.
    SAMPLE_DIR: ClassVar[Path | None] = None

    @classmethod
    def origin_of(cls, name: str) -> str | None:
        """Origin recognised from a file name; None means the dataset itself."""
        return None

    @classmethod
    def language_of(cls, relpath: str) -> str | None:
        """Language recognised from a video's relative path, when the metadata has none."""
        return None

    @classmethod
    def state_roots(cls, config_name: str | None, config_kwargs: dict[str, Any]) -> list[Path]:
        roots = super().state_roots(config_name, config_kwargs)
        if not roots and config_name == "sample" and cls.SAMPLE_DIR is not None:
            roots = [cls.SAMPLE_DIR]
        return roots

    def data_root(self) -> Path:
        """`data_dir`, the packaged sample, or the gated Hub repo downloaded into the cache."""
        if self.config.data_dir:
            return super().data_root()
        if self.config.name == "sample" and self.SAMPLE_DIR is not None:
            return self.SAMPLE_DIR
        from facevid_datasets.hub import download, env_var, hub_repo

        repo_id = hub_repo(self.NAME, self.config.hub_repo or self.repo_id)
        if repo_id is None:
            raise DatasetNotFound(
                f"{self.NAME}: no data_dir given and no Hub repo configured. {self.ACCESS}\n"
                f"Then: load_dataset({self.NAME!r}, data_dir='/path/to/{self.NAME}'), or name the gated Hub repo "
                f"with repo_id=... (or the environment variable {env_var(self.NAME)})."
            )
        local = cache_paths.hub_dir(self.cache_root, repo_id)
        return download(self.NAME, local, config=self.config, repo_id=repo_id,
                        revision=self.config.revision, token=self.token)  # fmt: skip

    def _probe_cache(self) -> ProbeCache:
        path = cache_paths.probe_cache_file(self.cache_root) if self.config.probe_cache else None
        return ProbeCache(path)

    def _keep(self, source: str | None, language: str | None) -> bool:
        return config_keeps(self.config, self.NAME, source, language)

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        self.announce_terms()
        root = self.data_root()
        index = build_index(root, origin=self.origin_of, language=self.language_of,
                            identity=self.DESCRIPTION.identity)  # fmt: skip
        report = self.report
        report.reset()
        for row in index.problems:
            e = index.entries.get(row.clip_id) if row.status is Status.MISSING else None
            if e is None or self._keep(e.source, e.language):  # another config's missing clips are not ours
                report.add_row(row)
        test_ids = assign_index_splits(index, seed=self.config.split_seed, num_test=self.config.num_test)
        counts = split_counts(index, test_ids, keep=self._keep)
        names = [s for s in ("train", "validation", "test") if counts.get(s)]
        if not names:
            raise DatasetNotFound(f"{self.NAME}/{self.config.name}: no clip of {root} to build. {report.summary()}")
        self._probe_ahead(index)
        return [
            datasets.SplitGenerator(name=s, gen_kwargs={"index": index, "test_ids": test_ids, "split": s})
            for s in names
        ]

    def _probe_ahead(self, index: ReleaseIndex) -> None:
        """Probe, in parallel, the files that no metadata row fully describes and the cache lacks."""
        from facevid_datasets.media.probe import probe_many

        paths = {e.video for e in index.orphans.values()}
        paths.update(e.video for e in index.entries.values() if e.video is not None and not e.described)
        workers = self.config.probe_workers or getattr(self, "_num_proc", None) or os.cpu_count() or 1
        with self._probe_cache() as cache:
            probe_many([index.root / p for p in sorted(paths)], cache, workers=workers)

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        self._num_proc = prepare_split_kwargs.get("num_proc")
        prepare_split_kwargs.pop("num_proc", None)  # one generator per split: probing is what runs in parallel
        super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)

    def _generate_examples(self, index: ReleaseIndex, test_ids: set[str], split: str) -> Iterator[tuple[str, dict]]:
        """Records of `split`: metadata rows in file order (streamed again), then videos without a row."""
        root = index.root
        withhold = Withholder(builder_deletions(self, root=root), self.report)
        with self._probe_cache() as cache:
            for t, path in enumerate(index.tables):
                for line, row in iter_table(path, []):
                    cid = row.get("clip_id")
                    e = index.entries.get(str(cid)) if cid not in (None, "") else None
                    if e is None or e.table != t or e.line != line or e.video is None:
                        continue
                    if (e.split or ("test" if cid in test_ids else "train")) != split:
                        continue
                    if not self._keep(e.source, e.language) or withhold(str(cid), row):
                        continue
                    rec = self._record(cache, root, index, str(cid), e.video, (row, path, line), e.source, e.language)
                    if rec is not None:
                        rec["split"] = split
                        yield str(cid), rec
            for cid, e in index.orphans.items():
                if ("test" if cid in test_ids else "train") != split or not self._keep(e.source, e.language):
                    continue
                if withhold(cid):
                    continue
                rec = self._record(cache, root, index, cid, e.video, None, e.source, e.language)
                if rec is not None:
                    rec["split"] = split
                    yield cid, rec

    def _generate_tables(self, index: ReleaseIndex, test_ids: set[str], split: str) -> Iterator[tuple[int, pa.Table]]:
        """The records of `_generate_examples` as Arrow tables, bounded in rows and keypoint frames."""
        schema = FEATURES.arrow_schema
        batch: list[dict] = []
        frames = 0
        n = 0
        for _, rec in self._generate_examples(index, test_ids, split):
            batch.append(rec)
            kp = rec["keypoints"]
            frames += len(kp["points"]) if kp and kp["points"] is not None else 0
            if len(batch) >= self.TABLE_ROWS or frames >= self.TABLE_KEYPOINT_FRAMES:
                yield n, pa.Table.from_pylist(batch, schema=schema)
                n += 1
                batch, frames = [], 0
        if batch:
            yield n, pa.Table.from_pylist(batch, schema=schema)

    def _record(self, cache, root, index, cid, rel, located, source, language) -> dict | None:
        """One record, or None after reporting why the clip could not be made."""
        video = root / rel
        meta = None
        notes: list[str] = []
        try:
            info = None
            if located is not None:
                row, path, line = located
                checked = parse_row(row, path, line)
                meta, info = checked.clean, checked.info
                notes += checked.notes
            if info is None:
                info = cache.get(video)
                if info.warning:
                    notes.append(info.warning)
            rec = make_record(cid, video, info, meta, dataset=self.NAME, root=root, side=index.side,
                              source=source or self.NAME, notes=notes)  # fmt: skip
        except (MediaError, AnnotationError) as e:
            self.report.add(cid, Status.ERROR, str(e), video)
            return None
        for note in notes:
            self.report.add(cid, Status.PARTIAL, note, video)
        if language and not rec["language"]:
            rec["language"] = language
        if not rec["identity"]:
            rec["identity"] = index.identities.get(cid)
        return rec
