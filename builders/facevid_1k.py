"""DH-FaceVid-1K (FaceVid-1K): 270,043 talking-face clips, ~1,200 h, 20,000+ identities.

204,690 clips collected by the authors plus 65,353 cleaned from CelebV-HQ (9,841), CelebV-Text
(32,595) and TalkingHead-1KH (22,917). Licence: non-commercial research only; no redistribution
or hosting, no derivative datasets, not for labelling race/age/gender, at most 20 frames or
videos shown per publication, deletion on request. Access: application form (institutional
e-mail), manual review in 2-3 days, then a cloud bucket or a gated Hugging Face repo (~4 TB).

No annotation format is published: this builder reads the layout of `facevid_datasets.raw`
(documented in the dataset card) and also a folder of bare video files, as the public Hub copies
are today. A clip's origin comes from the metadata `source` column or its file name: `000680`
and `RS127258_segment_049_7350_0` are collected, `Czb5Ml9VDsI_0` is CelebV-HQ/Text (`celebv`),
`WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507` is a TalkingHead-1KH tube.

Configs: `all`, `collected` (authors' own clips), `public` (the cleaned public part),
`celebv` (CelebV-HQ/Text part), `talkinghead-1kh`, and `sample` (the small release shipped with
this package, built offline). Splits: the metadata's `split` column where given, otherwise an
identity-disjoint test set of 2,048 clips (10% for releases under 20,480 clips), train the rest,
computed over the whole release so every config agrees.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from facevid_datasets.builders._layout import LayoutBuilder, LayoutConfig

from facevid_datasets.raw import origin_from_name

SAMPLE_DIR = Path(str(files("facevid_datasets") / "sample_data"))
PUBLIC_ORIGINS = ("celebv", "celebv-hq", "celebv-text", "talkinghead-1kh")
APPLICATION_URL = "https://luna-ai-lab.github.io/DH-FaceVid-1K/"


class FaceVid1K(LayoutBuilder):
    """DH-FaceVid-1K talking-face clips in the common record."""

    NAME = "facevid-1k"
    HOMEPAGE = "https://github.com/luna-ai-lab/DH-FaceVid-1K"
    LICENSE = "Non-commercial research only; no redistribution or derivative datasets (see the card)."
    CITATION = (
        "@inproceedings{di2025dhfacevid1k,\n  title={DH-FaceVid-1K: A Large-Scale High-Quality Dataset "
        "for Face Video Generation},\n  author={Di, Donglin and others},\n  booktitle={ICCV},\n  year={2025}\n}"
    )
    ACCESS = (
        "DH-FaceVid-1K is gated: apply with the form linked from the project page "
        f"({APPLICATION_URL}; institutional e-mail, non-commercial licence), wait for manual review "
        "(2-3 days), download the files, and pass their folder as data_dir."
    )
    SAMPLE_DIR = SAMPLE_DIR
    BUILDER_CONFIGS = [
        LayoutConfig(name="all", description="Every clip."),
        LayoutConfig(name="collected", description="Clips collected by the authors.", origins=("facevid-1k",)),
        LayoutConfig(name="public", description="Clips cleaned from CelebV-HQ/Text and TalkingHead-1KH.",
                      origins=PUBLIC_ORIGINS),  # fmt: skip
        LayoutConfig(name="celebv", description="Clips cleaned from CelebV-HQ and CelebV-Text.",
                      origins=("celebv", "celebv-hq", "celebv-text")),  # fmt: skip
        LayoutConfig(name="talkinghead-1kh", description="Clips cleaned from TalkingHead-1KH.",
                      origins=("talkinghead-1kh",)),  # fmt: skip
        LayoutConfig(name="sample", description="Small release shipped with the package (offline)."),
    ]
    DEFAULT_CONFIG_NAME = "all"

    @classmethod
    def origin_of(cls, name: str) -> str | None:
        return origin_from_name(name)
