"""Training-friendly copies: re-encode clips with a short keyframe interval at the training size.

A random 16-frame clip costs every frame from the keyframe before it: with the ~250-frame GOP of
typical downloads that is ~140 decoded frames per clip, with `gop=16` at most 31. Storing at the
trainer's size (short side `short_side`) also divides the pixels decoded per frame. The copy is
made once (its cost is reported by the benchmark apart from loading); records keep their labels,
with width, height and keypoints rescaled to the copy.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import MediaError
from ..media import run_ffmpeg

logger = logging.getLogger(__name__)


def copy_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """Even (w, h) with the short side at `short_side` (never upscaled), aspect kept."""
    if not short_side or min(width, height) <= short_side:
        w, h = width, height
    else:
        s = short_side / min(width, height)
        w, h = width * s, height * s
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


def encode_training_copy(
    src: str | Path, dst: str | Path, *, size: tuple[int, int] | None = None, gop: int = 16, crf: int = 20,
    fastdecode: bool = True, audio: bool = True,
) -> Path:
    """Re-encode `src` to H.264 with a fixed `gop` (no B-frames, optional `-tune fastdecode`)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    args = ["-i", str(src)]
    if size is not None:
        args += ["-vf", f"scale={size[0]}:{size[1]}:flags=area"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
             "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0"]
    if fastdecode:
        args += ["-tune", "fastdecode"]
    args += ["-c:a", "aac", "-b:a", "128k", "-ar", "16000", "-ac", "1"] if audio else ["-an"]
    args += ["-movflags", "+faststart", str(dst)]
    run_ffmpeg(args, src)
    return dst


def _scale_keypoints(kp: dict[str, Any] | None, sx: float, sy: float) -> dict[str, Any] | None:
    if not kp or kp.get("points") is None:
        return kp
    pts = [[[p[0] * sx, p[1] * sy, p[2]] for p in frame] for frame in kp["points"]]
    return {**kp, "points": pts}


def training_copies(
    data: Any, out_dir: str | Path, *, short_side: int | None = 512, gop: int = 16, num_threads: int = 2,
    fastdecode: bool = True,
) -> Any:
    """Records of `data` pointing at short-GOP copies in `out_dir` (made once; existing ones reused).

    Returns the same kind it gets (a `datasets.Dataset` or a list of records). A clip whose copy
    fails keeps its original file, and the failure is logged with the file and reason.
    """
    import datasets

    out_dir = Path(out_dir)
    records = list(data) if not isinstance(data, datasets.Dataset) else None

    def convert(rec: dict[str, Any]) -> dict[str, Any]:
        video = rec.get("video") or {}
        src = video.get("path")
        if not src or not Path(src).exists():
            return rec
        w, h = int(rec.get("width") or 0), int(rec.get("height") or 0)
        if not (w and h):
            from ..media import probe

            info = probe(src)
            w, h = info.width, info.height
        size = copy_size(w, h, short_side)
        key = hashlib.sha1(f"{Path(src).resolve()}|{size}|{gop}|{fastdecode}".encode()).hexdigest()[:12]
        dst = out_dir / f"{Path(src).stem}-{key}.mp4"
        has_audio = rec.get("audio_source", "video") == "video"
        try:
            if not dst.exists():
                tmp = dst.with_suffix(".part.mp4")
                encode_training_copy(src, tmp, size=size, gop=gop, fastdecode=fastdecode, audio=has_audio)
                tmp.rename(dst)
        except MediaError as e:
            logger.warning("training copy of %s failed, keeping the original: %s", src, e.reason)
            return rec
        sx, sy = size[0] / w, size[1] / h
        return {**rec, "video": {"path": str(dst), "bytes": None}, "width": size[0], "height": size[1],
                "keypoints": _scale_keypoints(rec.get("keypoints"), sx, sy)}

    if records is not None:
        with ThreadPoolExecutor(max(1, num_threads)) as pool:
            return list(pool.map(convert, records))
    with ThreadPoolExecutor(max(1, num_threads)) as pool:
        converted = list(pool.map(convert, data))
    return datasets.Dataset.from_list(converted, features=data.features)
