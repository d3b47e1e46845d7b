"""The review page: one self-contained `index.html` (inline CSS and JS, the data as an embedded JSON
blob, images beside it by relative path). The clip list and the report lines are drawn a page at a
time by the script, so 10,000 clips load as fast as 50; the what-if tables are plain HTML."""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any

LICENCE = (
    "Footage licence: DH-FaceVid-1K (and the CelebV-HQ, CelebV-Text and TalkingHead-1KH clips in it) may be "
    "used for non-commercial research only and may not be redistributed or hosted; a publication may show at "
    "most 20 frames or videos. This page shows a few frames per clip for reviewing the cleaning: keep it "
    "private, do not publish or share it, and delete it with the run."
)






@cache
def _asset(name: str) -> str:
    """`page.css` or `page.js` of this package (inlined: the page loads nothing from elsewhere)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:.4g}"
    return _e(v)


def _hms(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _decisions_matrix(data: dict[str, Any]) -> str:
    """Counts of rows (and seconds) per decision and stage; each count filters the list."""
    groups: dict[tuple[str, str], list[float]] = {}
    for c in data["clips"]:
        key = (c["decision"], c["stage"] or "")
        groups.setdefault(key, []).append(c["duration"] or 0.0)
    order = [("drop", s) for s in data["stages"]] + [("split", "scene"), ("keep", "")]
    rows = []
    for d, s in [k for k in order if k in groups] + [k for k in groups if k not in order]:
        f = json.dumps({"decision": d, "stage": s or "none"})
        n, sec = len(groups[(d, s)]), sum(groups[(d, s)])
        rows.append(f"<tr><td class=l>{_e(d)}</td><td class=l>{_e(s or '—')}</td>"
                    f"<td><button data-filter='{_e(f)}'>{n}</button></td><td>{_hms(sec)}</td></tr>")  # fmt: skip
    return ("<table class=matrix><tr><th class=l>decision</th><th class=l>stage</th><th>rows</th><th>duration</th></tr>"
            + "".join(rows) + "</table>")  # fmt: skip


def _whatif_tables(data: dict[str, Any]) -> str:
    out = []
    for w in data["whatif"]:
        rows = "".join(
            f"<tr class='{'current' if p['current'] else ''}' data-value='{_e(json.dumps(p['value']))}' "
            f"data-kept='{p['kept']}' data-seconds='{p['seconds']}'><td>{_num(p['value'])}</td><td>{p['kept']}</td>"
            f"<td>{_hms(p['seconds'])}</td></tr>"
            for p in w["points"]
        )

        def near(items: list[dict[str, Any]]) -> str:
            return ", ".join(f"<a data-goto='{_e(c['clip_id'])}'>{_e(c['clip_id'])}</a> {_num(c['value'])} "
                             f"({_e(c['decision'])}{' at ' + _e(c['stage']) if c['stage'] else ''})"
                             for c in items) or "none"  # fmt: skip

        nearest = ""
        if w["below"] or w["above"]:
            nearest = (f"<div class=near>nearest below {_num(w['current'])}: {near(w['below'])}<br>"
                       f"nearest at or above: {near(w['above'])}</div>")  # fmt: skip
        out.append(
            f"<div class=whatif><table data-threshold='{_e(w['threshold'])}'><caption>{_e(w['threshold'])} "
            f"<small>({_e(w['stage'])}: {_e(w['label'])}; now {_num(w['current'])})</small></caption>"
            f"<tr><th>value</th><th>clips kept</th><th>kept duration</th></tr>{rows}</table>{nearest}</div>"
        )
    return "".join(out)


def _curation_body(data: dict[str, Any]) -> str:
    t = data["totals"]
    return f"""
<p class=meta>{t['inputs']} input clips ({t['split']} split at scene cuts): <b>{t['kept']} kept</b>
({_hms(t['kept_seconds'])} of {_hms(t['seconds'])}), {t['dropped']} dropped.</p>
<nav><a href="#decisions">decisions</a><a href="#clips">clips</a><a href="#whatif">what-if thresholds</a></nav>
<section id=decisions><h2>Decisions by stage</h2>
<p>Every row of <code>decisions.parquet</code> (each input clip; each segment of a split clip). A clip is dropped at
the first stage it fails. Click a count to list those rows.</p>{_decisions_matrix(data)}</section>
<section id=clips><h2>Clips</h2>
<p class=legend>Strips: <span><i class=sw style="background:#3cdc3c"></i>landmarks</span>
<span><i class=sw style="background:#ffd200"></i>face box (measured side)</span>
<span><i class=sw style="background:#eb2828"></i>black bars / scene cut</span>
<span><i class=sw style="background:#00c8ff"></i>text regions read</span>.
Sync curve: score per audio offset; shaded: the window near zero; green line: confidence needed, red: wrong-audio
line; dot: best offset.</p>
<div id=filters>
<label>decision <select name=decision><option value="">all</option><option>keep</option><option>drop</option>
<option>split</option></select></label>
<label>stage <select name=stage><option value="">all</option></select></label>
<label>source <select name=source><option value="">all</option></select></label>
<label>value <select name=field><option value="">(none)</option></select></label>
<label>from <input class=num name=min type=number step=any></label>
<label>to <input class=num name=max type=number step=any></label>
<label>sort <select name=sort><option value=group>by decision and stage</option><option value=value-asc>value, low
first</option><option value=value-desc>value, high first</option><option value=duration>longest first</option>
<option value=id>clip id</option></select></label>
<label>clip <input name=q type=search placeholder="clip id"></label>
<label>per page <select name=size><option>25</option><option selected>50</option><option>100</option>
<option>500</option><option value=all>all</option></select></label>
</div>
<div class=pager></div><div id=list></div><div class=pager></div></section>
<section id=whatif><h2>What-if thresholds</h2>
<p>For each threshold (the others as this run had them): the clips and duration kept at each value, decided by the
same rules from the cached measurements, and the clips measured nearest the current value on each side.</p>
{_whatif_tables(data)}</section>"""


def _build_body(data: dict[str, Any]) -> str:
    parts = []
    for i, b in enumerate(data["builds"]):
        srcs = "".join(
            f"<tr><td class=l>{_e(name)}</td><td>{s['clips']}</td><td>{s['hours']:.4g}</td>"
            f"<td class=l>{_e(', '.join(f'{k} {v}' for k, v in sorted(s['report'].items())) or '—')}</td></tr>"
            for name, s in data["builds"][i]["sources"].items()
        )
        plots = "".join(f"<img src='{_e(p)}' alt='{_e(p)}'>" for p in b["plots"] if p.endswith("overview.png"))
        splits = ", ".join(f"{_e(k)} {v}" for k, v in b["clips_per_split"].items()) or "none"
        lines = ", ".join(f"{v} {_e(k)}" for k, v in b["statuses"].items()) or "none"
        parts.append(f"""<section class=build><h2>{_e(b['title'])}</h2>
<p>{b['clips']} clips built ({splits}), {b['hours']:.4g} h. Report lines: {lines}.</p>
<h3>Per source</h3><table class=sources><tr><th class=l>source</th><th>clips built</th><th>hours</th>
<th class=l>report lines</th></tr>{srcs}</table>
<h3>Build report</h3><p>One line per clip not built (or built with a field left empty), with the file and line it
is about (paths relative to the release).</p><div class=report data-build={i}></div>
<h3>Statistics</h3><div class=plots>{plots or '<p>nothing was built</p>'}</div></section>""")
    return "".join(parts)


def render_page(data: dict[str, Any]) -> str:
    """The whole page for `data` (already scrubbed of paths outside the run and of tokens)."""
    body = _curation_body(data) if data["kind"] == "curation" else _build_body(data)
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    kind = "curation run" if data["kind"] == "curation" else "build"
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>facevid review: {_e(data['title'])}</title><style>{_asset('page.css')}</style></head>
<body><h1>Review of {kind} <code>{_e(data['title'])}</code></h1>
<p class=licence>{_e(LICENCE)}</p>
{body}
<script type="application/json" id=data>{blob}</script>
<script>{_asset('page.js')}</script>
</body></html>
"""
