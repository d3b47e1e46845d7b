"""HDTF (High-Definition Talking Face): about 370 YouTube videos (RD 57, WDA 183, WRA 130), 15.8 h.

Source: https://github.com/MRzzm/HDTF (Zhang et al., CVPR 2021). The repo's README says CC BY 4.0;
the videos themselves stay on YouTube under their owners' terms, and many are gone.
Official layout, copied from the repo: `<data_dir>/HDTF_dataset/{RD,WDA,WRA}_{video_url,resolution,
annotion_time,crop_wh,crop_ratio}.txt`, space separated:
  `Radio1 https://...`            video URL
  `Radio1.mp4 720`                reference height at which the crop boxes were drawn
  `Radio11.mp4 00:30-01:00 ...`   MM:SS intervals; interval i is clip `Radio11_i`
  `Radio10_0.mp4 483 390 0 390`   crop box x w y h at the reference height (square)
  `Radio11_0.mp4 1.2`             crop ratio (undocumented; kept in `original`)
Downloaded videos go in `<data_dir>/videos/<name>.mp4` (`Radio11.mp4`, or `WDA_AdamSchiff.mp4`).
Official processing: cut the intervals, crop the box, resize to 512x512 (done here with FFmpeg;
the cuts are frame-exact: the frames shown during each interval, none doubled or dropped).
Known defects and what this builder does:
  - UTF-8 byte-order marks at the start of some files: ignored.
  - a video with no time stamps: one report row, no clip.
  - about 15 clips with time stamps but no crop entry: reported as 'no crop box', not cut.
  - reference heights of 0 (and odd ones: 360, 700, 714, 2160): odd ones are used as given;
    0 or a missing entry means the box is taken at the downloaded height (noted in `original`).
  - 436 intervals versus 421 crop entries; crop entries without an interval are reported.
No official split: 9:1, identity-disjoint. Identity: the video name for RD (Radio11), the person's
name without a trailing number for WDA/WRA (AmyKlobuchar0 and AmyKlobuchar1 -> AmyKlobuchar).
Downloaders often fetch video only; audio is kept when the download has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from facevid_datasets.cutting import (
    CutPlan,
    CutSpec,
    CuttingBuilder,
    Problem,
    attributes,
    check_start,
    index_videos,
    public_configs,
)
from facevid_datasets.description import DatasetDescription, cut_index_video_ids
from facevid_datasets.media.probe import VideoInfo
from facevid_datasets.parsing import Box, finite, iter_lines, parse_interval, read_text, scale_box, strip_ext
from facevid_datasets.report import Status
from facevid_datasets.schema import original_json
from facevid_datasets.splits import assign_splits

GROUPS = ("RD", "WDA", "WRA")
KINDS = ("video_url", "resolution", "annotion_time", "crop_wh", "crop_ratio")
OUTPUT_SIZE = 512


@dataclass(frozen=True)
class HDTFClip:
    """One interval of one HDTF video with what the other files say about it."""

    clip_id: str
    group: str
    video: str
    index: int
    interval: str
    start: float
    end: float
    crop_xwyh: tuple[int, int, int, int] | None
    ref_height: int | None
    crop_ratio: float | None
    url: str | None


def parse_table(text: str, path: str, n_values: int | None) -> tuple[dict[str, tuple[int, list[str]]], list[Problem]]:
    """`name value...` lines by name (`.mp4` removed) with their line number; malformed lines as problems."""
    rows: dict[str, tuple[int, list[str]]] = {}
    problems = []
    for line, content in iter_lines(text):
        name, *values = content.split()
        name = strip_ext(name)
        if n_values is not None and len(values) != n_values:
            problems.append(
                Problem(name, Status.BAD_METADATA, f"expected {n_values} values, got {len(values)}", f"{path}:{line}")
            )
        elif name in rows:
            problems.append(
                Problem(name, Status.BAD_METADATA, f"listed twice (first at line {rows[name][0]})", f"{path}:{line}")
            )
        else:
            rows[name] = (line, values)
    return rows, problems


def parse_group(group: str, texts: dict[str, str], paths: dict[str, str]) -> tuple[list[HDTFClip], list[Problem]]:
    """Join one group's five files into clips; every interval either becomes a clip or a problem."""
    tables, problems = {}, []
    for kind, n in zip(KINDS, (1, 1, None, 4, 1), strict=True):
        tables[kind], bad = parse_table(texts.get(kind, ""), paths.get(kind, kind), n)
        problems += bad
    bad_crop_lines = {p.clip_id for p in problems if p.file.startswith(paths.get("crop_wh", "crop_wh"))}
    clips = []
    for video, (line, intervals) in tables["annotion_time"].items():
        if not intervals:
            problems.append(
                Problem(video, Status.BAD_METADATA, "video has no time stamps", f"{paths['annotion_time']}:{line}")
            )
        res = tables["resolution"].get(video)
        ref = int(float(res[1][0])) if res and re.fullmatch(r"\d+(\.0*)?", res[1][0]) else None
        url = tables["video_url"].get(video)
        for i, token in enumerate(intervals):
            cid = f"{video}_{i}"
            crop, ratio = tables["crop_wh"].get(cid), tables["crop_ratio"].get(cid)
            where = f"{paths['annotion_time']}:{line}"
            try:
                start, end = parse_interval(token)
                if crop is None:
                    raise ValueError(f"no crop box in {Path(paths['crop_wh']).name}")
                where = f"{paths['crop_wh']}:{crop[0]}"
                x, w, y, h = (int(finite(v, "crop box value")) for v in crop[1])
                if w <= 0 or h <= 0:
                    raise ValueError(f"crop box x w y h = {' '.join(crop[1])} is empty")
            except ValueError as e:
                if cid not in bad_crop_lines:  # a malformed crop line is already reported
                    problems.append(Problem(cid, Status.BAD_METADATA, str(e), where))
                continue
            try:
                crop_ratio = finite(ratio[1][0], "crop ratio") if ratio else None
            except ValueError as e:  # the ratio is not used to cut: the clip is built without it
                crop_ratio = None
                where = f"{paths['crop_ratio']}:{ratio[0]}"
                problems.append(Problem(cid, "partial", f"{e}; left out of `original`", where))
            clips.append(
                HDTFClip(
                    cid,
                    group,
                    video,
                    i,
                    token,
                    start,
                    end,
                    (x, w, y, h),
                    ref or None,
                    crop_ratio,
                    url[1][0] if url else None,
                )
            )
    cut_ids = {c.clip_id for c in clips} | {p.clip_id for p in problems}
    for cid, (line, _) in tables["crop_wh"].items():
        if cid not in cut_ids:
            problems.append(Problem(cid, Status.SKIPPED, "crop box but no time interval", f"{paths['crop_wh']}:{line}"))
    return clips, problems


def hdtf_crop(clip_xwyh: tuple[int, int, int, int], ref_height: int | None, width: int, height: int) -> Box:
    """The crop box scaled from the reference height to the downloaded frame, kept inside it."""
    x, w, y, h = clip_xwyh
    s = height / ref_height if ref_height else 1.0
    return scale_box(Box(x, y, w, h), s, s).clamp(width, height).even()


def identity_of(group: str, video: str) -> str:
    """RD videos are their own identity; WDA/WRA names lose a trailing number (AmyKlobuchar0 -> AmyKlobuchar)."""
    return video if group == "RD" else re.sub(r"\d+$", "", video) or video


def hdtf_video_ids(clip_id: str) -> tuple[str, ...]:
    """Interval i of video `Radio11` is clip `Radio11_i`: the clip id without its last `_<i>`."""
    return cut_index_video_ids(clip_id)


DESCRIPTION = DatasetDescription(
    name="hdtf",
    title="HDTF",
    homepage="https://github.com/MRzzm/HDTF",
    citation=(
        "@inproceedings{zhang2021flow,\n  title={Flow-Guided One-Shot Talking Face Generation With a High-Resolution "
        "Audio-Visual Dataset},\n  author={Zhang, Zhimeng and Li, Lincheng and Ding, Yu and Fan, Changjie},\n"
        "  booktitle={CVPR},\n  year={2021}\n}"
    ),
    licence="CC BY 4.0 (per the repository README); source videos remain their owners' on YouTube.",
    access=(
        "Copy HDTF_dataset/ from https://github.com/MRzzm/HDTF into data_dir and download the videos of "
        "*_video_url.txt into <data_dir>/videos/<name>.mp4 (e.g. with yt-dlp)."
    ),
    gated=False,
    size_category="n<1K",
    video_ids=hdtf_video_ids,
    video_keys=("video",),
)


class HDTF(CuttingBuilder):
    """HDTF talking-face clips cut from the downloaded YouTube videos, 512x512."""

    DESCRIPTION = DESCRIPTION
    LAYOUT = "Expected <data_dir>/HDTF_dataset/{RD,WDA,WRA}_*.txt."
    BUILDER_CONFIGS = public_configs()

    @classmethod
    def code_facts(cls) -> dict:
        return {**super().code_facts(), "output_size": OUTPUT_SIZE}

    def plan_clips(self) -> tuple[list[CutPlan], list[Problem]]:
        meta = self.require(self.data_root() / "HDTF_dataset")
        clips, problems = [], []
        for group in GROUPS:
            paths = {k: str(meta / f"{group}_{k}.txt") for k in KINDS}
            if not Path(paths["annotion_time"]).exists():
                continue
            texts = {k: read_text(p) for k, p in paths.items() if Path(p).exists()}
            got, bad = parse_group(group, texts, paths)
            clips += got
            problems += bad
        if not clips and not problems:
            self.require(meta / "RD_annotion_time.txt")
        ids = [(c.clip_id, f"{c.group}:{identity_of(c.group, c.video)}") for c in clips]
        split = assign_splits(ids, num_test=max(1, round(0.1 * len(ids))))
        videos = index_videos(self.videos_dir(), problems)
        plans = []
        for c in clips:
            original = {k: v for k, v in vars(c).items() if k not in ("start", "end")}
            if not c.ref_height:
                original["note"] = "reference height 0 or missing: crop box taken at the downloaded height"
            plans.append(
                CutPlan(
                    clip_id=c.clip_id,
                    source=videos.get(c.video) or videos.get(f"{c.group}_{c.video}"),
                    split=split[c.clip_id],
                    annotation={"start": c.start, "end": c.end, "crop": c.crop_xwyh, "ref_height": c.ref_height},
                    fields={
                        "identity": identity_of(c.group, c.video),
                        "attributes": attributes(),
                        "original": original_json(original),
                    },
                    wanted=f"{c.video}.mp4",
                )
            )
        return plans, problems

    def cut_spec(self, plan: CutPlan, source: VideoInfo) -> CutSpec:
        a = plan.annotation
        check_start(plan, a["start"], source)
        box = hdtf_crop(a["crop"], a["ref_height"], source.width, source.height)
        return CutSpec(start=a["start"], end=a["end"], crop=box.crop(), size=OUTPUT_SIZE)
