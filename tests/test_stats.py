"""`facevid stats`: the paper's distributions as text, PNGs and JSON."""

from __future__ import annotations

import json

import datasets
from typer.testing import CliRunner

from facevid_datasets.schema import FEATURES, empty_record
from facevid_datasets.stats import compute_stats, format_stats


def _ds(rows: list[dict]) -> datasets.Dataset:
    recs = []
    for i, r in enumerate(rows):
        rec = empty_record()
        rec.update(clip_id=str(i), video={"path": f"/x/{i}.mp4", "bytes": None}, **{k: v for k, v in r.items()
                   if k not in ("attributes", "quality", "pose")})  # fmt: skip
        rec["attributes"].update(r.get("attributes", {}))
        rec["quality"].update(r.get("quality", {}))
        rec["head_pose"]["label"] = r.get("pose")
        recs.append(rec)
    return datasets.Dataset.from_list(recs, features=FEATURES)


def test_compute_stats_counts_and_histograms():
    ds = _ds([
        {"identity": "a", "duration": 20.0, "width": 1080, "height": 1920, "language": "zh",
         "attributes": {"ethnicity": "Asian", "gender": "male", "action": ["Talk", "Smile"]},
         "quality": {"brisque": 12.0}, "pose": "frontal"},
        {"identity": "a", "duration": 4.0, "width": 512, "height": 512,
         "attributes": {"ethnicity": "Asian", "gender": "female", "action": ["Talk"]}, "pose": "extreme"},
        {"identity": "b", "duration": 16.0, "width": 600, "height": 600, "attributes": {"ethnicity": "White"}},
        {"duration": None},
    ])  # fmt: skip
    s = compute_stats(datasets.DatasetDict({"train": ds.select([0, 1, 2]), "test": ds.select([3])}))
    assert s["clips"] == 4 and s["identities"] == 2 and s["clips_without_identity"] == 1
    assert s["clips_per_split"] == {"train": 3, "test": 1}
    assert abs(s["hours"] - 40 / 3600) < 1e-3
    assert s["ethnicity"] == {"Asian": 2, "White": 1, "unknown": 1}
    assert s["action"] == {"Talk": 2, "Smile": 1, "unknown": 2}
    assert s["head_pose"]["frontal"] == 1 and s["language"] == {"unknown": 3, "zh": 1}
    assert s["duration_s"]["bins"]["15-20 s"] == 1 and s["duration_s"]["bins"]["20-25 s"] == 1
    assert s["duration_s"]["unknown"] == 1
    assert s["resolution_short_side"]["bins"][">=1080 px"] == 1 and s["share_at_least_1080"] == 0.25
    assert s["share_longer_than_15s"] == 0.5
    assert s["brisque"]["bins"]["10-20"] == 1 and s["brisque"]["unknown"] == 3
    assert "ethnicity: Asian 2 (50.0%, 24.0 s, 60.0% of time)" in format_stats(s)
    assert s["seconds"] == 40.0 and s["hours_by"]["ethnicity"]["White"] == round(16 / 3600, 6)
    assert s["hours_by"]["action"]["Talk"] == round(24 / 3600, 6)  # a multi-label clip counts for each label
    assert s["clips_per_identity"]["bins"] == {"1": 1, "2-5": 1, "6-10": 0, "11-50": 0, "51-100": 0, ">=101": 0}


def test_small_sets_keep_their_hours_and_unknown_panels_are_left_out(tmp_path):
    from facevid_datasets.stats import format_hours, write_plots

    ds = _ds([{"identity": "a", "duration": 3.0, "fps": 25.0, "width": 256, "height": 256},
              {"identity": "a", "duration": 4.5, "fps": 29.97, "width": 256, "height": 256}])  # fmt: skip
    s = compute_stats(ds)
    assert s["hours"] == 7.5 / 3600 and format_hours(s["hours"]) == "7.5 s"
    assert format_hours(1.5 / 60) == "1.5 min" and format_hours(1203.44) == "1,203.4 h"
    assert s["fps"]["bins"]["24.5-25.5"] == 1 and s["fps"]["bins"]["29.5-30.5"] == 1
    assert "video 7.5 s" in format_stats(s)
    names = {p.stem for p in write_plots(s, tmp_path)}
    assert {"duration_s", "fps", "resolution_short_side", "clips_per_identity", "overview"} <= names
    assert not names & {"ethnicity", "emotion", "action", "brisque"}  # nothing known: no panel


def test_stats_cli_on_sample_writes_plots(tmp_path):
    from facevid_datasets.cli import app

    out = tmp_path / "stats"
    res = CliRunner().invoke(app, ["stats", "facevid-1k", "--config", "sample", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "clips" in res.output and "brisque" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert f"DH-FaceVid-1K as published: 270,043 clips; built here: {summary['clips']}" in res.output  # description
    assert summary["clips"] > 0 and summary["hours"] > 0
    for name in ("overview", "ethnicity", "gender", "age_group", "emotion", "action", "head_pose", "language",
                 "duration_s", "fps", "resolution_short_side", "brisque", "clips_per_identity"):  # fmt: skip
        png = out / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
