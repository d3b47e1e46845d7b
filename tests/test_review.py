"""`facevid review`: the page of a curation run opened in a real headless Chromium, the page of a
build cache, and the command's errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from facevid_datasets.curation import MeasureConfig, Thresholds, curate, read_decisions
from facevid_datasets.curation.synthetic import make_labelled_set
from facevid_datasets.media.ffmpeg import cut_clip
from facevid_datasets.review import write_review
from facevid_datasets.review.strips import HEIGHT, MAX_FRAMES
from facevid_datasets.review.whatif import kept_at, leaf_rows, what_if

#: As tests/test_curation.py: the generated faces are enlarged crops (detail check off), their mouths
#: are placed with dlib's points (dlib models) and follow the loudness envelope (sync from 1 s).
SYNTHETIC = Thresholds(min_detail=0.0, sync_min_seconds=1.0)
DLIB = MeasureConfig(models={"face_detector": "dlib-hog", "landmarks": "dlib-68", "keypoints": "dlib-68",
                             "sync": "av-envelope"})  # fmt: skip
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (Makefile APT_PACKAGES); no browser is downloaded
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """The generated defect set (one clip per defect), a clip without audio and an unreadable file,
    curated, then reviewed."""
    root = tmp_path_factory.mktemp("review")
    clips = make_labelled_set(root / "videos", clean=1)
    broken = root / "videos" / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    silent = cut_clip(clips[0].path, root / "videos" / "silent.mp4", keep_audio=False)
    inputs = [c.path for c in clips] + [silent, broken]
    result = curate(inputs, root / "out", thresholds=SYNTHETIC, config=DLIB, workers=1, progress=False)
    review = write_review(result.out, root / "review", progress=False)
    return root, clips, inputs, result, review


def _ids(page) -> list[str]:
    return page.eval_on_selector_all("#list .card", "els => els.map(e => e.dataset.id)")


@pytest.mark.slow
def test_page_in_headless_chromium(reviewed, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev dependency) not installed")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium (make test installs it)")
    root, clips, inputs, result, review = reviewed
    rows = read_decisions(result.out)
    groups = {r["clip_id"]: f"{r['decision']}:{r['stage'] or ''}" for r in rows}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(review.page.as_uri())
        page.wait_for_load_state("load")
        assert len(_ids(page)) == min(50, len(rows))  # the first page only

        # every decisions row is listed exactly once, under the header of its decision and stage
        page.select_option("[name=size]", "all")
        listed = page.eval_on_selector_all("#list > *", "els => els.map(e => [e.className, e.dataset.group, "
                                           "e.dataset.id || null])")  # fmt: skip
        headers = [g for cls, g, _ in listed if cls == "group"]
        assert len(headers) == len(set(headers)) == len(set(groups.values()))
        under = None
        seen = []
        for cls, group, clip_id in listed:
            if cls == "group":
                under = group
            else:
                assert group == under == groups[clip_id], clip_id
                seen.append(clip_id)
        assert sorted(seen) == sorted(groups)
        for clip in clips:
            if clip.expected_stage not in (None, "scene"):
                assert groups[clip.clip_id] == f"drop:{clip.expected_stage}"
        assert groups["scene_cut_0"] == "split:scene" and groups["broken"] == "drop:read"

        # filters change what is shown
        page.select_option("[name=stage]", "border")
        assert _ids(page) == ["black_bars_0"]
        page.select_option("[name=stage]", "")
        page.select_option("[name=decision]", "keep")
        assert sorted(_ids(page)) == sorted(r["clip_id"] for r in rows if r["decision"] == "keep")
        page.select_option("[name=decision]", "")
        brisque = {r["clip_id"]: r["brisque"] for r in rows if r.get("brisque") is not None}
        cut = (brisque["clean_0"] + brisque["blur_noise_0"]) / 2
        page.select_option("[name=field]", "max_brisque")
        page.fill("[name=min]", f"{cut:.3f}")
        assert sorted(_ids(page)) == sorted(k for k, v in brisque.items() if v >= cut)
        assert "blur_noise_0" in _ids(page) and "clean_0" not in _ids(page)
        page.select_option("[name=sort]", "value-desc")
        shown = _ids(page)
        assert [brisque[i] for i in shown] == sorted((brisque[i] for i in shown), reverse=True)
        page.select_option("[name=source]", "videos")
        assert _ids(page) == shown  # every clip comes from the videos/ folder
        page.click("#decisions button[data-filter*='subtitles']")  # a count in the decisions table
        assert _ids(page) == ["subtitles_0"]

        # a what-if row agrees with a re-run of the curation at that threshold
        table = page.eval_on_selector_all(
            "table[data-threshold=max_brisque] tr[data-kept]",
            "els => els.map(e => [JSON.parse(e.dataset.value), +e.dataset.kept, +e.dataset.seconds, "
            "e.classList.contains('current')])",
        )
        now = [t for t in table if t[3]]
        assert len(now) == 1 and now[0][0] == SYNTHETIC.max_brisque and now[0][1] == result.summary["kept"]
        value, kept, seconds, _ = next(t for t in table if t[1] != result.summary["kept"] and t[1] > 0)
        again = shutil.copytree(result.out, tmp_path / "rerun")
        rerun = curate(inputs, again, thresholds=SYNTHETIC.replace(max_brisque=value), config=DLIB, workers=1,
                       progress=False)  # fmt: skip
        assert rerun.measured == 0 and rerun.summary["kept"] == kept
        kept_rows = [r for r in read_decisions(again) if r["decision"] == "keep"]
        assert sum(r["duration"] for r in kept_rows) == pytest.approx(seconds, abs=1e-3)

        shot = tmp_path / "review.png"
        page.select_option("[name=size]", "25")
        page.click("#decisions button[data-filter*='keep']")
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the review page: {shot}")
        assert shot.stat().st_size > 10_000
        browser.close()
    assert errors == []
    assert requests and all(u.startswith("file://") for u in requests), requests  # nothing from elsewhere


def test_page_shows_what_was_measured_and_leaks_nothing(reviewed):
    root, clips, _, result, review = reviewed
    text = review.page.read_text()
    data = json.loads(re.search(r'<script type="application/json" id=data>(.*?)</script>', text, re.S).group(1))
    assert str(root) not in text and "at most 20 frames" in text
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://(?!luna)", text)  # inline only
    cards = {c["id"]: c for c in data["clips"]}
    assert cards["broken"]["reason"].startswith("unreadable: broken.mp4")  # the path, made relative
    assert cards["clean_0"]["video"] == "clean_0.mp4" and cards["scene_cut_0_s001"]["parent"] == "scene_cut_0"
    assert cards["black_bars_0"]["values"]["max_border_px"] == 40 and cards["subtitles_0"]["subtitle_text"]
    assert {c["source"] for c in cards.values()} == {"videos"}  # the folder: `audio_shift_0` is no CelebV name
    for c in cards.values():
        if c["id"] == "broken":
            assert c["strip"] is None
            continue
        strip = cv2.imread(str(review.page.parent / c["strip"]))
        aspect = 2 if c["id"] == "two_faces_0" else 1.2
        assert strip.shape[0] == HEIGHT and strip.shape[1] <= MAX_FRAMES * (aspect * HEIGHT + 3), c["id"]
        assert (c["curve"] is None) == (c["id"] in ("silent", "scene_cut_0")), c["id"]
    again = write_review(result.out, review.page.parent, progress=False)
    assert again.images_written == 0 and again.images_reused == review.images_written


def test_what_if_tables_count_what_decide_keeps(reviewed):
    _, _, _, result, _ = reviewed
    rows = read_decisions(result.out)
    leaves = leaf_rows(rows)
    assert kept_at(leaves, SYNTHETIC)[0] == result.summary["kept"]
    tables = {w.threshold: w for w in what_if(rows, SYNTHETIC)}
    border = tables["max_border_px"]
    assert [p.kept for p in border.points if p.current] == [result.summary["kept"]]
    loose = max(border.points, key=lambda p: p.value)  # above the 40 px bars: black_bars_0 is kept too
    assert loose.value >= 40 and loose.kept == result.summary["kept"] + 1
    assert [c.clip_id for c in border.above] == ["black_bars_0"]
    assert tables["require_audio"].points[1].kept == result.summary["kept"] - 1  # `silent` has no audio
    for w in tables.values():  # the tables judge only rows that reach the threshold's stage: same counts
        for p in w.points:
            full = kept_at(leaves, SYNTHETIC.replace(**{w.threshold: p.value}))
            assert (p.kept, p.kept_seconds) == (full[0], pytest.approx(full[1], abs=1e-3)), (w.threshold, p)


# -- build cache -------------------------------------------------------------------------------------------


def test_build_cache_page_lists_every_report_line(tmp_path):
    from facevid_datasets.loading import load_builder
    from facevid_datasets.testing import make_index_video

    av = make_index_video(tmp_path / "av.mp4", num_frames=10, fps=25, size=(64, 64))
    root = tmp_path / "rel"
    (root / "videos").mkdir(parents=True)
    lines = []
    for i, c in enumerate(["000001", "000002", "Czb5Ml9VDsI_0"]):
        shutil.copy(av, root / "videos" / f"{c}.mp4")
        lines.append(json.dumps({"clip_id": c, "identity": f"p{i}", "split": "train"}))
    lines += [json.dumps({"clip_id": "000009", "split": "train"}), "{not json",
              json.dumps({"clip_id": "000010", "video": "../../outside.mp4"})]  # fmt: skip
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    (root / "deletions.txt").write_text("# asked by the person shown\n000002\n")
    b = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    b.download_and_prepare()

    review = write_review(tmp_path / "cache", tmp_path / "review", progress=False)
    text = review.page.read_text()
    assert str(tmp_path) not in text
    data = json.loads(re.search(r'<script type="application/json" id=data>(.*?)</script>', text, re.S).group(1))
    (build,) = data["builds"]
    got = {(r["status"], r["file"], r["line"]) for r in build["report"]}
    assert got == {("missing", "metadata.jsonl", 4), ("bad-metadata", "metadata.jsonl", 5),
                   ("unsafe-path", "metadata.jsonl", 6), ("withheld", "", None)}  # fmt: skip
    withheld = next(r for r in build["report"] if r["status"] == "withheld")
    assert withheld["clip_id"] == "000002" and withheld["reason"].endswith("listed in deletions.txt:2")
    assert build["clips"] == 2 and build["sources"]["facevid-1k"]["clips"] == 1
    assert build["sources"]["facevid-1k"]["report"] == {"missing": 1, "unsafe-path": 1, "withheld": 1}
    assert build["sources"]["celebv"]["clips"] == 1 and build["sources"]["celebv"]["hours"] > 0
    assert any(p.endswith("overview.png") for p in build["plots"])
    for p in build["plots"]:
        assert (review.page.parent / p).is_file()
    assert review.report_lines == 4


def test_review_of_a_folder_that_is_no_run_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "nope", tmp_path / "empty"):
        res = subprocess.run([sys.executable, "-m", "facevid_datasets.cli", "review", str(target), "--out",
                              str(tmp_path / "out")], capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 1, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr, res.stderr
        assert str(target) in res.stderr
    assert not (tmp_path / "out").exists()
