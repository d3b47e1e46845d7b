"""Real defects made from real clean clips with FFmpeg, to measure what the cleaning stages catch.

Clean footage (e.g. official DH-FaceVid-1K sample clips, which passed the authors' cleaning) gives
the false-drop rate; the same clips with one defect each give the recall of the stage meant to
catch it. Nothing here ships data: the clips are the caller's, written to the caller's folder.

| defect        | FFmpeg                                                   | expected                 |
| ------------- | -------------------------------------------------------- | ------------------------ |
| `subtitles`   | two lines of text burned in at the bottom (drawtext)     | dropped at `subtitles`   |
| `black_bars`  | picture shrunk, black bars of 1/8 of the height (pad)    | dropped at `border`      |
| `two_faces`   | two different clips side by side (hstack)                | dropped at `face_count`  |
| `blur_noise`  | Gaussian blur (sigma 3) plus strong noise                | dropped at `quality`     |
| `wrong_audio` | the picture of one clip with another clip's speech       | dropped at `sync`        |
| `tiny_face`   | the clip shrunk to 1/4 over its own blurred picture      | dropped at `face_size`   |
| `scene_cut`   | first half of one clip, then first half of another       | split at the splice      |
| `upscaled`    | shrunk to 1/4 then enlarged back (bicubic)               | dropped at `resolution`  |
| `no_audio`    | audio stream removed (TalkingHead-1KH ships none)        | kept, lip sync `no_audio` |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..media.ffmpeg import run_ffmpeg
from ..media.probe import probe

#: Each defect and the stage expected to reject it (`scene`: the clip is split; None: kept).
EXPECTED_STAGE: dict[str, str | None] = {
    "subtitles": "subtitles",
    "black_bars": "border",
    "two_faces": "face_count",
    "blur_noise": "quality",
    "wrong_audio": "sync",
    "tiny_face": "face_size",
    "scene_cut": "scene",
    "upscaled": "resolution",
    "no_audio": None,
}
DEFECTS = tuple(EXPECTED_STAGE)
#: Defects made from two clips (the second gives the other face, speech or shot).
PAIRED = ("two_faces", "wrong_audio", "scene_cut")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
_ENC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]


@dataclass(frozen=True)
class DefectClip:
    """A generated clip: its id, file, defect, the clip(s) it was made from, and for a splice the
    first frame of the second shot."""

    clip_id: str
    path: Path
    defect: str
    sources: tuple[str, ...]
    cut_frame: int | None = None


def make_defect(defect: str, src: Path, out: Path, other: Path | None = None) -> DefectClip:
    """Write `src` with `defect` to `out` (`other` is the second clip of paired defects)."""
    if defect not in EXPECTED_STAGE:
        raise ValueError(f"unknown defect {defect!r}; defects are {DEFECTS}")
    if defect in PAIRED and other is None:
        raise ValueError(f"defect {defect!r} needs a second clip")
    out.parent.mkdir(parents=True, exist_ok=True)
    info = probe(src)
    w, h = info.width, info.height
    audio = ["-c:a", "aac", "-b:a", "128k"]
    cut = None
    if defect == "subtitles":
        size = max(12, h // 18)
        text = [("This is what we talked", h - 2 * size - size // 2), ("about in the interview", h - size)]
        draws = ",".join(f"drawtext=fontfile={FONT}:text='{t}':fontsize={size}:fontcolor=white:borderw=2:"
                         f"bordercolor=black:x=(w-text_w)/2:y={y}" for t, y in text)  # fmt: skip
        args = ["-i", str(src), "-vf", draws, *_ENC, *audio]
    elif defect == "black_bars":
        bar = max(2, (h // 8) // 2 * 2)
        args = ["-i", str(src), "-vf", f"scale={w}:{h - 2 * bar},pad={w}:{h}:0:{bar}:black", *_ENC, *audio]
    elif defect == "two_faces":
        graph = (f"[0:v]scale={w}:{h},setsar=1[a];[1:v]fps={info.fps},scale={w}:{h},setsar=1[b];"
                 f"[a][b]hstack=inputs=2:shortest=1[v]")  # fmt: skip
        args = ["-i", str(src), "-i", str(other), "-filter_complex", graph, "-map", "[v]", "-map", "0:a?",
                "-frames:v", str(min(info.num_frames, probe(other).num_frames)), *_ENC, *audio]  # type: ignore[arg-type]
    elif defect == "blur_noise":
        args = ["-i", str(src), "-vf", "gblur=sigma=3,noise=alls=40:allf=t", *_ENC, *audio]
    elif defect == "wrong_audio":
        args = ["-i", str(src), "-stream_loop", "-1", "-i", str(other), "-map", "0:v", "-map", "1:a",
                "-t", f"{info.duration:.3f}", *_ENC, *audio]  # fmt: skip
    elif defect == "tiny_face":
        sw, sh = w // 4 // 2 * 2, h // 4 // 2 * 2
        graph = (f"[0:v]split[a][b];[a]boxblur=20:2[bg];[b]scale={sw}:{sh}[s];"
                 f"[bg][s]overlay={(w - sw) // 2}:{(h - sh) // 2}[v]")  # fmt: skip
        args = ["-i", str(src), "-filter_complex", graph, "-map", "[v]", "-map", "0:a?", *_ENC, *audio]
    elif defect == "scene_cut":
        other_info = probe(other)  # type: ignore[arg-type]
        na, nb = info.num_frames // 2, other_info.num_frames // 2
        graph = (f"[0:v]trim=start_frame=0:end_frame={na},setpts=PTS-STARTPTS,fps={info.fps}[v0];"
                 f"[1:v]trim=start_frame=0:end_frame={nb},setpts=PTS-STARTPTS,scale={w}:{h},setsar=1,"
                 f"fps={info.fps}[v1];"
                 f"[0:a]atrim=0:{na / info.fps},asetpts=PTS-STARTPTS,aresample=44100[a0];"
                 f"[1:a]atrim=0:{nb / other_info.fps},asetpts=PTS-STARTPTS,aresample=44100[a1];"
                 f"[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]")  # fmt: skip
        args = ["-i", str(src), "-i", str(other), "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *_ENC,
                *audio]  # fmt: skip
        cut = na
    elif defect == "upscaled":
        args = ["-i", str(src), "-vf", f"scale={w // 4}:{h // 4}:flags=area,scale={w}:{h}:flags=bicubic", *_ENC,
                *audio]  # fmt: skip
    else:  # no_audio
        args = ["-i", str(src), "-an", "-c:v", "copy"]
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    run_ffmpeg([*args, "-movflags", "+faststart", str(tmp)], src)
    tmp.replace(out)
    sources = (src.stem,) if other is None else (src.stem, other.stem)
    return DefectClip(out.stem, out, defect, sources, cut)


def make_defect_set(
    clean: list[Path], out: Path, per_defect: int = 4, defects: tuple[str, ...] = DEFECTS
) -> list[DefectClip]:
    """`per_defect` clips of each of `defects` made from `clean` (taken in turn; paired defects use
    the next clip as the second one), written under `out` as `<defect>__<source>.mp4`; existing files
    are reused."""
    if len(clean) < 2:
        raise ValueError("need at least two clean clips (paired defects mix two)")
    made = []
    k = 0
    for defect in defects:
        if defect not in EXPECTED_STAGE:
            raise ValueError(f"unknown defect {defect!r}; defects are {DEFECTS}")
        for _ in range(per_defect):
            src, other = clean[k % len(clean)], clean[(k + 1) % len(clean)]
            k += 1
            dst = out / f"{defect}__{src.stem}.mp4"
            if dst.is_file():
                cut = probe(src).num_frames // 2 if defect == "scene_cut" else None
                made.append(DefectClip(dst.stem, dst, defect, (src.stem, other.stem) if defect in PAIRED
                                       else (src.stem,), cut))  # fmt: skip
            else:
                made.append(make_defect(defect, src, dst, other if defect in PAIRED else None))
    return made
