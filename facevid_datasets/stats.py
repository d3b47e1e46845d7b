"""The dataset statistics the DH-FaceVid-1K paper reports (section 3, Figure 4), from built records.

`compute_stats` reads only the needed columns (Arrow, no video decoding): clips, hours and
identities; the ethnicity, gender, age-group, emotion, action, head-pose, language and origin
shares, each by clips and by hours (a balanced mix is about seconds, so users read both);
duration, frame-rate, resolution, BRISQUE and clips-per-identity histograms. `write_plots` draws
them as PNGs (pies for shares, bars for multi-label counts, histograms for measurements), leaving
out panels with nothing known, and `write_stats` adds a JSON summary. Missing values are counted
as "unknown", so every share is of all clips.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

from .licence.ledger import CopyKind, dataset_ids, record_copy

UNKNOWN = "unknown"
#: Categorical distributions: name -> (column, field inside the struct or None).
CATEGORICAL = {
    "ethnicity": ("attributes", "ethnicity"),
    "gender": ("attributes", "gender"),
    "age_group": ("attributes", "age_group"),
    "emotion": ("attributes", "emotion"),
    "head_pose": ("head_pose", "label"),
    "language": ("language", None),
    "source": ("source", None),
}
#: Multi-label distributions (a clip counts once for each of its labels).
MULTI = {"action": ("attributes", "action"), "appearance": ("attributes", "appearance")}
DURATION_BINS = (0, 5, 10, 15, 20, 25, 30, math.inf)
RESOLUTION_BINS = (0, 256, 512, 720, 1080, math.inf)  # by the shorter side
BRISQUE_BINS = (0, 10, 20, 30, 40, 50, 60, math.inf)
FPS_BINS = (0, 20, 24.5, 25.5, 29.5, 30.5, 49.5, 50.5, 59.5, 60.5, math.inf)  # 23.98 | 25 | 29.97/30 | 50 | 59.94/60
CLIPS_PER_IDENTITY_BINS = (1, 2, 6, 11, 51, 101, math.inf)
COLUMNS = ("clip_id", "identity", "duration", "fps", "width", "height", "attributes", "head_pose", "language",
           "source", "quality", "split")  # fmt: skip
#: Histograms drawn as panels, in order.
HISTOGRAMS = ("duration_s", "fps", "resolution_short_side", "brisque", "clips_per_identity")


def _column(table: pa.Table, col: str, sub: str | None) -> list:
    arr = table.column(col).combine_chunks()
    if sub is not None:
        arr = arr.field(sub)
    return arr.to_pylist()


def _counts(values: list) -> dict[str, int]:
    c = Counter(UNKNOWN if v in (None, "") else str(v) for v in values)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _hours(values: list, durations: list) -> dict[str, float]:
    """Hours of video per group (same grouping and "unknown" as `_counts`), largest first."""
    out: Counter = Counter()
    for v, d in zip(values, durations, strict=True):
        out[UNKNOWN if v in (None, "") else str(v)] += (d or 0.0) / 3600
    return {k: round(h, 6) for k, h in sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))}


def _multi_hours(values: list, durations: list) -> dict[str, float]:
    """Hours per label of a multi-label column (a clip's hours count once for each of its labels)."""
    out: Counter = Counter()
    for vs, d in zip(values, durations, strict=True):
        for v in vs or [UNKNOWN]:
            out[str(v)] += (d or 0.0) / 3600
    return {k: round(h, 6) for k, h in sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))}


def _histogram(values: list, bins: tuple[float, ...], unit: str = "", integer: bool = False) -> dict[str, Any]:
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    counts, _ = np.histogram(x, bins=np.array(bins, dtype=np.float64)) if len(x) else (np.zeros(len(bins) - 1), 0)
    edges = zip(bins, bins[1:], strict=False)
    if integer:  # bins [a, b) of whole numbers read as a-(b-1)
        labels = [(f"{a:g}" if b - a == 1 else f"{a:g}-{b - 1:g}") + unit if math.isfinite(b) else f">={a:g}{unit}"
                  for a, b in edges]
    else:
        labels = [f"{a:g}-{b:g}{unit}" if math.isfinite(b) else f">={a:g}{unit}" for a, b in edges]
    out: dict[str, Any] = {"bins": dict(zip(labels, (int(c) for c in counts), strict=True))}
    out["unknown"] = len(values) - len(x)
    if len(x):
        out.update(mean=float(x.mean()), median=float(np.median(x)), min=float(x.min()), max=float(x.max()))
    return out


def _tables(ds: datasets.Dataset | datasets.DatasetDict) -> dict[str, pa.Table]:
    parts = ds.items() if isinstance(ds, datasets.DatasetDict) else [(str(ds.split or "all"), ds)]
    out = {}
    for split, d in parts:
        cols = [c for c in COLUMNS if c in d.column_names]
        out[split] = d.select_columns(cols).with_format("arrow")[:]
    return out


def compute_stats(ds: datasets.Dataset | datasets.DatasetDict) -> dict[str, Any]:
    """Summary of a built dataset (all splits together, plus clips per split)."""
    tables = _tables(ds)
    table = pa.concat_tables(list(tables.values()))
    n = table.num_rows
    dur = _column(table, "duration", None)
    w, h = _column(table, "width", None), _column(table, "height", None)
    short = [min(a, b) if a is not None and b is not None else None for a, b in zip(w, h, strict=True)]
    ident_col = _column(table, "identity", None)
    idents = {v for v in ident_col if v}
    known_dur = [d for d in dur if d is not None]
    summary: dict[str, Any] = {
        "clips": n,
        "clips_per_split": {s: t.num_rows for s, t in tables.items()},
        "hours": sum(known_dur) / 3600,
        "seconds": round(sum(known_dur), 3),
        "hours_per_split": {s: sum(d for d in _column(t, "duration", None) if d is not None) / 3600
                            for s, t in tables.items()},
        "identities": len(idents),
        "clips_without_identity": sum(1 for v in _column(table, "identity", None) if not v),
        "share_longer_than_15s": round(sum(d > 15 for d in known_dur) / n, 4) if n else 0.0,
        "share_at_least_1080": round(sum(s >= 1080 for s in short if s is not None) / n, 4) if n else 0.0,
    }
    summary["hours_by"] = {}
    for name, (col, sub) in CATEGORICAL.items():
        values = _column(table, col, sub)
        summary[name] = _counts(values)
        summary["hours_by"][name] = _hours(values, dur)
    for name, (col, sub) in MULTI.items():
        summary["hours_by"][name] = _multi_hours(_column(table, col, sub), dur)
        labels: Counter = Counter()
        without = 0
        for vs in _column(table, col, sub):
            if not vs:
                without += 1
            labels.update(vs or [])
        summary[name] = {**dict(labels.most_common()), UNKNOWN: without} if without else dict(labels.most_common())
    summary["duration_s"] = _histogram(dur, DURATION_BINS, " s")
    summary["fps"] = _histogram(_column(table, "fps", None) if "fps" in table.column_names else [None] * n, FPS_BINS)
    summary["resolution_short_side"] = _histogram(short, RESOLUTION_BINS, " px")
    summary["brisque"] = _histogram(_column(table, "quality", "brisque"), BRISQUE_BINS)
    per_identity = list(Counter(v for v in ident_col if v).values())
    summary["clips_per_identity"] = _histogram(per_identity, CLIPS_PER_IDENTITY_BINS, integer=True)
    return summary


def format_hours(hours: float) -> str:
    """Hours readable at any scale: '1,203.4 h' for a release, '1.9 min' or '42.0 s' for a small set."""
    if hours >= 1:
        return f"{hours:,.1f} h"
    if hours * 60 >= 1:
        return f"{hours * 60:.1f} min"
    return f"{hours * 3600:.1f} s"


def _known(data: dict[str, Any]) -> bool:
    """Whether a distribution has anything besides "unknown" (panels with nothing known are left out)."""
    return any(v for k, v in data.items() if k != UNKNOWN)


def format_stats(summary: dict[str, Any]) -> str:
    """The summary as readable text: totals, then each distribution with counts and shares."""
    n = summary["clips"] or 1
    total_h = summary["hours"] or 1.0
    lines = [f"clips {summary['clips']}  video {format_hours(summary['hours'])}  identities {summary['identities']}",
             "per split: " + ", ".join(f"{k} {v} ({format_hours(summary['hours_per_split'].get(k, 0.0))})"
                                       for k, v in summary["clips_per_split"].items())]  # fmt: skip
    for name in (*CATEGORICAL, *MULTI):
        hours = summary["hours_by"][name]
        shares = ", ".join(f"{k} {v} ({100 * v / n:.1f}%, {format_hours(hours.get(k, 0.0))}, "
                           f"{100 * hours.get(k, 0.0) / total_h:.1f}% of time)"
                           for k, v in list(summary[name].items())[:12])  # fmt: skip
        lines.append(f"{name}: {shares}")
    for name in HISTOGRAMS:
        hist = summary[name]
        bins = ", ".join(f"{k}: {v}" for k, v in hist["bins"].items())
        extra = f"  mean {hist['mean']:.2f}" if "mean" in hist else ""
        lines.append(f"{name}: {bins}  unknown: {hist['unknown']}{extra}")
    return "\n".join(lines)


def write_plots(summary: dict[str, Any], out: str | Path, title: str = "") -> list[Path]:
    """PNG per distribution plus `overview.png` (all panels, like the paper's Figure 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    panels = [(k, "pie") for k in CATEGORICAL if _known(summary[k])]
    panels += [(k, "bar") for k in MULTI if _known(summary[k])]
    panels += [(k, "hist") for k in HISTOGRAMS if any(summary[k]["bins"].values())]

    def draw(ax, name: str, kind: str) -> None:
        if kind == "hist":
            data = summary[name]["bins"]
            ax.bar(range(len(data)), list(data.values()), color="#4c72b0")
            ax.set_xticks(range(len(data)), list(data), rotation=45, ha="right", fontsize=7)
            ax.set_ylabel("identities" if name == "clips_per_identity" else "clips")
        elif kind == "bar":
            data = dict(list(summary[name].items())[:15])
            ax.barh(list(data)[::-1], list(data.values())[::-1], color="#55a868")
            ax.tick_params(axis="y", labelsize=7)
            ax.set_xlabel("clips")
        else:  # shares of time, the exposure a training mix is about; clip counts in the labels
            hours, counts = summary["hours_by"][name], summary[name]
            top = dict(list(hours.items())[:7])
            rest = sum(hours.values()) - sum(top.values())
            if rest > 0:
                top["other"] = rest
            clips = {k: counts.get(k, 0) for k in top}
            if "other" in top:
                clips["other"] = sum(counts.values()) - sum(counts.get(k, 0) for k in top if k != "other")
            labels = [f"{k} ({clips[k]})" for k in top]
            if sum(top.values()):
                ax.pie(list(top.values()), labels=labels, autopct="%1.0f%%", textprops={"fontsize": 7})
        ax.set_title(name.replace("_", " ") + (" (share of hours, clips)" if kind == "pie" else ""), fontsize=9)

    written = []
    for name, kind in panels:
        fig, ax = plt.subplots(figsize=(4, 3.2))
        draw(ax, name, kind)
        fig.tight_layout()
        p = out / f"{name}.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        written.append(p)
    cols = 4
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows))
    for ax, (name, kind) in zip(axes.flat, panels, strict=False):
        draw(ax, name, kind)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    head = f"{title}: " if title else ""
    video = format_hours(summary["hours"])
    fig.suptitle(f"{head}{summary['clips']} clips, {video} of video, {summary['identities']} identities")
    fig.tight_layout()
    p = out / "overview.png"
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return [*written, p]


def write_stats(ds: datasets.Dataset | datasets.DatasetDict, out: str | Path, title: str = "") -> dict[str, Any]:
    """Compute the statistics, write `summary.json` and the PNGs into `out`; returns the summary."""
    summary = compute_stats(ds)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    record_copy(CopyKind.STATS, out, dataset_ids(ds))  # counts of these clips: stale once one is forgotten
    summary["plots"] = [str(p) for p in write_plots(summary, out, title)]
    return summary
