"""Deletion lists: parsing, which clips an id covers, the build and load hooks, the plan-time guard,
the Hub list, and the licence terms shown once per release folder."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

import facevid_datasets as fd
from facevid_datasets import cache_paths
from facevid_datasets.licence.deletions import (
    WITHHELD,
    DeletionList,
    DeletionListError,
    Withholder,
    apply_deletions,
    apply_shipped_deletions,
    excluded_rows,
    hub_deletions,
    iter_kept,
    load_deletions,
    record_video_ids,
    video_ids_of,
    withheld,
)
from facevid_datasets.licence.terms import announce_terms, licence_summary, terms_notice_once
from facevid_datasets.loading import load_builder
from facevid_datasets.report import BuildReport
from facevid_datasets.testing import make_index_video

# -- parsing ------------------------------------------------------------------------------------------


def test_parse_bom_crlf_comments_and_bad_lines():
    text = (
        "\ufeff# requests of 2026-11\r\n000680\r\n\r\n  RS127258   # a whole collected video\r\n"
        "https://www.youtube.com/watch?v=Czb5Ml9VDsI\r\nid00017/_mjZ87sK6cA/00001\r\n000681.mp4\r\n"
        "two ids\r\n../../etc/passwd\r\n000680\r\n"
    )
    d = DeletionList.parse(text, "req.txt")
    assert list(d.ids) == ["000680", "RS127258", "Czb5Ml9VDsI", "id00017__mjZ87sK6cA_00001", "000681"]
    assert d.ids["000680"] == "req.txt:2" and d.ids["RS127258"] == "req.txt:4"
    assert d.problems == [
        "req.txt:8: several ids on one line (one a line): 'two ids'",
        "req.txt:9: not a clip or video id: '../../etc/passwd'",
    ]
    assert len(d) == 5 and "RS127258" in d and bool(DeletionList()) is False


def test_from_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "deletions.txt"
    bad.write_bytes(b"000680\n\xff\xfe\n")
    with pytest.raises(DeletionListError, match=r"deletions.txt: the deletion list is not UTF-8"):
        DeletionList.from_file(bad)
    with pytest.raises(DeletionListError, match="missing.txt: cannot read"):
        DeletionList.from_file(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    ("dataset", "clip_id", "videos"),
    [
        ("celebv-hq", "Czb5Ml9VDsI_0", ("Czb5Ml9VDsI",)),
        ("celebv-text", "hDf4PjXl64Q_35_2", ("hDf4PjXl64Q_35", "hDf4PjXl64Q")),  # CelebV-Text's doubled suffix
        ("talkinghead-1kh", "WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507", ("WA1L8vXkSKQ_0001", "WA1L8vXkSKQ")),
        ("hdtf", "Radio11_0", ("Radio11",)),  # HDTF interval
        ("voxceleb2", "id00017__mjZ87sK6cA_00001", ("_mjZ87sK6cA", "id00017")),  # the video, then the speaker
        ("facevid-1k", "000680", ()),  # collected: its own video
        ("facevid-1k", "RS127258_segment_049_7350_0", ("RS127258",)),
        ("facevid-1k", "WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507", ("WA1L8vXkSKQ_0001", "WA1L8vXkSKQ")),
        ("facevid-1k", "hDf4PjXl64Q_35_2", ("hDf4PjXl64Q_35", "hDf4PjXl64Q")),  # the public part keeps its names
        ("celebv-hq", "Czb5Ml9VDsI_0_s001", ("Czb5Ml9VDsI_0", "Czb5Ml9VDsI")),  # a segment a curation cut
    ],
)
def test_video_ids_of_is_the_rule_each_description_declares(dataset, clip_id, videos):
    assert video_ids_of(clip_id, dataset) == videos
    assert set(videos) <= set(video_ids_of(clip_id))  # no dataset known: every known dataset's rule


def test_path_form_names_the_voxceleb2_clip():
    d = DeletionList.parse("id00017/_mjZ87sK6cA/00001\n").bound("voxceleb2")
    assert list(d.ids) == ["id00017__mjZ87sK6cA_00001"]
    assert d.covers("id00017__mjZ87sK6cA_00001") and not d.covers("id00017__mjZ87sK6cA_00002")
    speaker = DeletionList.parse("id00017\n").bound("voxceleb2")
    assert speaker.covers("id00017__mjZ87sK6cA_00002") and not speaker.covers("id00018__mjZ87sK6cA_00002")


def test_covers_clip_and_source_video():
    d = DeletionList.parse("000680\nCzb5Ml9VDsI\nRadio11\nRS127258\n_mjZ87sK6cA\n")
    assert d.covers("000680") and not d.covers("000681") and not d.covers("0006800")
    assert d.covers("Czb5Ml9VDsI_0") and d.covers("Czb5Ml9VDsI_17") and not d.covers("Czb5Ml9VDsJ_0")
    assert d.covers("Czb5Ml9VDsI_0001_S1_E9_L1_T1_R9_B9") and d.covers("Radio11_3") and not d.covers("Radio1_3")
    assert d.covers("RS127258_segment_049_7350_0") and d.covers("id00099__mjZ87sK6cA_00004")
    assert d.covers("some_other_name", video_id="Radio11")
    assert d.reason("Radio11_0") == "deletion request: source video Radio11 listed in <ids>:3"
    assert d.reason("000680") == "deletion request: clip listed in <ids>:1"


def test_record_fields_name_the_source_video():
    hdtf = {"clip_id": "x_0", "original": json.dumps({"video": "WDA_KimReynolds_000", "group": "WDA"})}
    celebv = {"clip_id": "renamed", "original": json.dumps({"ytb_id": "M2Ohb0FAaJU"})}
    th = {"clip_id": "t", "original": json.dumps({"video_name": "WA1L8vXkSKQ_0001"})}
    assert "WDA_KimReynolds_000" in record_video_ids(hdtf)
    assert record_video_ids(th)[:2] == ("WA1L8vXkSKQ_0001", "WA1L8vXkSKQ")
    d = DeletionList.parse("M2Ohb0FAaJU\nWA1L8vXkSKQ\n")
    assert d.match("renamed", record=celebv) == "M2Ohb0FAaJU" and d.match("t", record=th) == "WA1L8vXkSKQ"
    assert d.match("renamed") is None


# -- hooks --------------------------------------------------------------------------------------------


def _records(ids):
    return [{"clip_id": c, "original": None, "video": {"path": f"/r/{c}.mp4", "bytes": None}} for c in ids]


def test_withholder_reports_each_clip_once_with_why(tmp_path):
    report = BuildReport(tmp_path / "build_report.tsv")
    report.reset()
    hook = Withholder(DeletionList.parse("000680\nCzb5Ml9VDsI\n", "shipped.txt"), report)
    kept = list(iter_kept(_records(["000680", "000681", "Czb5Ml9VDsI_0", "Czb5Ml9VDsI_1"]), hook))
    assert [r["clip_id"] for r in kept] == ["000681"]
    rows = report.rows()
    assert [(r.clip_id, r.status) for r in rows] == [("000680", WITHHELD), ("Czb5Ml9VDsI_0", WITHHELD),
                                                     ("Czb5Ml9VDsI_1", WITHHELD)]  # fmt: skip
    assert rows[1].reason == "deletion request: source video Czb5Ml9VDsI listed in shipped.txt:2"
    assert hook.withheld.summary() == "3 clips withheld by deletion requests (1 listed by clip id, 2 by source video)"
    kept2, report2 = withheld(_records(["000680", "000682"]), hook.deletions)
    assert [r["clip_id"] for r in kept2] == ["000682"] and len(report2) == 1


def test_excluded_rows_for_datasets_records_and_ids():
    d = DeletionList.parse("000680\nCzb5Ml9VDsI\n")
    ids = ["000679", "000680", "Czb5Ml9VDsI_0", "000681", "Czb5Ml9VDsI_4"]
    assert excluded_rows(ids, d) == {1, 2, 4}
    assert excluded_rows(_records(ids), d) == {1, 2, 4}
    ds = datasets.Dataset.from_list(_records(ids))
    assert excluded_rows(ds, d) == {1, 2, 4}
    view = ds.select([4, 3, 1])  # positions are those of the view, as a sampler sees them
    assert excluded_rows(view, d) == {0, 2}
    assert excluded_rows(ds, DeletionList()) == set()


def _release(root: Path) -> Path:
    for cid in ("000680", "000681", "Czb5Ml9VDsI_0", "Czb5Ml9VDsI_1"):
        make_index_video(root / "videos" / f"{cid}.mp4", num_frames=6, fps=25, size=(32, 32), audio=False)
    rows = [{"clip_id": c, "identity": f"p{i}", "split": "train"} for i, c in
            enumerate(("000680", "000681", "Czb5Ml9VDsI_0", "Czb5Ml9VDsI_1"))]  # fmt: skip
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_shipped_list_filters_an_older_cache(tmp_path):
    root = _release(tmp_path / "rel")
    cache = str(tmp_path / "cache")
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=cache)
    builder.download_and_prepare()
    old = builder.as_dataset(split="train")  # the cache built before the list
    (root / "deletions.txt").write_text("# from the authors\n000680\nCzb5Ml9VDsI\n")
    assert len(old) == 4
    for _ in range(2):
        got = apply_shipped_deletions(builder, old)
        assert got["clip_id"] == ["000681"]
    rows = [r for r in builder.report.rows() if r.status == WITHHELD]
    assert sorted(r.clip_id for r in rows) == ["000680", "Czb5Ml9VDsI_0", "Czb5Ml9VDsI_1"]  # once, not per load
    dsd = apply_deletions(builder.as_dataset(), load_deletions("facevid-1k", root=root))
    assert isinstance(dsd, datasets.DatasetDict) and dsd["train"]["clip_id"] == ["000681"]
    stream = apply_deletions(builder.as_streaming_dataset(split="train"), load_deletions("facevid-1k", root=root))
    assert [r["clip_id"] for r in stream] == ["000681"]


def test_load_dataset_applies_shipped_list_on_every_build(tmp_path):
    """End to end: a shipped deletions.txt withholds its clips on the next
    `load_dataset`, whether the cache is older than the list or built fresh (then they are not built)."""
    root = _release(tmp_path / "rel")
    cache = tmp_path / "cache"
    assert len(fd.load_dataset("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache), split="train")) == 4
    (root / "deletions.txt").write_text("000680\nCzb5Ml9VDsI\n")
    again = fd.load_dataset("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache), split="train")
    assert again["clip_id"] == ["000681"]
    fresh_cache = tmp_path / "fresh"
    fresh = fd.load_dataset("facevid-1k", "all", data_dir=str(root), cache_dir=str(fresh_cache), split="train")
    assert fresh["clip_id"] == ["000681"]
    arrow = [p for p in fresh_cache.rglob("*.arrow") if not p.name.startswith("cache-")]
    assert arrow and all(b"000680" not in p.read_bytes() and b"Czb5Ml9VDsI" not in p.read_bytes() for p in arrow)
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(fresh_cache))
    assert sorted(r.clip_id for r in builder.report.rows() if r.status == WITHHELD) == [
        "000680", "Czb5Ml9VDsI_0", "Czb5Ml9VDsI_1"]  # fmt: skip


# -- the Hub list -------------------------------------------------------------------------------------


def test_hub_list_offline_uses_earlier_copy_or_says_why(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DeletionListError, match=r"deletions.txt of org/DH-FaceVid-1K: HF_HUB_OFFLINE is set"):
        hub_deletions("facevid-1k", "org/DH-FaceVid-1K", tmp_path / "hub")
    (tmp_path / "hub").mkdir(exist_ok=True)
    (tmp_path / "hub" / "deletions.txt").write_text("000680\n")
    got = hub_deletions("facevid-1k", "org/DH-FaceVid-1K", tmp_path / "hub")
    assert got == tmp_path / "hub" / "deletions.txt"
    d = load_deletions("facevid-1k", ids=["000690"], repo_id="org/DH-FaceVid-1K", hub_dir=tmp_path / "hub")
    assert list(d.ids) == ["000690", "000680"]


# -- licence terms ------------------------------------------------------------------------------------


def test_terms_shown_once_per_release_folder(tmp_path, capsys):
    text = licence_summary("facevid-1k")
    for term in ("non-commercial", "redistribute", "20 frames", "delete the data on request", "facevid-1k.md"):
        assert term in text
    cache = tmp_path / "cache"
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert terms_notice_once("facevid-1k", a, cache) == text
    assert terms_notice_once("facevid-1k", a / ".." / "a", cache) is None  # same folder, resolved
    assert terms_notice_once("facevid-1k", b, cache) == text
    assert terms_notice_once("hdtf", a, cache) is None  # CC BY: no gated terms to repeat
    builder = load_builder("facevid-1k", "all", data_dir=str(tmp_path / "c"), cache_dir=str(cache))
    assert announce_terms(builder) == text and "non-commercial" in capsys.readouterr().err
    assert announce_terms(builder) is None
    assert announce_terms(load_builder("facevid-1k", "sample", cache_dir=str(cache))) is None


def test_cli_info_shows_licence_terms():
    from facevid_datasets.cli import app

    res = CliRunner().invoke(app, ["info", "facevid-1k"])
    assert res.exit_code == 0 and "dh-facevid-1k-research-license" in res.output and "20 frames" in res.output
    assert "sample (modelscope): fh2678713685/DH-FaceVid-1K_Sample" in res.output  # from the description
    assert "sample: jjuik2014/DH-FaceVid-Sample" in res.output and "270,043 clips as published" in res.output


# -- a cutting builder (HDTF: clips cut from source videos) -----------------------------------------


def _hdtf_release(root: Path) -> Path:
    meta = root / "HDTF_dataset"
    meta.mkdir(parents=True)
    (meta / "RD_annotion_time.txt").write_text("Radio1.mp4 00:00-00:01 00:01-00:02\nRadio2.mp4 00:00-00:01\n")
    (meta / "RD_resolution.txt").write_text("Radio1.mp4 120\nRadio2.mp4 120\n")
    (meta / "RD_crop_wh.txt").write_text(
        "Radio1_0.mp4 20 120 0 120\nRadio1_1.mp4 20 120 0 120\nRadio2_0.mp4 20 120 0 120\n"
    )
    for v in ("Radio1", "Radio2"):
        make_index_video(root / "videos" / f"{v}.mp4", 20, 10.0, (120, 160), audio=False)
    return root


def _cut_clips(cache: Path) -> list[str]:
    """Clip ids of the clips cut into the cache (file names are `<clip>-<content key>.mp4`)."""
    return sorted(p.stem.rsplit("-", 1)[0] for p in cache_paths.clips_root(cache).rglob("*.mp4"))


def test_forget_a_source_video_of_a_cutting_builder(tmp_path):
    from facevid_datasets.licence.forget import forget

    root, cache = _hdtf_release(tmp_path / "hdtf"), tmp_path / "cache"
    ds = fd.load_dataset("hdtf", data_dir=str(root), cache_dir=str(cache))
    assert sorted(r for s in ds.values() for r in s["clip_id"]) == ["Radio1_0", "Radio1_1", "Radio2_0"]
    res = forget("hdtf", ["Radio1"], cache_dir=cache, release_root=root)
    removed = {c.path.name.split("-")[0] if c.path.suffix == ".mp4" else c.path.name
               for c in res.changes if c.action == "removed"}  # fmt: skip
    assert removed == {"Radio1_0", "Radio1_1", "hdtf-train.arrow"}  # the train split held Radio1 only
    again = fd.load_dataset("hdtf", data_dir=str(root), cache_dir=str(cache))
    assert [r for s in again.values() for r in s["clip_id"]] == ["Radio2_0"]
    assert _cut_clips(cache) == ["Radio2_0"] and (root / "videos" / "Radio1.mp4").is_file()
    assert forget("hdtf", ["Radio1"], cache_dir=cache, check=True).present == []


def test_shipped_list_withholds_clips_of_a_cutting_builder(tmp_path):
    root, cache = _hdtf_release(tmp_path / "hdtf"), tmp_path / "cache"
    (root / "deletions.txt").write_text("Radio1\n")
    ds = fd.load_dataset("hdtf", data_dir=str(root), cache_dir=str(cache))
    assert [r for s in ds.values() for r in s["clip_id"]] == ["Radio2_0"]
    assert _cut_clips(cache) == ["Radio2_0"]  # never cut
    rows = BuildReport(cache_paths.report_file(cache, "hdtf", "default")).rows()
    assert sorted((r.clip_id, r.status) for r in rows) == [("Radio1_0", WITHHELD), ("Radio1_1", WITHHELD)]


def test_first_build_from_a_folder_prints_the_terms_once(tmp_path, capfd):
    root = _release(tmp_path / "rel")
    fd.load_dataset("facevid-1k", "all", data_dir=str(root), cache_dir=str(tmp_path / "c"), split="train")
    assert "DH-FaceVid-1K licence" in capfd.readouterr().err
    fd.load_dataset("facevid-1k", "collected", data_dir=str(root), cache_dir=str(tmp_path / "c"), split="train")
    assert "DH-FaceVid-1K licence" not in capfd.readouterr().err  # same folder: once


def test_clip_dataset_never_plans_a_listed_clip_of_an_older_cache(tmp_path):
    """The plan-time guard: a ClipDataset over rows built before a list never yields the listed clips."""
    root = _release(tmp_path / "rel")
    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    old = builder.as_dataset(split="train")
    listing = tmp_path / "request.txt"
    listing.write_text("000680\nCzb5Ml9VDsI\n")
    clips = fd.ClipDataset(old, frames=4, deletions=listing)
    assert [clips[i].clip_id for i in range(len(clips))] == ["000681"]
    assert sorted(cid for cid, why in clips.skipped if why.startswith("deletion request")) == [
        "000680", "Czb5Ml9VDsI_0", "Czb5Ml9VDsI_1"]
