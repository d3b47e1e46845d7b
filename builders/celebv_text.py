"""CelebV-Text: 70,000 face clips, 279 h (67,005 with audio), each with 20 generated sentences.

Source: https://github.com/celebv-text/CelebV-Text (Yu et al., CVPR 2023). Licence: non-commercial
research only; no redistribution of the videos or derived data (same agreement as CelebV-HQ).
Official layout, all optional but the info file:
  `<data_dir>/celebvtext_info.json`   clip -> {"ytb_id", "duration", "bbox", "version"}; three shapes
      have been published: `{"clips": {...}}`, `{"clips_set1": {...}, "clips_set2": {...}}` and a flat
      `{clip_id: record}` (whose keys may end in `.mp4` and carry `meta_video_names`). The bbox is in
      pixels or normalised (decided by magnitude); some records give `start_frame`/`end_frame`
      instead of `start_sec`/`end_sec`: the README documents both pairs as "start and end times in
      the original video" (its example: 415.29), so both are read as seconds.
  `<data_dir>/texts/{face40_details_new,emotion,action_dur,light_dir,light_intensity,light_colot_temp}/<clip>.txt`
      (the folder really is spelled `light_colot_temp`)
  `<data_dir>/annotations.pkl`        {"act": {clip: [[label, [start 'H:MM:SS', end, seconds, order]], ...]},
      "app": {...}}; simultaneous actions share an order number. It is a pickle: load only the official file.
Downloaded videos: `<data_dir>/videos/<ytb_id>.mp4`; clips already cut (`<clip_id>.mp4`, any depth)
are used as they are when the full video is absent.
Official processing (`download_and_process.py` since January 2023, done here with FFmpeg): the box
enlarged by 0.02 of the frame per side (clamped to the frame), then the centred square of its
shorter side, as CelebV-HQ does; the frames shown from start to end cut frame-exactly; no resize.
Labels: caption = the first sentence of each text file (appearance, emotion, action, light);
emotion and light words found in their texts mapped onto the DH-FaceVid-1K vocabulary; actions
from annotations.pkl; everything native (info record, all texts, action segments) in `original`.
Known defects: video names that do not match annotation names (`hDf4PjXl64Q_35` vs
`hDf4PjXl64Q_35_2`): texts and annotations are matched by exact name, then `meta_video_names`,
then with the trailing `_N` removed or added when that is unambiguous. No split (identity-disjoint
by YouTube id here); no identity labels (the YouTube id is a weak proxy).
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

from facevid_datasets import vocab
from facevid_datasets.cutting import (
    CutPlan,
    CutSpec,
    CuttingBuilder,
    Problem,
    check_start,
    index_videos,
    public_configs,
)
from facevid_datasets.description import DatasetDescription, cut_index_video_ids
from facevid_datasets.errors import AnnotationError
from facevid_datasets.media.probe import VideoInfo
from facevid_datasets.parsing import enlarge_square_box, finite, parse_clock, read_text, strip_ext
from facevid_datasets.report import Status

from .celebv_hq import CelebVClip, celebv_plans, parse_clip

TEXT_KINDS = ("face40_details_new", "emotion", "action_dur", "light_dir", "light_intensity", "light_colot_temp")


def info_records(data: Any, path: str) -> tuple[dict[str, Any], str, list[Problem]]:
    """Clip records of any of the three info-file shapes, keyed by clip id (`.mp4` removed), and the shape's name."""
    if not isinstance(data, dict):
        raise AnnotationError(path, None, f"top level is a {type(data).__name__}, not an object")
    sets = [k for k, v in data.items() if k.startswith("clips") and isinstance(v, dict) and "ytb_id" not in v]
    if sets:
        shape = "clips" if sets == ["clips"] else "clip sets"
        items = [(k, cid, rec) for k in sets for cid, rec in data[k].items()]
    else:
        shape = "flat"
        items = [("", cid, rec) for cid, rec in data.items() if cid != "meta_info"]
    records: dict[str, Any] = {}
    problems = []
    for where, cid, rec in items:
        key = strip_ext(cid)
        if key in records:
            why = "clip listed twice; first kept"
            problems.append(Problem(key, Status.BAD_METADATA, why, f"{path}: {where}.{cid}"))
        else:
            records[key] = rec
    return records, shape, problems


def match_name(clip_id: str, alias: str | None, names: set[str], by_base: dict[str, list[str]]) -> str | None:
    """The annotation name of a clip: exact, its `meta_video_names`, `_N` removed, or one unique `_N` added."""
    for cand in (clip_id, alias, re.sub(r"_\d+$", "", clip_id)):
        if cand and cand in names:
            return cand
    extended = by_base.get(clip_id, [])
    return extended[0] if len(extended) == 1 else None


def labels_in_text(kind: str, text: str) -> list[str]:
    """Canonical labels of vocabulary `kind` named in free text, in order of appearance."""
    found: list[str] = []
    for word in re.findall(r"[a-z]+", text.lower()):
        label = vocab.map_label(kind, word)
        if label is not None and vocab.is_canonical(kind, label) and label not in found:
            found.append(label)
    return found


def action_segments(entries: list) -> list[dict[str, Any]]:
    """annotations.pkl `act` entries -> [{label, start_sec, end_sec, duration, order}] (times from H:MM:SS)."""
    out = []
    for label, (start, end, duration, order) in entries:
        out.append(
            {
                "label": label,
                "start_sec": parse_clock(str(start)),
                "end_sec": parse_clock(str(end)),
                "duration": finite(duration, "duration"),
                "order": order,
            }
        )
    return out


def appearance_labels(value: Any) -> list[str] | None:
    """annotations.pkl `app` value (names, a dict of flags, or a CelebV-HQ multi-hot vector) -> labels."""
    if isinstance(value, dict):
        value = [k for k, v in value.items() if v]
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) for v in value):
        if len(value) != len(vocab.CELEBV_HQ_APPEARANCE):
            return None
        value = vocab.decode_multi_hot(value, vocab.CELEBV_HQ_APPEARANCE)
    if isinstance(value, list | tuple):
        return vocab.map_labels("appearance", [str(v).replace("_", " ") for v in value])
    return None


def clip_fields(texts: dict[str, list[str]], act: list | None, app: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Record fields (caption, attributes) and the native annotation of one clip from its texts and pkl entries."""
    caption = " ".join(lines[0] for k in TEXT_KINDS if (lines := texts.get(k)))
    emotion = labels_in_text("emotion", " ".join(texts.get("emotion", [])))
    light = labels_in_text("light", " ".join(" ".join(texts.get(k, [])) for k in TEXT_KINDS[3:]))
    segments = action_segments(act) if act else None
    attrs: dict[str, Any] = {"emotion": emotion[0] if emotion else None, "light": light or None}
    if segments is not None:
        attrs["action"] = vocab.map_labels("action", [s["label"].replace("_", " ") for s in segments])
    if app is not None:
        attrs["appearance"] = appearance_labels(app)
    native = {"texts": texts, "act": act, "action_segments": segments, "app": app}
    return {"caption": caption or None, "attributes": attrs}, native


def read_annotations(path: Path) -> dict[str, Any]:
    """The official annotations.pkl (a pickle: only load the file published with the dataset)."""
    try:
        data = pickle.loads(path.read_bytes())
    except Exception as e:  # a corrupt pickle raises nearly anything (UnpicklingError, EOFError, ...)
        raise AnnotationError(path, None, f"not a readable pickle ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise AnnotationError(path, None, f"expected a dict with 'act' and 'app', got {type(data).__name__}")
    for key in ("act", "app"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            got = type(data[key]).__name__
            raise AnnotationError(path, None, f"'{key}' must map clip names to annotations, got {got}")
    return data


def celebv_text_video_ids(clip_id: str) -> tuple[str, ...]:
    """A CelebV-Text clip `<ytb_id>_<n>` or `<ytb_id>_<n>_<m>` was cut from `<ytb_id>` (nearest first)."""
    return cut_index_video_ids(clip_id, depth=2)


DESCRIPTION = DatasetDescription(
    name="celebv-text",
    title="CelebV-Text",
    homepage="https://celebv-text.github.io/",
    citation=(
        "@inproceedings{yu2022celebvtext,\n  title={{CelebV-Text}: A Large-Scale Facial Text-Video Dataset},\n"
        "  author={Yu, Jianhui and Zhu, Hao and Jiang, Liming and Loy, Chen Change and Cai, Weidong and Wu, Wayne},\n"
        "  booktitle={CVPR},\n  year={2023}\n}"
    ),
    licence="Non-commercial research only; no redistribution (CelebV-Text agreement).",
    access=(
        "Accept the agreement at https://github.com/celebv-text/CelebV-Text, put celebvtext_info.json (and "
        "texts/, annotations.pkl) in data_dir and the YouTube videos in <data_dir>/videos/<ytb_id>.mp4."
    ),
    gated=True,
    size_category="10K<n<100K",
    clips=70_000,
    video_ids=celebv_text_video_ids,
    video_keys=("ytb_id",),
)


class CelebVText(CuttingBuilder):
    """CelebV-Text face clips with their descriptions, cut from the downloaded YouTube videos."""

    DESCRIPTION = DESCRIPTION
    LAYOUT = "Expected <data_dir>/celebvtext_info.json."
    BUILDER_CONFIGS = public_configs()

    def plan_clips(self) -> tuple[list[CutPlan], list[Problem]]:
        root = self.data_root()
        path = self.require(root / "celebvtext_info.json")
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as e:
            raise AnnotationError(path, e.lineno, f"not valid JSON ({e.msg})") from e
        records, _, problems = info_records(data, str(path))
        clips: list[CelebVClip] = []
        for cid, rec in records.items():
            try:
                clips.append(parse_clip(cid, rec))
            except ValueError as e:
                problems.append(Problem(cid, Status.BAD_METADATA, str(e), f"{path}: {cid}"))
                continue
            if clips[-1].note:
                problems.append(Problem(cid, Status.PARTIAL, clips[-1].note, f"{path}: {cid}"))
        pkl = root / "annotations.pkl"
        try:
            ann = read_annotations(pkl) if pkl.exists() else {}
        except AnnotationError as e:  # the clips are still cut, without the actions and appearance it holds
            problems.append(Problem("", "bad-metadata", f"{e.reason}; its actions and appearance left out", str(pkl)))
            ann = {}
        act, app = ann.get("act") or {}, ann.get("app") or {}
        text_dirs = {k: root / "texts" / k for k in TEXT_KINDS}
        names = set(act) | set(app) | {p.stem for d in text_dirs.values() if d.is_dir() for p in d.glob("*.txt")}
        by_base: dict[str, list[str]] = {}
        for n in names:
            by_base.setdefault(n.rsplit("_", 1)[0], []).append(n)
        extra, kept = {}, []
        for c in clips:
            name = match_name(c.clip_id, c.raw.get("meta_video_names"), names, by_base)
            texts = {
                k: [ln.strip() for ln in read_text(d / f"{name}.txt").splitlines() if ln.strip()]
                for k, d in text_dirs.items()
                if name and (d / f"{name}.txt").exists()
            }
            try:
                fields, native = clip_fields(texts, act.get(name), app.get(name))
            except (ValueError, TypeError) as e:
                problems.append(
                    Problem(c.clip_id, Status.BAD_METADATA, f"annotations of {name} not understood ({e})", str(pkl))
                )
                continue
            native = {"clip_id": c.clip_id, "annotation_name": name, **c.raw, **native}
            fields["original"] = json.dumps(native, ensure_ascii=False, default=str)
            extra[c.clip_id] = fields
            kept.append(c)
        labels = {cid: f.pop("attributes") for cid, f in extra.items()}
        return celebv_plans(kept, labels, index_videos(self.videos_dir(), problems), extra), problems

    def cut_spec(self, plan: CutPlan, source: VideoInfo) -> CutSpec:
        a = plan.annotation
        check_start(plan, a["start"], source)
        box = enlarge_square_box(a["bbox"], source.width, source.height).even()
        return CutSpec(start=a["start"], end=a["end"], crop=box.crop())
