"""VoxCeleb2: speech clips of celebrities from YouTube, face tracks at 224x224, 25 fps.

dev: 5,994 speakers, 1,092,009 clips, 2,360 h; test: 118 speakers. Source:
https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox2.html (Chung et al., Interspeech 2018).
Licence: CC BY 4.0 for the metadata; access to the video files by request form; the videos
remain their YouTube owners'.
Official layout, as the archives unpack: `<data_dir>/{dev,test}/mp4/idXXXXX/<youtube id>/00001.mp4`,
separate audio `<data_dir>/{dev,test}/aac/idXXXXX/<youtube id>/00001.m4a`, and one txt per clip
`<data_dir>/{dev,test}/txt/idXXXXX/<youtube id>/00001.txt`: header lines `Identity : id00017`,
`Reference : _mjZ87sK6cA`, `Offset : 2`, `FV Conf : 16.140 (1)`, `ASD Conf : 5.142`, then
`FRAME X Y W H` rows (face box per frame, normalised). `videos_dir=` replaces `<data_dir>` as the
folder holding `{dev,test}/mp4`.
The clips are already cut: no processing. A clip's record points at its mp4; the m4a, when
present, is its audio (audio_source "file"). Offset and ASD confidence are SyncNet's audio-video
offset and confidence (quality.sync_offset / sync_confidence), kept in syncnet_python's sign, the
one `facevid curate` writes too (> 0: the audio is ahead of the picture); every header value and face box
row stays in `original`. Splits: dev -> "train", test -> "test" (identity-disjoint by design).
A txt without its mp4 is reported missing; an mp4 without a txt is built from its path alone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facevid_datasets.cutting import (
    CutPlan,
    CutSpec,
    CuttingBuilder,
    Problem,
    attributes,
    public_configs,
    source_files,
)
from facevid_datasets.description import DatasetDescription
from facevid_datasets.errors import AnnotationError
from facevid_datasets.media.probe import VideoInfo
from facevid_datasets.parsing import finite, iter_lines, read_text, whole
from facevid_datasets.schema import QUALITY, original_json

SPLITS = {"dev": "train", "test": "test"}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CLIP_ID = re.compile(r"^(id\d{5})_([A-Za-z0-9_-]{11})_(\d{5})$")


def vox_video_ids(clip_id: str) -> tuple[str, ...]:
    """Clip `id00017__mjZ87sK6cA_00001` (path `id00017/_mjZ87sK6cA/00001`) comes from YouTube video
    `_mjZ87sK6cA` and shows speaker `id00017`: a request naming the speaker covers all their clips."""
    m = _CLIP_ID.match(clip_id)
    return (m.group(2), m.group(1)) if m else ()


def vox_identity(clip_id: str) -> str | None:
    """The speaker id at the head of a clip id."""
    m = _CLIP_ID.match(clip_id)
    return m.group(1) if m else None


DESCRIPTION = DatasetDescription(
    name="voxceleb2",
    title="VoxCeleb2",
    homepage="https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox2.html",
    citation=(
        "@inproceedings{chung2018voxceleb2,\n  title={VoxCeleb2: Deep Speaker Recognition},\n  author={Chung, "
        "Joon Son and Nagrani, Arsha and Zisserman, Andrew},\n  booktitle={Interspeech},\n  year={2018}\n}"
    ),
    licence="Metadata CC BY 4.0; videos remain their YouTube owners' (access by request form).",
    access=(
        "Request access at https://www.robots.ox.ac.uk/~vgg/data/voxceleb/, then unpack the dev/test mp4, "
        "aac and txt archives into data_dir ({dev,test}/{mp4,aac,txt}/...)."
    ),
    gated=False,
    size_category="1M<n<10M",
    clips=1_128_246,
    application_form="https://www.robots.ox.ac.uk/~vgg/data/voxceleb/",
    video_ids=vox_video_ids,
    identity=vox_identity,
    video_keys=("youtube_id",),
)


@dataclass(frozen=True)
class VoxTrack:
    """One VoxCeleb2 txt: its header and the per-frame face boxes (frame, x, y, w, h; normalised)."""

    header: dict[str, str]
    frames: list[tuple[int, float, float, float, float]] = field(default_factory=list)

    def number(self, key: str) -> float | None:
        """The first number of header field `key` (`FV Conf : 16.140 (1)` -> 16.14), None when absent."""
        m = _NUMBER.search(self.header.get(key, ""))
        return float(m.group()) if m else None


def parse_vox_txt(text: str, path: str) -> VoxTrack:
    """Parse a VoxCeleb2 clip txt; AnnotationError naming the line that does not fit."""
    header: dict[str, str] = {}
    frames: list[tuple[int, float, float, float, float]] = []
    in_table = False
    for line, content in iter_lines(text):
        if not in_table and content.split()[0].upper() == "FRAME":
            in_table = True
        elif not in_table:
            key, sep, value = content.partition(":")
            if not sep:
                raise AnnotationError(path, line, f"header line is not 'Key : value': {content!r}")
            header[key.strip()] = value.strip()
        else:
            parts = content.split()
            try:
                frame, x, y, w, h = parts
                box = (finite(v, k) for k, v in zip("XYWH", (x, y, w, h), strict=True))
                frames.append((whole(frame, "FRAME"), *box))
            except ValueError as e:
                raise AnnotationError(path, line, f"face row is not 'FRAME X Y W H' ({e}): {content!r}") from None
    if "Identity" not in header:
        raise AnnotationError(path, None, "no 'Identity :' header line")
    return VoxTrack(header, frames)


def clip_key(path: Path, tree: Path) -> tuple[str, str, str] | None:
    """(speaker id, youtube id, clip number) of `tree/idXXXXX/<youtube id>/00001.ext`, None for other paths."""
    parts = path.relative_to(tree).parts
    return (parts[0], parts[1], path.stem) if len(parts) == 3 else None


def scan(tree: Path, ext: str, problems: list[Problem]) -> dict[tuple[str, str, str], Path]:
    """Files `*.ext` of an official tree by (speaker, youtube id, clip number); files reached through a
    symlink leading outside `tree` are refused and reported (`cutting.source_files`)."""
    return {k: p for p in source_files(tree, (f".{ext}",), problems) if (k := clip_key(p, tree)) is not None}


class VoxCeleb2(CuttingBuilder):
    """VoxCeleb2 face-track clips with their separate audio and face boxes."""

    DESCRIPTION = DESCRIPTION
    LAYOUT = "Expected <data_dir>/dev/ or <data_dir>/test/ with mp4/, aac/ and txt/ inside."
    BUILDER_CONFIGS = public_configs()

    def videos_dir(self) -> Path:
        return Path(self.config.videos_dir).expanduser() if self.config.videos_dir else self.data_root()

    def plan_clips(self) -> tuple[list[CutPlan], list[Problem]]:
        root, vroot = self.data_root(), self.videos_dir()
        if not any((d / part).is_dir() for d in (root / "dev", root / "test") for part in ("txt", "mp4")):
            self.require(root / "dev" / "txt")
        plans, problems = [], []
        for folder, split in SPLITS.items():
            txts, mp4s = scan(root / folder / "txt", "txt", problems), scan(vroot / folder / "mp4", "mp4", problems)
            m4as = scan(root / folder / "aac", "m4a", problems)
            for key in sorted(set(txts) | set(mp4s)):
                cid = "_".join(key)
                original: dict = {"split": folder, "speaker": key[0], "youtube_id": key[1], "clip": key[2]}
                quality = dict.fromkeys(QUALITY)
                if key in txts:
                    try:
                        track = parse_vox_txt(read_text(txts[key]), str(txts[key]))
                    except AnnotationError as e:
                        problems.append(Problem.from_error(cid, e))
                        continue
                    original.update(asdict(track))
                    offset = track.number("Offset")
                    quality.update(
                        sync_offset=int(offset) if offset is not None else None,
                        sync_confidence=track.number("ASD Conf"),
                    )
                fields = {
                    "identity": key[0],
                    "attributes": attributes(),
                    "quality": quality,
                    "original": original_json(original),
                }
                if key in m4as:
                    fields.update(audio={"path": str(m4as[key]), "bytes": None}, audio_source="file")
                wanted = f"{folder}/mp4/{'/'.join(key)}.mp4"
                plans.append(CutPlan(cid, mp4s.get(key), split, {}, fields, cut=False, wanted=wanted))
        return plans, problems

    def cut_spec(self, plan: CutPlan, source: VideoInfo) -> CutSpec:
        return CutSpec()
