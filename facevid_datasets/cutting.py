"""Cutting clips out of downloaded source videos into the build cache, once, and the builder base
shared by the public-release builders (HDTF, CelebV-HQ, CelebV-Text, TalkingHead-1KH, VoxCeleb2).

A builder turns the official metadata into `CutPlan`s (which source file, which labels, which
split) and says, given the probed source, how to cut it (`CutSpec`). `CuttingBuilder` does the
rest the same way for every dataset: report what cannot be made, cut each clip once with FFmpeg
into `processed_dir()`, probe the result and yield the common record. Generation is per clip, so
`num_proc` shards the plans.

A cut clip is keyed by everything that decides its content (`cut_key`): the source file's state
(path, size, mtime), the span, the crop box, the output size, the audio and the encoder settings
(`ENCODER`). A new version of the code that changes a crop (CelebV-HQ's box enlargement, say)
therefore makes new clips for the crops that changed and reuses every other one; an unchanged
load cuts nothing, and `download_mode="force_redownload"` cuts every clip again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets

from .builder import FaceVidBuilder, FaceVidConfig
from .errors import AnnotationError, DatasetNotFound, MediaError
from .licence.deletions import Withholder, builder_deletions
from .licence.ledger import CopyKind, record_copy
from .media.ffmpeg import cut_clip
from .media.probe import VideoInfo, probe
from .raw import VIDEO_EXTENSIONS
from .raw.index import walk_files
from .report import ReportRow, Status
from .schema import ATTRIBUTES, SPLITS, empty_record

logger = logging.getLogger(__name__)

#: Encoder settings of every cut (FFmpeg libx264); part of each clip's key, so changing them re-cuts.
ENCODER: dict[str, Any] = {"codec": "libx264", "crf": 18, "gop": None}


def source_files(folder: Path, exts: tuple[str, ...], problems: list[Problem] | None = None) -> list[Path]:
    """Files with one of `exts` under `folder` (any depth), sorted by their path inside it.

    Only files that stay inside `folder` are listed: a symlink (file or folder) resolving outside
    it is refused with an `unsafe-path` line in `problems`, as the release-layout builders refuse
    it (`raw.index.walk_files`, the same walk); symlink loops are cut, names that are not UTF-8
    and broken symlinks are `skipped` lines. Nothing outside the downloads is ever cut or exported.
    """
    if not folder.is_dir():
        return []
    refused: list[ReportRow] = []
    found = sorted((rel, Path(e.path)) for rel, e in walk_files(folder, refused) if Path(e.name).suffix.lower() in exts)
    if problems is not None:
        problems += [ReportRow(r.clip_id or Path(r.file).stem, r.status, r.reason, r.file) for r in refused]
    return [p for _, p in found]


def index_videos(folder: Path, problems: list[Problem] | None = None) -> dict[str, Path]:
    """Video files under `folder` (any depth) by file stem; the first in sorted order wins a name.

    Files outside `folder` (through a symlink) are refused and reported in `problems` (`source_files`).
    """
    found: dict[str, Path] = {}
    for p in source_files(folder, VIDEO_EXTENSIONS, problems):
        found.setdefault(p.stem, p)
    return found


@dataclass(frozen=True)
class CutSpec:
    """How to make a clip from its source: a span, crop (x, y, w, h) in source pixels, output size.

    The span is frames [start_frame, end_frame) of the source when the metadata counts frames, or
    the frames shown during [start, end) seconds when it gives times; the cut is frame-exact
    either way (`media.ffmpeg.cut_clip`).
    """

    start: float | None = None
    end: float | None = None
    crop: tuple[int, int, int, int] | None = None
    size: int | tuple[int, int] | None = None
    start_frame: int | None = None
    end_frame: int | None = None


@dataclass
class CutPlan:
    """One listed clip: where its source is (None when not downloaded) and what its record carries.

    `annotation` holds what the builder's `cut_spec` needs (times, boxes); `fields` the record
    fields known from the metadata (identity, attributes, caption, original, ...). `cut=False`
    uses the source file as the clip (VoxCeleb2, or clips already cut by the user). `wanted`
    names the file looked for, for the report when it is missing.
    """

    clip_id: str
    source: Path | None
    split: str
    annotation: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    cut: bool = True
    wanted: str = ""


#: A listed clip (or metadata line) that cannot be made: the report's own row type.
Problem = ReportRow


def attributes(**values: Any) -> dict[str, Any]:
    """An attributes dict with every field of the schema, unknown ones null."""
    unknown = set(values) - set(ATTRIBUTES)
    if unknown:
        raise KeyError(f"not attribute fields: {sorted(unknown)}")
    return {k: values.get(k) for k in ATTRIBUTES}


def probe_or_none(path: Path) -> VideoInfo | None:
    """Probe `path`, or None when it is absent or unreadable (e.g. a cut interrupted earlier)."""
    try:
        return probe(path) if path.exists() else None
    except MediaError:
        return None


def cut_key(src: Path, spec: CutSpec, *, keep_audio: bool) -> str:
    """16 hex digits naming a clip's content: its source file's state, the spec, the audio, `ENCODER`."""
    st = os.stat(src)
    state = {"source": os.path.realpath(src), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
             "spec": asdict(spec), "audio": keep_audio, "encoder": ENCODER}  # fmt: skip
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def cut_once(src: Path, dst: Path, spec: CutSpec, *, keep_audio: bool, force: bool = False) -> VideoInfo:
    """Cut `spec` out of `src` into `dst` unless `dst` already probes fine (or `force`); returns its probe.

    FFmpeg writes to a temporary name that is renamed at the end, so an interrupted build never
    leaves a half-written clip behind under the final name.
    """
    info = None if force else probe_or_none(dst)
    if info is not None:
        return info
    part = dst.with_name(f"{dst.stem}.part{os.getpid()}{dst.suffix}")
    try:
        cut_clip(src, part, start=spec.start, end=spec.end, start_frame=spec.start_frame, end_frame=spec.end_frame,
                 crop=spec.crop, size=spec.size, keep_audio=keep_audio, crf=ENCODER["crf"],
                 gop=ENCODER["gop"])  # fmt: skip
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
    return probe(dst)


@dataclass
class PublicConfig(FaceVidConfig):
    """Options of the public-release builders.

    curated_dir: output folder of `facevid curate` read by the `cleaned` config (default <data_dir>/curated).
    """

    curated_dir: str | None = None


def public_configs(*extra: PublicConfig) -> list[PublicConfig]:
    """The `default` and `cleaned` configs every public-release builder has, plus `extra`."""
    return [
        PublicConfig(name="default", description="Clips cut from the official metadata and the downloaded videos."),
        PublicConfig(name="cleaned", description="Clips kept by the cleaning pipeline (`facevid curate`)."),
        *extra,
    ]


class CuttingBuilder(FaceVidBuilder):
    """Builder base for an official release: metadata + downloaded sources -> cut clips -> records."""

    BUILDER_CONFIG_CLASS = PublicConfig
    DEFAULT_CONFIG_NAME = "default"
    #: Where the official metadata must be, for the message when it is missing.
    LAYOUT: str = ""

    # -- what each dataset writes ---------------------------------------------------------------

    def plan_clips(self) -> tuple[list[CutPlan], list[Problem]]:
        """Every listed clip as a plan, and the listed clips or lines that cannot become one."""
        raise NotImplementedError

    def cut_spec(self, plan: CutPlan, source: VideoInfo) -> CutSpec:
        """How to cut `plan` out of its probed source; AnnotationError when the metadata does not fit it."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------------

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        self.announce_terms()
        if self.config.name == "cleaned":
            return self._cleaned_split_generators()
        report = self.report
        report.reset()
        plans, problems = self.plan_clips()
        withhold = Withholder(builder_deletions(self), report)  # deletion requests: listed clips are not cut
        plans = [p for p in plans if not withhold(p.clip_id, p.fields, Path(p.wanted).stem if p.wanted else None)]
        for p in problems:
            report.add_row(p)
        present = []
        for plan in plans:
            if plan.source is None:
                what = f"source video {plan.wanted}" if plan.wanted else "source video"
                report.add(plan.clip_id, Status.MISSING, f"{what} not downloaded", self.videos_dir())
            else:
                present.append(plan)
        listed = len(plans) + sum(not p.status.built for p in problems)
        if not present:
            raise DatasetNotFound(
                f"{self.NAME}: none of the {len(plans)} listed clips has its source video in {self.videos_dir()} "
                f"(expected files named by the id in the metadata, e.g. <id>.mp4). See {report.path}."
            )
        if len(present) < listed:
            logger.warning(
                "%s: %d of %d listed entries cannot be made into clips; reasons in %s",
                self.NAME,
                listed - len(present),
                listed,
                report.path,
            )
        by_split: dict[str, list[CutPlan]] = {}
        for plan in present:
            by_split.setdefault(plan.split, []).append(plan)
        return [datasets.SplitGenerator(name=s, gen_kwargs={"plans": by_split[s]}) for s in SPLITS if s in by_split]

    def _generate_examples(
        self, plans: list[CutPlan] | None = None, curated_dir: str | None = None, split: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        if curated_dir is not None:
            yield from self._cleaned_examples(curated_dir, split)
            return
        report = self.report
        for plan in plans or []:
            try:
                record = self.make_record(plan)
            except (MediaError, AnnotationError) as e:
                report.add(plan.clip_id, Status.ERROR, str(e), plan.source or "")
                continue
            yield plan.clip_id, record

    def make_record(self, plan: CutPlan) -> dict[str, Any]:
        """Cut (or reuse) the clip of `plan` and return its record, with the clip's own probe."""
        assert plan.source is not None
        if plan.cut:
            source = probe(plan.source)
            spec = self.cut_spec(plan, source)
            check_crop(plan, spec)
            key = cut_key(plan.source, spec, keep_audio=source.has_audio)
            out = self.processed_dir() / f"{plan.clip_id}-{key}.mp4"
            info = cut_once(plan.source, out, spec, keep_audio=source.has_audio, force=self._force)
            record_copy(CopyKind.CUT_CLIP, out, [plan.clip_id], dataset=self.NAME, cache_dir=self.cache_root)
        else:
            out, info = plan.source, probe(plan.source)
        rec = empty_record()
        rec.update(clip_id=plan.clip_id, dataset=self.NAME, source=self.NAME, split=plan.split)
        rec.update(plan.fields)
        rec.update(
            video={"path": str(out), "bytes": None},
            fps=info.fps,
            num_frames=info.num_frames,
            duration=info.duration,
            width=info.width,
            height=info.height,
        )
        if rec["audio"] is None:
            rec["audio_source"] = "video" if info.has_audio else "none"
        return rec

    # -- the `cleaned` config -------------------------------------------------------------------

    def curated_dir(self) -> Path:
        """Folder of the cleaning pipeline's output: `curated_dir=` or `<data_dir>/curated`."""
        if self.config.curated_dir:
            return Path(os.path.expanduser(self.config.curated_dir))
        return self.data_root() / "curated"

    def _not_curated(self, folder: Path, why: str) -> DatasetNotFound:
        return DatasetNotFound(
            f"{self.NAME}/cleaned: {why} in {folder}. Run the cleaning pipeline first:\n"
            f"  facevid curate {self.NAME} --data-dir {self.config.data_dir or '/path/to/data'} --out {folder}\n"
            f"or pass curated_dir= pointing at its output."
        )

    def _cleaned_split_generators(self) -> list[datasets.SplitGenerator]:
        folder = self.curated_dir()
        if not folder.is_dir() or not any(folder.iterdir()):
            raise self._not_curated(folder, "no curation output")
        splits = {r.get("split") or "train" for r in self._cleaned_records(folder)}
        if not splits:
            raise self._not_curated(folder, "no kept clips")
        return [
            datasets.SplitGenerator(name=s, gen_kwargs={"curated_dir": str(folder), "split": s})
            for s in [*SPLITS, *sorted(splits - set(SPLITS))]
            if s in splits
        ]

    def _cleaned_records(self, folder: Path) -> Iterator[dict[str, Any]]:
        from .curation import cleaned_records

        try:
            yield from cleaned_records(folder)
        except (FileNotFoundError, DatasetNotFound) as e:
            raise self._not_curated(folder, f"no curation output ({e})") from e

    def _cleaned_examples(self, curated_dir: str, split: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        for rec in self._cleaned_records(Path(curated_dir)):
            if (rec.get("split") or "train") == split:
                yield rec["clip_id"], {**rec, "split": split}

    def require(self, path: Path) -> Path:
        """`path` if it exists, else DatasetNotFound saying which official file is missing and where it goes."""
        if not path.exists():
            raise DatasetNotFound(f"{self.NAME}: {path} not found. {self.LAYOUT} {self.ACCESS}".strip())
        return path


#: Smallest crop side cut (pixels): a smaller box is a broken annotation, not a face.
MIN_CROP_SIDE = 16


def check_crop(plan: CutPlan, spec: CutSpec) -> None:
    """AnnotationError when the crop a builder worked out is smaller than MIN_CROP_SIDE on a side
    (a box that is almost empty, or one read in the wrong unit): never cut a 2x2 px clip."""
    if spec.crop is not None and min(spec.crop[2], spec.crop[3]) < MIN_CROP_SIDE:
        x, y, w, h = spec.crop
        raise AnnotationError(
            str(plan.source),
            None,
            f"{plan.clip_id}: crop box {w}x{h} px at ({x}, {y}) is smaller than {MIN_CROP_SIDE} px: "
            "the metadata's box does not fit this video",
        )


def check_start(plan: CutPlan, start: float, source: VideoInfo) -> None:
    """AnnotationError when a clip starts after the downloaded video ends (a shorter re-upload)."""
    if start >= source.duration:
        raise AnnotationError(
            str(plan.source),
            None,
            f"{plan.clip_id}: clip starts at {start:.2f} s, after the downloaded video ends ({source.duration:.2f} s)",
        )
