"""TalkingHead-1KH: about 500k talking-head tubes from YouTube, about 80k larger than 512x512.

Source: https://github.com/tcwang0509/TalkingHead-1KH (Wang et al., face-vid2vid, CVPR 2021).
Licence: the videos were published on YouTube under CC BY 3.0; metadata and scripts MIT.
Official layout: `<data_dir>/data_list/{train,val,small}_video_ids.txt` and
`{train,val,small}_video_tubes.txt` (from data_list.zip), tube lines `video_name,H,W,S,E,L,T,R,B`:
`video_name` = `<youtube id>_<4-digit index of the 1-minute chunk>` (the official script splits each
download into 1-minute chunks with `ffmpeg -c copy -segment_time 00:01:00`), S and E frame indices
inside the chunk (E inclusive), L,T,R,B a pixel box at HxW. Output name
`{video_name}_S{S}_E{E}_L{L}_T{T}_R{R}_B{B}`.
Downloaded videos, in `<data_dir>/videos/` at any depth: the 1-minute chunks (`<video_name>.mp4`, as
the official `1min_clips/`), or the full downloads (`<youtube id>.mp4`), in which chunk k is found
again as the official split makes it: it starts at the first key frame at or after k x 60 s.
Official processing (done here with FFmpeg): the box rescaled from HxW to the downloaded size
(`int(T / H * h)`), frames S..E cut frame-exactly (chunk starts located with the file's frame time
stamps and key frames), no resize. Official downloads have no audio; audio is kept when a download has it.
Splits: the official train and val lists (val -> "validation"); config `small` reads the small list.
Identity: the YouTube id (one video usually shows one speaker; not verified).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facevid_datasets.cutting import (
    CutPlan,
    CutSpec,
    CuttingBuilder,
    Problem,
    PublicConfig,
    attributes,
    index_videos,
    public_configs,
)
from facevid_datasets.description import DatasetDescription
from facevid_datasets.errors import AnnotationError
from facevid_datasets.media.probe import VideoInfo, frame_timestamps, keyframe_indices
from facevid_datasets.parsing import Box, iter_lines, read_text, rescale_ltrb, whole
from facevid_datasets.report import Status
from facevid_datasets.schema import original_json

CHUNK_SECONDS = 60
SPLITS = {"train": "train", "val": "validation"}


@dataclass(frozen=True)
class Tube:
    """One line of a `*_video_tubes.txt` file."""

    video_name: str
    H: int
    W: int
    S: int
    E: int
    L: int
    T: int
    R: int
    B: int

    @property
    def clip_id(self) -> str:
        return f"{self.video_name}_S{self.S}_E{self.E}_L{self.L}_T{self.T}_R{self.R}_B{self.B}"

    @property
    def ytb_id(self) -> str:
        return self.video_name.rsplit("_", 1)[0]

    @property
    def chunk(self) -> int | None:
        tail = self.video_name.rsplit("_", 1)[-1]
        return int(tail) if "_" in self.video_name and tail.isdigit() else None


def parse_tube(line: str) -> Tube:
    """`video_name,H,W,S,E,L,T,R,B` -> Tube; ValueError saying what is wrong."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 9:
        raise ValueError(f"expected 9 comma-separated fields, got {len(parts)}")
    try:
        tube = Tube(parts[0], *(whole(p, k) for k, p in zip("HWSELTRB", parts[1:], strict=True)))
    except ValueError as e:
        raise ValueError(f"H,W,S,E,L,T,R,B must be integers ({e}): {line!r}") from None
    if tube.H <= 0 or tube.W <= 0:
        raise ValueError(f"reference size {tube.H}x{tube.W} is empty")
    if tube.E < tube.S or tube.S < 0:
        raise ValueError(f"frames S={tube.S}..E={tube.E} are not an interval")
    if tube.R <= tube.L or tube.B <= tube.T:
        raise ValueError(f"box L={tube.L} T={tube.T} R={tube.R} B={tube.B} is empty")
    return tube


def parse_tubes(text: str, path: str) -> tuple[list[Tube], list[Problem]]:
    """Tubes of one list file, and one problem per malformed line."""
    tubes, problems = [], []
    for line, content in iter_lines(text):
        try:
            tubes.append(parse_tube(content))
        except ValueError as e:
            problems.append(Problem(content.split(",")[0], Status.BAD_METADATA, str(e), f"{path}:{line}"))
    return tubes, problems


def tube_crop(tube: Tube, height: int, width: int) -> Box:
    """The tube's box rescaled from its HxW to the downloaded height x width, kept inside the frame."""
    return rescale_ltrb((tube.L, tube.T, tube.R, tube.B), (tube.H, tube.W), (height, width)).clamp(width, height).even()


def chunk_first_frame(timestamps: np.ndarray, keyframes: np.ndarray, chunk: int) -> int:
    """Index of the first frame of 1-minute chunk `chunk` of a full download: the first key frame at
    or after chunk x 60 s, where `ffmpeg -c copy -f segment -segment_time 00:01:00` starts it."""
    if chunk == 0:
        return 0
    rel = timestamps[keyframes] - timestamps[0]
    later = np.flatnonzero(rel >= chunk * CHUNK_SECONDS - 1e-6)
    if not len(later):
        raise ValueError(f"the video has no key frame after {chunk * CHUNK_SECONDS} s (chunk {chunk})")
    return int(keyframes[later[0]])


def tube_frames(num_frames: int, first: int, tube: Tube) -> tuple[int, int]:
    """Frames [first + S, first + E + 1) of the file: the tube's S..E (E inclusive) inside the chunk
    that starts at frame `first`; ValueError when the file ends before E."""
    s, e = first + tube.S, first + tube.E
    if e >= num_frames:
        raise ValueError(f"tube ends at frame {tube.E} of the chunk, which has {num_frames - first} frames")
    return s, e + 1


_TUBE_ID = re.compile(r"^(([A-Za-z0-9_-]{11})_\d{4})_S\d+_E\d+_L\d+_T\d+_R\d+_B\d+$")
_CHUNK_ID = re.compile(r"^([A-Za-z0-9_-]{11})_\d{4}$")


def tube_video_ids(clip_id: str) -> tuple[str, ...]:
    """A tube `<ytid>_<chunk>_S.._E.._L.._T.._R.._B..` comes from the 1-minute chunk `<ytid>_<chunk>` of
    YouTube video `<ytid>`; a chunk name alone from its video."""
    m = _TUBE_ID.match(clip_id)
    if m:
        return (m.group(1), m.group(2))
    m = _CHUNK_ID.match(clip_id)
    return (m.group(1),) if m else ()


def tube_identity(clip_id: str) -> str | None:
    """The identity this builder gives a tube: its YouTube id."""
    m = _TUBE_ID.match(clip_id)
    return m.group(2) if m else None


DESCRIPTION = DatasetDescription(
    name="talkinghead-1kh",
    title="TalkingHead-1KH",
    homepage="https://github.com/tcwang0509/TalkingHead-1KH",
    citation=(
        "@inproceedings{wang2021facevid2vid,\n  title={One-Shot Free-View Neural Talking-Head Synthesis for Video "
        "Conferencing},\n  author={Ting-Chun Wang and Arun Mallya and Ming-Yu Liu},\n  booktitle={CVPR},\n"
        "  year={2021}\n}"
    ),
    licence="Videos CC BY 3.0 (their YouTube authors); metadata and scripts MIT.",
    access=(
        "Unzip data_list.zip from https://github.com/tcwang0509/TalkingHead-1KH into data_dir and put the "
        "downloaded videos (1-minute chunks <id>_<NNNN>.mp4 or full <id>.mp4) in <data_dir>/videos/."
    ),
    gated=False,
    size_category="100K<n<1M",
    video_ids=tube_video_ids,
    identity=tube_identity,
    video_keys=("video_name",),
)


class TalkingHead1KH(CuttingBuilder):
    """TalkingHead-1KH tubes cut from the downloaded YouTube videos."""

    DESCRIPTION = DESCRIPTION
    LAYOUT = "Expected <data_dir>/data_list/{train,val}_video_tubes.txt."
    BUILDER_CONFIGS = public_configs(PublicConfig(name="small", description="The official small list (a quick check)."))

    def list_file(self, split: str) -> Path:
        root = self.data_root()
        for p in (root / "data_list" / f"{split}_video_tubes.txt", root / f"{split}_video_tubes.txt"):
            if p.exists():
                return p
        return root / "data_list" / f"{split}_video_tubes.txt"

    def plan_clips(self) -> tuple[list[CutPlan], list[Problem]]:
        lists = {"small": "train"} if self.config.name == "small" else SPLITS
        found = {name: self.list_file(name) for name in lists if self.list_file(name).exists()}
        if not found:
            self.require(self.list_file(next(iter(lists))))
        plans, problems, seen = [], [], set()
        videos = index_videos(self.videos_dir(), problems)
        for name, path in found.items():
            tubes, bad = parse_tubes(read_text(path), str(path))
            problems += bad
            for t in tubes:
                if t.clip_id in seen:
                    problems.append(Problem(t.clip_id, Status.BAD_METADATA, "tube listed twice; first kept", str(path)))
                    continue
                seen.add(t.clip_id)
                source, full, cut = videos.get(t.video_name), False, True
                if source is None and t.chunk is not None and t.ytb_id in videos:
                    source, full = videos[t.ytb_id], True
                if source is None and t.clip_id in videos:
                    source, cut = videos[t.clip_id], False
                original = {"list": path.name, **asdict(t), "full_video": full}
                plans.append(
                    CutPlan(
                        t.clip_id,
                        source,
                        lists[name],
                        {"tube": t, "full_video": full},
                        {"identity": t.ytb_id, "attributes": attributes(), "original": original_json(original)},
                        cut,
                        f"{t.video_name}.mp4 (or the full {t.ytb_id}.mp4)",
                    )
                )
        return plans, problems

    def cut_spec(self, plan: CutPlan, source: VideoInfo) -> CutSpec:
        tube: Tube = plan.annotation["tube"]
        ts = frame_timestamps(source.path)
        try:
            first = 0
            if plan.annotation["full_video"]:
                first = chunk_first_frame(ts, keyframe_indices(source.path), tube.chunk or 0)
            a, b = tube_frames(len(ts), first, tube)
        except ValueError as e:
            raise AnnotationError(source.path, None, f"{plan.clip_id}: {e}") from e
        return CutSpec(start_frame=a, end_frame=b, crop=tube_crop(tube, source.height, source.width).crop())
