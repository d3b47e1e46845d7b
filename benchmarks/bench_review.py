"""Review page at scale: what-if tables and page load for 10,000 clips, paged list against drawing all.

    .venv/bin/python benchmarks/bench_review.py [--run CURATED] [--clips 10000]

The rows of a real curation run (`--run`, default: the generated defect set, curated here first) are
repeated under new clip ids up to `--clips` (their strips and curves shared, so only the page is
measured). Figures: the what-if tables (every threshold across its range, by `decide`) against one
plain re-decision of every clip; the page's size; in Debian's Chromium (/usr/bin/chromium), the time
from opening the file to the first page of 50 cards drawn, against drawing every card at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

from facevid_datasets.curation import MeasureConfig, Thresholds, curate, read_decisions
from facevid_datasets.review import write_review
from facevid_datasets.review.page import render_page
from facevid_datasets.review.run import _clip_view, _thresholds, _whatif_json
from facevid_datasets.review.safe import Scrubber
from facevid_datasets.review.whatif import kept_at, leaf_rows, reaching, what_if

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def synthetic_run(root: Path) -> Path:
    """The generated defect set curated as tests/test_review.py does (about two minutes)."""
    from facevid_datasets.curation.synthetic import make_labelled_set

    clips = make_labelled_set(root / "videos", clean=1)
    config = MeasureConfig(models={"face_detector": "dlib-hog", "landmarks": "dlib-68", "keypoints": "dlib-68",
                                   "sync": "av-envelope"})  # fmt: skip
    curate([c.path for c in clips], root / "out", thresholds=Thresholds(min_detail=0.0, sync_min_seconds=1.0),
           config=config, workers=1, progress=False)  # fmt: skip
    return root / "out"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a curated folder (default: generate and curate the defect set)")
    p.add_argument("--clips", type=int, default=10_000)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_review_"))
    try:
        run = args.run or synthetic_run(work)
        out = work / "review"
        t = time.perf_counter()
        first = write_review(run, out, progress=False)
        t_small = time.perf_counter() - t
        base = json.loads(first.page.read_text().split('id=data>', 1)[1].split("</script>", 1)[0].replace("<\\/", "</"))
        images = {c["id"]: (c["strip"], c["curve"]) for c in base["clips"]}
        rows = read_decisions(run)
        summary = json.loads((run / "summary.json").read_text())
        th = _thresholds(summary)
        big = []
        for k in range(-(-args.clips // len(rows))):
            for r in rows:
                big.append({**r, "clip_id": f"{r['clip_id']}~{k:05d}", "_orig": r["clip_id"],
                            "parent_id": r["parent_id"] and f"{r['parent_id']}~{k:05d}"})  # fmt: skip
        big = big[: args.clips]
        leaves = leaf_rows(big)

        t = time.perf_counter()
        kept_at(leaves, th)
        t_once = time.perf_counter() - t
        t = time.perf_counter()
        tables = what_if(big, th)
        t_whatif = time.perf_counter() - t
        decisions = sum(len(w.points) * len(reaching(leaves, w.stage)) for w in tables)

        scrub = Scrubber([r.get("path") or "" for r in big])
        clips = []
        for r in big:
            strip, curve = images[r["_orig"]]
            view = _clip_view(r, th, scrub, None, None, False)
            clips.append({**view, "strip": strip, "curve": curve})
        data = {**base, "clips": clips, "whatif": [_whatif_json(w) for w in tables],
                "thresholds": dataclasses.asdict(th)}  # fmt: skip
        t = time.perf_counter()
        page = out / "big.html"
        page.write_text(render_page(scrub.tree(data)))
        t_render = time.perf_counter() - t
        size_mb = page.stat().st_size / 2**20

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1300, "height": 900})
            t = time.perf_counter()
            tab.goto(page.as_uri())
            tab.wait_for_selector("#list .card")
            t_load = time.perf_counter() - t
            shown = tab.eval_on_selector_all("#list .card", "els => els.length")
            t = time.perf_counter()
            tab.select_option("[name=stage]", "quality")
            tab.wait_for_function("document.querySelector('#list .card').dataset.group === 'drop:quality'")
            t_filter = time.perf_counter() - t
            tab.select_option("[name=stage]", "")
            t = time.perf_counter()
            tab.select_option("[name=size]", "all")
            tab.wait_for_function(f"document.querySelectorAll('#list .card').length >= {len(big)}", timeout=600_000)
            t_all = time.perf_counter() - t
            browser.close()

        print(f"review page of {len(big)} decisions rows ({len(leaves)} decided) from {run}")
        print(f"  write_review of the source run ({len(rows)} rows, strips drawn): {t_small:.1f} s")
        print(f"  one re-decision of every clip:        {t_once * 1000:8.1f} ms")
        print(f"  what-if tables ({len(tables)} thresholds, {decisions:,} decisions): {t_whatif:8.2f} s "
              f"({t_whatif / t_once:.0f}x one pass, {decisions / t_whatif / 1e6:.2f} M decisions/s)")
        print(f"  page HTML: {size_mb:.1f} MiB, written in {t_render:.2f} s")
        print(f"  Chromium, open to first page ({shown} cards): {t_load:.2f} s")
        print(f"  Chromium, every card at once ({len(big)}):  {t_all:.2f} s  ({t_all / t_load:.1f}x the paged load)")
        print(f"  Chromium, filter by stage and redraw a page: {t_filter:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
