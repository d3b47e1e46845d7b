"""Thumbnail strips of what was measured, and lip-sync offset curves, as small image files.

A strip is a few frames of a clip (at most `MAX_FRAMES`: the DH-FaceVid-1K licence limits what may be
shown), each shrunk to `HEIGHT` px with what the stages measured drawn on it: the landmarks, the face
box (the detector's measured side, centred on the landmarks), the black bars and the text regions as
the border and subtitle stages find them on that frame, and for a clip split at scene cuts the frames
either side of each cut. Files are named by the clip and its cached measurement, so a second review
of the same run draws nothing again.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Frames in one strip at most; thumbnail height in pixels.
MAX_FRAMES = 4
HEIGHT = 128
#: Bump when the drawing changes: strips of another version are drawn again.
DRAW_VERSION = 1

GREEN, YELLOW, RED, CYAN, WHITE = (60, 220, 60), (255, 210, 0), (235, 40, 40), (0, 200, 255), (255, 255, 255)


@dataclass(frozen=True)
class StripJob:
    """One clip's strip: which frames of which video, and what to draw (values of its row)."""

    clip_id: str
    video: str
    frames: list[int]
    cuts: list[int]
    face_size: float | None
    measurement: Path | None
    border_luma: float
    subtitle_region: float
    name: str


def strip_name(clip_id: str, measurement: str | None) -> str:
    """File name of a clip's strip: its id plus a hash of its measurement file and the drawing version."""
    from ..curation.pipeline import file_stem

    digest = hashlib.sha1(f"{clip_id}|{measurement}|{DRAW_VERSION}".encode()).hexdigest()[:10]
    return f"{file_stem(clip_id)[:60]}-{digest}"


def strip_frames(row: dict[str, Any], cut_frames: list[int]) -> tuple[list[int], list[int]]:
    """(frames to show, cuts among them) of a decisions row: the frames either side of the first
    cuts for a split clip, else first, middle and last of its sample frames."""
    if row.get("decision") == "split":
        frames, cuts = [], []
        for c in cut_frames[: MAX_FRAMES // 2]:
            frames += [max(0, c - 1), c]
            cuts.append(c)
        return frames, cuts
    samples = list(row.get("sample_frames") or [])
    if not samples:
        return [], []
    pick = sorted({samples[0], samples[len(samples) // 2], samples[-1]})
    return pick[:MAX_FRAMES], []


def draw_strip(job: StripJob, out_dir: Path) -> str | None:
    """Write `job`'s strip as JPEG into `out_dir` (skipped when the file exists); its file name, or
    None when the video cannot be read."""
    dst = out_dir / f"{job.name}.jpg"
    if dst.is_file():
        return dst.name
    import cv2

    from ..curation.measurements import decode_payload
    from ..curation.stages import border_bars, subtitle_regions
    from ..media.decode import TorchcodecReader

    try:
        reader = TorchcodecReader(job.video)
        frames = [i for i in job.frames if 0 <= i < reader.num_frames]
        if not frames:
            return None
        batch, _ = reader.get_frames(frames)
        rgbs = batch.permute(0, 2, 3, 1).contiguous().numpy()
    except Exception:  # a moved or unreadable video: the card says so, the page is still written
        return None
    points = None
    if job.measurement is not None and job.measurement.is_file():
        _, arrays = decode_payload(job.measurement)
        points = arrays.get("landmarks", arrays.get("keypoints"))
    tiles = []
    for i, rgb in zip(frames, rgbs, strict=True):
        h, w = rgb.shape[:2]
        k = HEIGHT / h
        tile = cv2.resize(rgb, (max(1, round(w * k)), HEIGHT), interpolation=cv2.INTER_AREA)
        tile = np.ascontiguousarray(tile)
        bars = border_bars(rgb, job.border_luma)
        overlay = tile.copy()
        for edge, px in bars.items():
            if px:
                p = max(1, round(px * k))
                width = tile.shape[1]
                x0, y0, x1, y1 = {"top": (0, 0, width, p), "bottom": (0, HEIGHT - p, width, HEIGHT),
                                  "left": (0, 0, p, HEIGHT), "right": (width - p, 0, width, HEIGHT)}[edge]  # fmt: skip
                cv2.rectangle(overlay, (x0, y0), (x1 - 1, y1 - 1), RED, -1)
        tile = cv2.addWeighted(overlay, 0.45, tile, 0.55, 0)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        for x, y, bw, bh in subtitle_regions(gray, job.subtitle_region):
            cv2.rectangle(tile, (round(x * k), round(y * k)), (round((x + bw) * k), round((y + bh) * k)), CYAN, 1)
        if points is not None and i < len(points) and points.shape[1] and np.isfinite(points[i, 0, 0]):
            pts = points[i, :, :2]
            pts = pts[np.isfinite(pts).all(axis=1)] * k
            for x, y in pts:
                cv2.circle(tile, (round(x), round(y)), 1, GREEN, -1)
            if job.face_size and math.isfinite(job.face_size):
                cx, cy = pts.min(axis=0) / 2 + pts.max(axis=0) / 2
                half = job.face_size * k / 2
                cv2.rectangle(tile, (round(cx - half), round(cy - half)), (round(cx + half), round(cy + half)),
                              YELLOW, 1)  # fmt: skip
        cv2.putText(tile, f"#{i}", (3, HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.38, WHITE, 1, cv2.LINE_AA)
        if i in job.cuts:
            cv2.rectangle(tile, (0, 0), (2, HEIGHT - 1), RED, -1)
            cv2.putText(tile, "cut", (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, RED, 1, cv2.LINE_AA)
        tiles.append(tile)
    gap = np.full((HEIGHT, 3, 3), 255, np.uint8)
    row = np.concatenate([x for t in tiles for x in (t, gap)][:-1], axis=1)
    tmp = dst.with_suffix(".part.jpg")
    cv2.imwrite(str(tmp), cv2.cvtColor(row, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 78])
    tmp.replace(dst)
    return dst.name


def draw_sync_curve(name: str, curve: list[float], offset: int | None, thresholds: Any, out_dir: Path) -> str:
    """Write a lip-sync offset curve (score per audio offset, frames) as PNG, with the searched
    window near zero (`sync_near_offset`), the confidence and wrong-audio lines and the best offset."""
    dst = out_dir / f"{name}-sync.png"
    if dst.is_file():
        return dst.name
    import cv2

    w, h, m = 220, 90, 14
    img = np.full((h, w, 3), 255, np.uint8)
    n = len(curve)
    mid = (n - 1) // 2
    vals = np.asarray(curve, dtype=np.float64)
    lines = [thresholds.sync_min_confidence, thresholds.sync_wrong_below]
    lo = min(0.0, float(np.nanmin(vals)), *lines)
    hi = max(float(np.nanmax(vals)), *lines) + 1e-6

    def xy(j: float, v: float) -> tuple[int, int]:
        return round(m + (w - 2 * m) * j / max(1, n - 1)), round(h - m - (h - 2 * m) * (v - lo) / (hi - lo))

    a, b = xy(mid - thresholds.sync_near_offset, lo), xy(mid + thresholds.sync_near_offset, hi)
    cv2.rectangle(img, (a[0], b[1]), (b[0], a[1]), (225, 235, 250), -1)
    for v, color in ((thresholds.sync_min_confidence, (40, 140, 40)), (thresholds.sync_wrong_below, (200, 60, 60))):
        cv2.line(img, xy(0, v), xy(n - 1, v), color, 1, cv2.LINE_AA)
    cv2.line(img, xy(mid, lo), xy(mid, hi), (150, 150, 150), 1)
    pts = np.array([xy(j, v) for j, v in enumerate(vals) if math.isfinite(v)], np.int32)
    if len(pts) > 1:
        cv2.polylines(img, [pts], False, (30, 30, 30), 1, cv2.LINE_AA)
    if offset is not None and 0 <= mid + offset < n:  # the curve runs from offset -mid to +mid
        j = mid + offset
        cv2.circle(img, xy(j, vals[j]), 3, (230, 120, 0), -1)
    cv2.putText(img, f"-{mid}", (2, h - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(img, f"+{mid}", (w - 22, h - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(img, "offset (frames)", (w // 2 - 38, h - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (90, 90, 90), 1,
                cv2.LINE_AA)  # fmt: skip
    tmp = dst.with_suffix(".part.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    tmp.replace(dst)
    return dst.name
