"""TalkingFace-Wild (MCDM paper): 31.3k talking-face clips, 241.6 h, 3,452 identities, 10 languages.

Clips from YouTube (keyword queries such as "interview", "dialogue" in each language), average
27.8 s, at most 30 s, balanced across 10 languages. Pipeline: PySceneDetect scene cuts, trim to
<= 30 s, drop clips with no face or several faces, image-quality filter, SyncNet lip-sync filter,
manual check. No public release exists yet and no licence has been announced.

This builder reads the release layout of `facevid_datasets.raw` (documented in the dataset
card). A clip's language is the metadata `language` column, otherwise the first folder of its
path (`<root>/<language>/...` or `<root>/videos/<language>/...`), lower-cased. Splits: the
metadata's `split` where given, else an identity-disjoint test set of 2,048 clips (10% under
20,480 clips). Config `all`; pass `languages=("en", ...)` to keep some languages only.
"""

from __future__ import annotations

from facevid_datasets.builders._layout import LayoutBuilder, LayoutConfig

from facevid_datasets.description import DatasetDescription, cut_index_video_ids


def wild_video_ids(clip_id: str) -> tuple[str, ...]:
    """No naming is published; clips cut from a YouTube video named `<video>_<n>` are covered by `<video>`."""
    return cut_index_video_ids(clip_id)


DESCRIPTION = DatasetDescription(
    name="talkingface-wild",
    title="TalkingFace-Wild",
    homepage="",  # no project page or release announced yet
    citation=(
        "@article{shen2025mcdm,\n  title={Long-Term TalkingFace Generation via Motion-Prior Conditional "
        "Diffusion Model},\n  author={Shen, Fei and Wang, Cong and Gao, Junyao and Guo, Qin and Dang, Jisheng "
        "and Tang, Jinhui and Chua, Tat-Seng},\n  year={2025}\n}"
    ),
    licence="Not announced (no public release yet); treat as non-commercial research only.",
    access=(
        "TalkingFace-Wild has no public release yet: obtain the files from the MCDM authors and pass "
        "their folder as data_dir (or the gated Hub repo they name as repo_id=)."
    ),
    gated=True,
    size_category="10K<n<100K",
    video_ids=wild_video_ids,
    video_keys=("video_id", "ytb_id"),
)


class TalkingFaceWild(LayoutBuilder):
    """TalkingFace-Wild multilingual talking-face clips in the common record (with `language`)."""

    DESCRIPTION = DESCRIPTION
    BUILDER_CONFIGS = [LayoutConfig(name="all", description="Every clip, all languages.")]
    DEFAULT_CONFIG_NAME = "all"

    @classmethod
    def language_of(cls, relpath: str) -> str | None:
        parts = relpath.split("/")
        if parts and parts[0] == "videos":
            parts = parts[1:]
        return parts[0].lower() if len(parts) > 1 else None
