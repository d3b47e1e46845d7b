"""Shared parsing helpers of the public-release builders: text lines, clock times and face boxes.

Pure functions on strings and numbers, so the per-dataset parsers in `builders/` stay short and
tests feed them small strings. Boxes are `Box(x, y, w, h)` in pixels of a given frame.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

BOM = "\ufeff"
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32", "UTF-32 LE"), (b"\x00\x00\xfe\xff", "utf-32", "UTF-32 BE"),
         (b"\xff\xfe", "utf-16", "UTF-16 LE"), (b"\xfe\xff", "utf-16", "UTF-16 BE"))  # fmt: skip


def sniff_encoding(head: bytes) -> tuple[str, str] | None:
    """(Python codec, name to print) of text that is UTF-16 or UTF-32, from its first bytes; None otherwise.

    A byte-order mark names it; without one, NUL bytes in all but every other (every fourth)
    position of the first bytes are UTF-16 (UTF-32) text, which no UTF-8 text holds. Windows tools
    ("Unicode" in Notepad, PowerShell's `>`) write UTF-16.
    """
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return codec, name
    sample = head[:64]
    if len(sample) >= 8 and b"\x00" in sample:
        for step, bits in ((4, "32"), (2, "16")):
            for offset, order in ((0, "le"), (step - 1, "be")):
                others = [b for i, b in enumerate(sample) if i % step != offset]
                if sample[offset] != 0 and sum(b == 0 for b in others) >= 0.9 * len(others):
                    return f"utf-{bits}-{order}", f"UTF-{bits} {order.upper()} (no byte-order mark)"
    return None


def read_text(path: str | Path) -> str:
    """A metadata file's text: UTF-8 with or without a byte-order mark, or UTF-16/32 (see
    `sniff_encoding`); undecodable bytes replaced."""
    data = Path(path).read_bytes()
    encoding = sniff_encoding(data[:256])
    return data.decode(encoding[0] if encoding else "utf-8-sig", errors="replace").lstrip(BOM)


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) for every non-blank line; byte-order marks removed."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.replace(BOM, "").strip()
        if line:
            yield number, line


def strip_ext(name: str, exts: Iterable[str] = (".mp4",)) -> str:
    """`Radio11.mp4` -> `Radio11` (only the listed extensions are removed)."""
    for ext in exts:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def finite(value: object, what: str) -> float:
    """`value` as a finite float; ValueError naming `what` for text, NaN, Infinity or an overflow.

    Every number read from an official metadata file goes through here: Python's `json` accepts
    `NaN` and `Infinity` and `float()` accepts `"nan"` and `"inf"`, which would otherwise reach
    FFmpeg as a cut point or a crop size.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return x


def whole(value: object, what: str) -> int:
    """`value` as an int (`12`, `"12"`, `12.0`); ValueError naming `what` otherwise (NaN, inf, 12.5, text)."""
    x = finite(value, what)
    if x != int(x):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(x)


def parse_clock(text: str) -> float:
    """Seconds from `MM:SS`, `H:MM:SS`, `HH:MM:SS.ff` or a plain number; ValueError otherwise."""
    text = text.strip()
    m = _CLOCK.match(text)
    if m:
        hours, minutes, seconds = m.groups()
        if float(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
            raise ValueError(f"not a clock time: {text!r}")
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    try:
        value = finite(text, "time")
    except ValueError:
        raise ValueError(f"not a clock time: {text!r}") from None
    if value < 0:
        raise ValueError(f"negative time: {text!r}")
    return value


def parse_interval(text: str) -> tuple[float, float]:
    """`00:30-01:00` -> (30.0, 60.0); ValueError when malformed or empty."""
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise ValueError(f"interval {text!r} is not START-END")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if end <= start:
        raise ValueError(f"interval {text!r} ends before it starts")
    return start, end


@dataclass(frozen=True)
class Box:
    """A pixel rectangle: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    def clamp(self, width: int, height: int) -> Box:
        """Move the box inside a width x height frame, shrinking it only where it is larger than the frame."""
        w, h = min(self.w, width), min(self.h, height)
        x = min(max(self.x, 0), width - w)
        y = min(max(self.y, 0), height - h)
        return Box(x, y, w, h)

    def even(self) -> Box:
        """Width and height rounded down to even numbers (H.264 with yuv420p needs them)."""
        return Box(self.x, self.y, max(2, self.w - self.w % 2), max(2, self.h - self.h % 2))

    def crop(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) for `media.ffmpeg.cut_clip`."""
        return (self.x, self.y, self.w, self.h)


#: Largest coordinate of a box still read as normalised. A normalised box drawn a little past the
#: frame's edge (`bottom: 1.05`, `left: -0.02`) stays normalised; a pixel box this small would be a
#: face of one or two pixels, which no release annotates.
NORMALISED_LIMIT = 1.5


def is_normalised(values: Iterable[float], limit: float = NORMALISED_LIMIT) -> bool:
    """True for a normalised box (every coordinate within [-0.5, `limit`]), False for pixel boxes."""
    return all(-0.5 <= float(v) <= limit for v in values)


def clamp_normalised(tblr: tuple[float, float, float, float]) -> tuple[tuple[float, float, float, float], str]:
    """A normalised (top, bottom, left, right) box clamped to [0, 1], and a note naming what moved ("" if nothing).

    Pixel boxes (see `is_normalised`) are returned unchanged: the frame size clamps them later.
    """
    if not is_normalised(tblr):
        return tblr, ""
    moved = [f"{k} {v:g}" for k, v in zip(("top", "bottom", "left", "right"), tblr, strict=True) if not 0 <= v <= 1]
    if not moved:
        return tblr, ""
    top, bottom, left, right = (min(max(float(v), 0.0), 1.0) for v in tblr)
    return (top, bottom, left, right), f"normalised bbox outside [0, 1] ({', '.join(moved)}): clamped to the frame"


def scale_box(box: Box, sx: float, sy: float) -> Box:
    """`box` with x and width scaled by sx, y and height by sy (rounded to whole pixels)."""
    return Box(round(box.x * sx), round(box.y * sy), round(box.w * sx), round(box.h * sy))


def rescale_ltrb(ltrb: tuple[int, int, int, int], reference: tuple[int, int], actual: tuple[int, int]) -> Box:
    """A (left, top, right, bottom) box given at reference (H, W) moved to the actual (h, w).

    Coordinates are truncated as TalkingHead-1KH's `videos_crop.py` does: `int(T / H * h)`.
    """
    (ref_h, ref_w), (h, w) = reference, actual
    left, top, right, bottom = ltrb
    t, b = int(top / ref_h * h), int(bottom / ref_h * h)
    x0, x1 = int(left / ref_w * w), int(right / ref_w * w)
    return Box(x0, t, x1 - x0, b - t)


def tblr_to_box(tblr: tuple[float, float, float, float], width: int, height: int) -> Box:
    """A (top, bottom, left, right) box, normalised or in pixels (decided by magnitude), in frame pixels."""
    top, bottom, left, right = (float(v) for v in tblr)
    if is_normalised(tblr):
        top, bottom, left, right = top * height, bottom * height, left * width, right * width
    return Box(round(left), round(top), round(right - left), round(bottom - top))


def enlarge_square_box(tblr: tuple[float, float, float, float], width: int, height: int, ratio: float = 0.02) -> Box:
    """CelebV-HQ's official crop: grow the normalised box by `ratio` per side (within the frame),
    convert to pixels, then take the centred square of the shorter side.

    A pixel box is normalised by the frame size first.
    """
    top, bottom, left, right = (float(v) for v in tblr)
    if not is_normalised(tblr):
        top, bottom, left, right = top / height, bottom / height, left / width, right / width
    top, bottom = max(top - ratio, 0.0), min(bottom + ratio, 1.0)
    left, right = max(left - ratio, 0.0), min(right + ratio, 1.0)
    top, bottom = round(top * height), round(bottom * height)
    left, right = round(left * width), round(right * width)
    half = min(bottom - top, right - left) // 2
    cy, cx = (top + bottom) / 2, (left + right) / 2
    return Box(round(cx - half), round(cy - half), 2 * half, 2 * half).clamp(width, height)
