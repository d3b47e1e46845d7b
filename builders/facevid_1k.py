"""DH-FaceVid-1K (FaceVid-1K): 270,043 talking-face clips, ~1,200 h, 20,000+ identities.

204,690 clips collected by the authors plus 65,353 cleaned from CelebV-HQ, CelebV-Text and
TalkingHead-1KH. Licence: non-commercial research only; no redistribution, no derivative
datasets; access by application form (institutional e-mail) and manual review, then a cloud
bucket or a gated Hugging Face repo. No annotation format is published: this builder reads the
layout of `facevid_datasets.release` and also a folder of bare video files.

Configs: `all`, `collected` (authors' own clips), `public` (the cleaned public part), `sample`
(the small release shipped with this package, built offline).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import datasets

from facevid_datasets.builder import FaceVidBuilder, FaceVidConfig
from facevid_datasets.errors import AnnotationError, MediaError
from facevid_datasets.media.probe import probe
from facevid_datasets.release import find_videos, make_record, read_metadata
from facevid_datasets.splits import assign_splits

SAMPLE_DIR = Path(str(files("facevid_datasets") / "sample_data"))
PUBLIC_ORIGINS = {"celebv", "celebv-hq", "celebv-text", "talkinghead-1kh"}


class FaceVid1K(FaceVidBuilder):
    """DH-FaceVid-1K talking-face clips in the common record."""

    NAME = "facevid-1k"
    HOMEPAGE = "https://github.com/luna-ai-lab/DH-FaceVid-1K"
    LICENSE = "Non-commercial research only; no redistribution or derivative datasets (see the card)."
    CITATION = (
        "@inproceedings{di2025dhfacevid1k,\n  title={DH-FaceVid-1K: A Large-Scale High-Quality Dataset "
        "for Face Video Generation},\n  author={Di, Donglin and others},\n  booktitle={ICCV},\n  year={2025}\n}"
    )
    ACCESS = (
        "DH-FaceVid-1K is gated: apply with the form linked from the project page (institutional "
        "e-mail, non-commercial licence), wait for manual review (2-3 days), download the files, "
        "and pass their folder as data_dir."
    )
    BUILDER_CONFIGS = [
        FaceVidConfig(name="all", description="Every clip."),
        FaceVidConfig(name="collected", description="Clips collected by the authors."),
        FaceVidConfig(name="public", description="Clips cleaned from CelebV-HQ/Text and TalkingHead-1KH."),
        FaceVidConfig(name="sample", description="Small release shipped with the package (offline)."),
    ]
    DEFAULT_CONFIG_NAME = "all"

    def data_root(self) -> Path:
        if self.config.name == "sample" and not self.config.data_dir:
            return SAMPLE_DIR
        return super().data_root()

    def _keep(self, source: str) -> bool:
        if self.config.name == "collected":
            return source == "facevid-1k"
        if self.config.name == "public":
            return source in PUBLIC_ORIGINS
        return True

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        root = self.data_root()
        videos, dups = find_videos(root)
        meta, errors = read_metadata(root)
        report = self.report
        report.reset()
        for cid, reason, path in dups:
            report.add(cid, "skipped", reason, path)
        for err in errors:
            report.add("", "bad-metadata", err.reason, f"{err.path}:{err.line}")
        for cid in sorted(set(meta) - set(videos)):
            report.add(cid, "missing", "listed in metadata but no video file found", root)
        ids = sorted(videos)
        given = {c: meta[c]["split"] for c in ids if c in meta and meta[c].get("split")}
        computed = assign_splits((c, (meta.get(c) or {}).get("identity")) for c in ids if c not in given)
        split_of = {**computed, **given}
        common = {"root": root, "videos": videos, "meta": meta, "split_of": split_of}
        return [
            datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={**common, "split": "train"}),
            datasets.SplitGenerator(name=datasets.Split.TEST, gen_kwargs={**common, "split": "test"}),
        ]

    def _generate_examples(self, root, videos, meta, split_of, split):
        report = self.report
        for cid in sorted(videos):
            if split_of[cid] != split:
                continue
            try:
                rec = make_record(cid, videos[cid], probe(videos[cid]), meta.get(cid), dataset=self.NAME, root=root)
            except (MediaError, AnnotationError) as e:
                report.add(cid, "error", str(e), videos[cid])
                continue
            if not self._keep(rec["source"]):
                continue
            rec["split"] = split
            yield cid, rec
