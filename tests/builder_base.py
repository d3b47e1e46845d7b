"""`BuilderTestCase`: the checks every dataset builder passes, as torchvision's `DatasetTestCase`.

A subclass names the builder (`BUILDER`), writes a small fake release (`write_release`) and says
what a build of it gives: the clip ids of each config (`EXPECTED`), the build report rows of the
default config (`REPORT`), and one clip id and one source video id to request deletion of
(`DELETE_CLIP`, `DELETE_VIDEO` with the clips the video covers). The base then checks:

- the builder's `DESCRIPTION` (name, card, card facts that must agree with it);
- the licence terms shown once per release folder, for a gated dataset only;
- every config's records against `FEATURES` (types, values, `dataset`, the identity rule);
- the report rows of the default config, typed (`ReportRow`, `Status`);
- the one-line error naming an empty folder, with nothing written into it;
- a deletion request naming the clip id and the source video id withholds exactly those clips,
  each with one `withheld` report row saying which listed id matched.

Builds go through `facevid_datasets.load_dataset`; a builder that is not shipped is registered for
the class (`builders.register`), so a dataset added outside the package is tested the same way.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest
from huggingface_hub import DatasetCard

import facevid_datasets as fd
from facevid_datasets import builders
from facevid_datasets.description import DatasetDescription
from facevid_datasets.errors import DatasetNotFound
from facevid_datasets.report import ReportRow, Status
from facevid_datasets.schema import FEATURES, validate_record


class BuilderTestCase:
    """Base of the per-builder test classes (see the module docstring); subclasses are named `Test*`."""

    #: The builder class under test.
    BUILDER: ClassVar[type]
    #: Config -> the clip ids its build of the fake release yields (every config but SKIP_CONFIGS).
    EXPECTED: ClassVar[dict[str, set[str]]]
    #: Build report of the default config: clip id -> status (every row, `withheld` ones excluded).
    REPORT: ClassVar[dict[str, str]] = {}
    #: A clip id, and a source video id with the clips it covers, for the deletion request.
    DELETE_CLIP: ClassVar[str]
    DELETE_VIDEO: ClassVar[tuple[str, set[str]]]
    #: Configs not built here (`cleaned` reads curation output, tested with curation).
    SKIP_CONFIGS: ClassVar[tuple[str, ...]] = ("cleaned",)

    def write_release(self, root: Path) -> None:
        """Write the fake release under `root` (metadata and tiny videos)."""
        raise NotImplementedError

    def load_kwargs(self, config: str, root: Path) -> dict[str, Any]:
        """Arguments of `load_dataset` for `config` besides the cache (default: `data_dir=root`)."""
        return {"data_dir": str(root)}

    # -- fixtures -----------------------------------------------------------------------------------

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _registered(cls):
        name = cls.BUILDER.DESCRIPTION.name
        added = not builders.is_known(name)
        if added:
            builders.register(cls.BUILDER)
        yield
        if added:
            builders.unregister(name)

    @pytest.fixture(scope="class")
    @classmethod
    def release(cls, tmp_path_factory) -> Path:
        root = tmp_path_factory.mktemp(cls.BUILDER.DESCRIPTION.dataset_name) / "release"
        root.mkdir()
        cls().write_release(root)
        return root

    @pytest.fixture(scope="class")
    @classmethod
    def default_build(cls, release, tmp_path_factory) -> tuple[dict[str, dict], list[ReportRow]]:
        case = cls()
        return case.build(case.default_config(), release, tmp_path_factory.mktemp("cache"))

    # -- helpers ------------------------------------------------------------------------------------

    def default_config(self) -> str:
        return self.BUILDER.DEFAULT_CONFIG_NAME or self.BUILDER.BUILDER_CONFIGS[0].name

    def configs(self) -> list[str]:
        return [c.name for c in self.BUILDER.BUILDER_CONFIGS if c.name not in self.SKIP_CONFIGS]

    def build(self, config: str, root: Path, cache: Path) -> tuple[dict[str, dict], list[ReportRow]]:
        """Records by clip id (all splits) and the build report rows of `config`."""
        name = self.BUILDER.DESCRIPTION.name
        ds = fd.load_dataset(name, config, cache_dir=str(cache), **self.load_kwargs(config, root))
        for split in ds.values():
            assert split.features == FEATURES, (name, config)
        records = {r["clip_id"]: r for split in ds.values() for r in split}
        builder = fd.load_builder(name, config, cache_dir=str(cache), **self.load_kwargs(config, root))
        return records, builder.report.rows()

    # -- the checks ---------------------------------------------------------------------------------

    def test_description_and_card_agree(self):
        d = self.BUILDER.DESCRIPTION
        assert isinstance(d, DatasetDescription) and d.name == self.BUILDER.NAME
        assert (self.BUILDER.LICENSE, self.BUILDER.ACCESS) == (d.licence, d.access) and d.access
        assert d.card_path.is_file(), d.card_path
        card = DatasetCard.load(d.card_path).data
        assert card.size_categories == [d.size_category]
        assert card.pretty_name == d.title
        licences = card.license if isinstance(card.license, list) else [card.license]
        assert d.gated == ("other" in licences and bool(card.extra_gated_prompt)), "card gating != description.gated"
        assert builders.description(d.name) is d
        assert set(self.EXPECTED) == set(self.configs()), "EXPECTED must list every config built here"

    def test_every_config_matches_features(self, release, default_build, tmp_path):
        d = self.BUILDER.DESCRIPTION
        for config in self.configs():
            records = default_build[0] if config == self.default_config() else self.build(config, release, tmp_path)[0]
            assert set(records) == self.EXPECTED[config], config
            for cid, rec in records.items():
                assert validate_record(rec) == [], (config, cid, validate_record(rec))
                FEATURES.encode_example(rec)  # every value fits its feature type
                assert rec["dataset"] == d.name and rec["clip_id"] == cid
                ident = d.identity(cid)
                if ident is not None:
                    assert rec["identity"] == ident, (cid, rec["identity"], ident)

    def test_report_rows(self, default_build):
        rows = default_build[1]
        assert all(isinstance(r, ReportRow) and isinstance(r.status, Status) for r in rows)
        assert {r.clip_id: str(r.status) for r in rows} == self.REPORT
        assert not set(self.REPORT) & set(default_build[0])  # a reported clip is not also built (none partial here)

    def test_terms_shown_once_per_folder_when_gated(self, release, tmp_path, capsys):
        d = self.BUILDER.DESCRIPTION
        config = self.default_config()
        kwargs = {**self.load_kwargs(config, release), "data_dir": str(release)}
        for first in (True, False):  # the build's first step, twice over one cache
            fd.load_builder(d.name, config, cache_dir=str(tmp_path / "cache"), **kwargs)._split_generators(None)
            shown = f"{d.title} licence" in capsys.readouterr().err
            assert shown == (d.gated and first), (d.name, first)

    def test_empty_folder_is_one_clear_error(self, tmp_path):
        empty = tmp_path / "empty"
        empty.mkdir()
        config = self.default_config()
        kwargs = {**self.load_kwargs(config, empty), "data_dir": str(empty)}
        with pytest.raises(DatasetNotFound) as err:
            fd.load_dataset(self.BUILDER.DESCRIPTION.name, config, cache_dir=str(tmp_path / "cache"), **kwargs)
        message = str(err.value)
        assert self.BUILDER.DESCRIPTION.name in message and str(empty) in message, message
        assert "Traceback" not in message and list(empty.iterdir()) == []  # nothing written into the release

    def test_deletion_by_clip_and_source_video(self, release, default_build, tmp_path):
        clip = self.DELETE_CLIP
        video, covered = self.DELETE_VIDEO
        built = set(default_build[0])
        assert clip in built and covered and covered < built and clip not in covered, "pick distinct clips"
        root = tmp_path / "release"
        shutil.copytree(release, root, symlinks=True)
        (root / "deletions.txt").write_text(f"# takedown requests\n{clip}\n{video}\n")
        records, rows = self.build(self.default_config(), root, tmp_path / "cache")
        assert set(records) == built - covered - {clip}
        withheld = {r.clip_id: r.reason for r in rows if r.status == Status.WITHHELD}
        assert set(withheld) == covered | {clip}
        assert withheld[clip].startswith("deletion request: clip listed in")
        assert all(f"source video {video} listed" in withheld[c] for c in covered)
