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

import re
from importlib.resources import files
from pathlib import Path

from facevid_datasets.builders._layout import LayoutBuilder, LayoutConfig

from facevid_datasets.description import DatasetDescription, cut_index_video_ids, first_match

from .talkinghead_1kh import tube_video_ids

SAMPLE_DIR = Path(str(files("facevid_datasets") / "sample_data"))
PUBLIC_ORIGINS = ("celebv", "celebv-hq", "celebv-text", "talkinghead-1kh")
APPLICATION_URL = "https://luna-ai-lab.github.io/DH-FaceVid-1K/"

_TH1KH = re.compile(r"^[\w-]{11}_\d{4}_S\d+_E\d+_L\d+_T\d+_R\d+_B\d+$")
_CELEBV = re.compile(r"^[\w-]{11}_\d+(_\d+)?$")
# `000680` and `RS127258_segment_049_7350_0`: neither follows a public set's naming (those start
# with an 11-character YouTube id), so both are read as the authors' own collected clips.
_COLLECTED = re.compile(r"^(\d+|RS\d+_segment_\d+_\d+_\d+)$")
_COLLECTED_SEGMENT = re.compile(r"^(RS\d+)_segment_\d+_\d+_\d+$")


def origin_from_name(clip_id: str) -> str | None:
    """Origin dataset recognised from a DH-FaceVid-1K file name, else None.

    The public part keeps its sources' names: TalkingHead-1KH tubes
    (`WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507`) and CelebV clips (`Czb5Ml9VDsI_0`, CelebV-Text
    `<ytid>_<n>_<m>`); CelebV-HQ and CelebV-Text share one naming scheme, so their clips are `celebv`
    unless the metadata says which. Collected clips are numbered (`000680`) or segments of the
    authors' recordings (`RS127258_segment_049_7350_0`).
    """
    if _TH1KH.match(clip_id):
        return "talkinghead-1kh"
    if _COLLECTED.match(clip_id):
        return "facevid-1k"
    if _CELEBV.match(clip_id):
        return "celebv"
    return None


def collected_video_ids(clip_id: str) -> tuple[str, ...]:
    """A collected segment `RS127258_segment_049_7350_0` comes from recording `RS127258`."""
    m = _COLLECTED_SEGMENT.match(clip_id)
    return (m.group(1),) if m else ()


def facevid_video_ids(clip_id: str) -> tuple[str, ...]:
    """Source ids of a DH-FaceVid-1K clip: a TalkingHead-1KH tube's chunk and video, a collected
    segment's recording, a CelebV clip's YouTube video; a numbered collected clip (`000680`) is its own."""
    if _COLLECTED.match(clip_id) and not clip_id.startswith("RS"):
        return ()
    return first_match(tube_video_ids, collected_video_ids, lambda c: cut_index_video_ids(c, depth=2))(clip_id)


DESCRIPTION = DatasetDescription(
    name="facevid-1k",
    title="DH-FaceVid-1K",
    homepage="https://github.com/luna-ai-lab/DH-FaceVid-1K",
    citation=(
        "@inproceedings{di2025dhfacevid1k,\n  title={DH-FaceVid-1K: A Large-Scale High-Quality Dataset "
        "for Face Video Generation},\n  author={Di, Donglin and others},\n  booktitle={ICCV},\n  year={2025}\n}"
    ),
    licence="Non-commercial research only; no redistribution or derivative datasets (see the card).",
    access=(
        "DH-FaceVid-1K is gated: apply with the form linked from the project page "
        f"({APPLICATION_URL}; institutional e-mail, non-commercial licence), wait for manual review "
        "(2-3 days), download the files, and pass their folder as data_dir."
    ),
    gated=True,
    size_category="100K<n<1M",
    clips=270_043,
    hub_sample_repo="jjuik2014/DH-FaceVid-Sample",
    modelscope_sample_repo="fh2678713685/DH-FaceVid-1K_Sample",
    application_form=f"the application form linked from {APPLICATION_URL}",
    video_ids=facevid_video_ids,
    video_keys=("video_id", "ytb_id", "video_name"),
)


class FaceVid1K(LayoutBuilder):
    """DH-FaceVid-1K talking-face clips in the common record."""

    DESCRIPTION = DESCRIPTION
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
