"""CelebV-HQ: 35,666 face clips (3-20 s, at least 512x512), 15,653 identities, 83 manual attributes.

Source: https://github.com/CelebV-HQ/CelebV-HQ (Zhu et al., ECCV 2022). Licence: non-commercial
research only; no redistribution of the videos or derived data.
Official layout: `<data_dir>/celebvhq_info.json` = `{"meta_info": {"appearance_mapping": [40 names],
"action_mapping": [35 names]}, "clips": {clip_id: {"ytb_id", "duration": {"start_sec", "end_sec"},
"bbox": {"top", "bottom", "left", "right"} (normalised 0-1), "attributes": {"appearance": [multi-hot],
"action": [multi-hot], "emotion": {"sep_flag": false, "labels": "neutral"}}, "version"}}}`.
With `sep_flag` true, `labels` is a list of `{"emotion", "start_sec", "end_sec"}` segments.
Downloaded videos: `<data_dir>/videos/<ytb_id>.mp4`; a clip already cut by the official script
(`<clip_id>.mp4`) is used as it is when the full video is absent.
Official processing (done here with FFmpeg): grow the box by 0.02 per side, take the centred
square of its shorter side, crop, cut `start_sec`-`end_sec` (here frame-exact: the frames shown in
[start_sec, end_sec), where the official `-ss/-to` can double or drop a boundary frame); no resize.
Labels: appearance/action decoded with `meta_info`'s order (its capitalisation may differ) and
mapped onto the DH-FaceVid-1K vocabulary (unknown names kept); gender from the CelebA `male` bit;
emotion mapped; for `sep_flag` clips the emotion with the longest total duration is `emotion`
and every segment stays in `original` (the clip's JSON, lossless).
Known defects: whole-second cut points leave scene cuts inside some clips; some clips lack audio,
are not square or not centred; no split (identity-disjoint by YouTube id here); no identity
labels: the YouTube id is used as a weak identity proxy (one video can show several people, and
one person can appear in several videos).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from facevid_datasets import vocab
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
from facevid_datasets.errors import AnnotationError
from facevid_datasets.media.probe import VideoInfo
from facevid_datasets.parsing import clamp_normalised, enlarge_square_box, finite, read_text, strip_ext
from facevid_datasets.report import Status
from facevid_datasets.schema import original_json
from facevid_datasets.splits import assign_splits

logger = logging.getLogger(__name__)
#: The official crop: the box grown by this fraction of the frame on each side (part of the cache key).
ENLARGE = 0.02


def celebv_video_ids(clip_id: str) -> tuple[str, ...]:
    """A CelebV clip `<ytb_id>_<n>` was cut from YouTube video `<ytb_id>` (its identity proxy too)."""
    return cut_index_video_ids(clip_id)


def celebv_identity(clip_id: str) -> str | None:
    """The identity this builder gives a clip: its YouTube id, when the clip id is `<ytb_id>_<n>`."""
    ids = celebv_video_ids(clip_id)
    return ids[-1] if ids else None


DESCRIPTION = DatasetDescription(
    name="celebv-hq",
    title="CelebV-HQ",
    homepage="https://celebv-hq.github.io/",
    citation=(
        "@inproceedings{zhu2022celebvhq,\n  title={{CelebV-HQ}: A Large-Scale Video Facial Attributes Dataset},\n"
        "  author={Zhu, Hao and Wu, Wayne and Zhu, Wentao and Jiang, Liming and Tang, Siwei and Zhang, Li and "
        "Liu, Ziwei and Loy, Chen Change},\n  booktitle={ECCV},\n  year={2022}\n}"
    ),
    licence="Non-commercial research only; no redistribution (CelebV-HQ agreement).",
    access=(
        "Accept the agreement at https://github.com/CelebV-HQ/CelebV-HQ, put celebvhq_info.json in data_dir "
        "and the YouTube videos in <data_dir>/videos/<ytb_id>.mp4."
    ),
    gated=True,
    size_category="10K<n<100K",
    clips=35_666,
    video_ids=celebv_video_ids,
    identity=celebv_identity,
    video_keys=("ytb_id",),
)


@dataclass(frozen=True)
class CelebVClip:
    """One clip of a CelebV info file: where it is in its YouTube video, its box and its labels."""

    clip_id: str
    ytb_id: str
    start: float
    end: float
    time_keys: str  # which duration keys the record used: "start_sec/end_sec" or "start_frame/end_frame"
    bbox: tuple[float, float, float, float]  # top, bottom, left, right; normalised or pixels
    raw: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # what was repaired (a box clamped to the frame), for a `partial` report line


def parse_clip(clip_id: str, rec: Any) -> CelebVClip:
    """The position of one info-file record; ValueError naming what is missing or malformed.

    Times and box coordinates must be finite numbers (`NaN`/`Infinity` are refused); a normalised
    box a little outside [0, 1] is clamped to the frame and the clip's `note` says so.
    """
    if not isinstance(rec, dict):
        raise ValueError(f"record is a {type(rec).__name__}, not an object")
    ytb_id = rec.get("ytb_id") or (rec.get("meta_video_names") or clip_id).rsplit("_", 1)[0]
    dur, box = rec.get("duration") or {}, rec.get("bbox") or {}
    if not isinstance(dur, dict) or not isinstance(box, dict):
        raise ValueError("duration and bbox must be objects")
    if "start_sec" in dur and "end_sec" in dur:
        keys, unit = ("start_sec", "end_sec"), "start_sec/end_sec"
    elif "start_frame" in dur and "end_frame" in dur:
        # CelebV-Text's README documents these keys as "start and end times in the original video"
        # (its example: 415.29, 420.88): seconds, whatever the number looks like.
        keys, unit = ("start_frame", "end_frame"), "start_frame/end_frame"
    else:
        raise ValueError("duration has neither start_sec/end_sec nor start_frame/end_frame")
    start, end = (finite(dur[k], f"duration.{k}") for k in keys)
    if start < 0:
        raise ValueError(f"duration.{keys[0]} is negative ({start:g})")
    if end <= start:
        raise ValueError(f"clip ends ({end}) before it starts ({start})")
    if not all(k in box for k in ("top", "bottom", "left", "right")):
        raise ValueError(f"bbox {box!r} lacks numeric top/bottom/left/right")
    tblr = tuple(finite(box[k], f"bbox.{k}") for k in ("top", "bottom", "left", "right"))
    (top, bottom, left, right), note = clamp_normalised(tblr)  # type: ignore[arg-type]
    if bottom <= top or right <= left:
        raise ValueError(f"bbox {box!r} is empty")
    return CelebVClip(strip_ext(clip_id), str(ytb_id), start, end, unit, (top, bottom, left, right), rec, note)


def dominant_emotion(segments: list[dict[str, Any]]) -> str | None:
    """The emotion covering the most seconds over `sep_flag` segments (first listed wins ties)."""
    total: dict[str, float] = {}
    for seg in segments:
        label = seg.get("emotion")
        if label:
            try:
                span = finite(seg.get("end_sec", 0), "end_sec") - finite(seg.get("start_sec", 0), "start_sec")
            except ValueError:
                continue  # a segment without finite times counts for nothing
            total[label] = total.get(label, 0.0) + max(span, 0.0)
    return max(total, key=lambda k: total[k]) if total else None


def decode_labels(attrs: dict[str, Any], appearance_names: list[str], action_names: list[str]) -> dict[str, Any]:
    """CelebV-HQ attributes -> the record's attributes (mapped labels, unknown ones kept as they are)."""
    out: dict[str, Any] = {}
    if attrs.get("appearance") is not None:
        names = vocab.decode_multi_hot(attrs["appearance"], appearance_names)
        out["appearance"] = vocab.map_labels("appearance", [n.replace("_", " ") for n in names])
        lowered = [n.lower() for n in appearance_names]
        if "male" in lowered:
            out["gender"] = "male" if int(attrs["appearance"][lowered.index("male")]) else "female"
    if attrs.get("action") is not None:
        names = vocab.decode_multi_hot(attrs["action"], action_names)
        out["action"] = vocab.map_labels("action", [n.replace("_", " ") for n in names])
    emotion = attrs.get("emotion") or {}
    labels = emotion.get("labels")
    label = dominant_emotion(labels) if isinstance(labels, list) else labels
    out["emotion"] = vocab.map_label("emotion", label)
    return out


def parse_celebvhq(text: str, path: str) -> tuple[list[CelebVClip], dict[str, dict], list[Problem]]:
    """Clips of `celebvhq_info.json`, their decoded labels by clip id, and the records that cannot be used."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise AnnotationError(path, e.lineno, f"not valid JSON ({e.msg})") from e
    if not isinstance(data, dict) or not isinstance(data.get("clips") or {}, dict):
        raise AnnotationError(path, None, 'expected {"meta_info": {...}, "clips": {clip_id: record}}')
    meta = data.get("meta_info") if isinstance(data.get("meta_info"), dict) else {}
    appearance = list(meta.get("appearance_mapping") or vocab.CELEBV_HQ_APPEARANCE)
    action = list(meta.get("action_mapping") or vocab.CELEBV_HQ_ACTION)
    clips, labels, problems = [], {}, []
    for cid, rec in (data.get("clips") or {}).items():
        try:
            clip = parse_clip(cid, rec)
        except ValueError as e:
            problems.append(Problem(cid, Status.BAD_METADATA, str(e), f"{path}: clips.{cid}"))
            continue
        if clip.note:
            problems.append(Problem(clip.clip_id, "partial", clip.note, f"{path}: clips.{cid}"))
        try:
            labels[clip.clip_id] = decode_labels(rec.get("attributes") or {}, appearance, action)
        except (ValueError, TypeError) as e:
            logger.warning("%s: clips.%s: attributes not decoded (%s); kept in `original`", path, cid, e)
            labels[clip.clip_id] = {}
        clips.append(clip)
    return clips, labels, problems


class CelebVHQ(CuttingBuilder):
    """CelebV-HQ face clips cut from the downloaded YouTube videos with the official square crop."""

    DESCRIPTION = DESCRIPTION
    LAYOUT = "Expected <data_dir>/celebvhq_info.json."
    BUILDER_CONFIGS = public_configs()

    @classmethod
    def code_facts(cls) -> dict:
        return {**super().code_facts(), "enlarge": ENLARGE}

    def plan_clips(self) -> tuple[list[CutPlan], list[Problem]]:
        path = self.require(self.data_root() / "celebvhq_info.json")
        clips, labels, problems = parse_celebvhq(read_text(path), str(path))
        return celebv_plans(clips, labels, index_videos(self.videos_dir(), problems)), problems

    def cut_spec(self, plan: CutPlan, source: VideoInfo) -> CutSpec:
        a = plan.annotation
        check_start(plan, a["start"], source)
        box = enlarge_square_box(a["bbox"], source.width, source.height, ENLARGE).even()
        return CutSpec(start=a["start"], end=a["end"], crop=box.crop())


def celebv_plans(
    clips: list[CelebVClip], labels: dict[str, dict], videos: dict, extra: dict | None = None
) -> list[CutPlan]:
    """Plans for CelebV clips: source `<ytb_id>.mp4`, else an already cut `<clip_id>.mp4`; split by YouTube id."""
    split = assign_splits((c.clip_id, c.ytb_id) for c in clips)
    plans = []
    for c in clips:
        fields = {
            "identity": c.ytb_id,
            "attributes": attributes(**labels.get(c.clip_id, {})),
            "original": original_json({"clip_id": c.clip_id, **c.raw}),
        }
        fields.update((extra or {}).get(c.clip_id, {}))
        source, cut = videos.get(c.ytb_id), True
        if source is None and c.clip_id in videos:
            source, cut = videos[c.clip_id], False
        annotation = {"start": c.start, "end": c.end, "bbox": c.bbox}
        plans.append(CutPlan(c.clip_id, source, split[c.clip_id], annotation, fields, cut, f"{c.ytb_id}.mp4"))
    return plans
