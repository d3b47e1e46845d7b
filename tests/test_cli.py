"""The `facevid` command line: list, info and the demo (the main job) end to end."""

import json

import cv2
from typer.testing import CliRunner

from facevid_datasets.cli import app

runner = CliRunner()


def test_list_names_every_dataset():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for name in ("facevid-1k", "talkingface-wild", "hdtf", "celebv-hq", "celebv-text", "talkinghead-1kh", "voxceleb2"):
        assert name in result.output
    assert "facevid-1k" in result.output and "available" in result.output


def test_info_shows_licence_configs_and_access():
    result = runner.invoke(app, ["info", "facevid-1k"])
    assert result.exit_code == 0, result.output
    assert "sample" in result.output and "collected" in result.output
    assert "licence" in result.output and "non-commercial" in result.output.lower()


def test_info_unknown_dataset_is_a_clear_error():
    result = runner.invoke(app, ["info", "imagenet"])
    assert result.exit_code != 0
    assert "unknown dataset 'imagenet'" in str(result.exception) + result.output


def test_demo_runs_end_to_end_and_writes_a_contact_sheet_with_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--batches", "2", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["batch_shapes"]["video"].startswith("(3, 16, 3, 128, 128)")
    assert len(summary["delivered_seconds_by_source"]) >= 2
    shares = [float(v.split("%")[0]) for v in summary["equal_mode_epoch_plan"].values()]
    assert len(shares) == 3 and max(shares) - min(shares) < 2  # 1:1:1 by seconds delivered
    sheet = cv2.imread(summary["contact_sheet"])
    assert sheet is not None and sheet.shape[0] > 200
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(cv2.cvtColor(sheet, cv2.COLOR_BGR2GRAY), 1.1, 3, minSize=(30, 30))
    assert len(faces) >= 4, "the contact sheet should show faces"


def test_training_copies_command_saves_a_dataset_of_short_gop_copies(tmp_path, monkeypatch):
    import datasets

    from facevid_datasets import FEATURES as fd_features
    from facevid_datasets.media import keyframe_indices

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "copies"
    result = runner.invoke(
        app, ["training-copies", "facevid-1k", "--config", "sample", "--split", "test", "--out", str(out),
              "--short-side", "128", "--gop", "8"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ds = datasets.Dataset.from_parquet(str(out / "records.parquet"))
    assert ds.features == fd_features
    assert ds.num_rows == 2
    for rec in ds:
        assert rec["video"]["path"].startswith(str(out / "clips"))
        assert min(rec["width"], rec["height"]) == 128
        keys = keyframe_indices(rec["video"]["path"])
        assert len(keys) > 1 and max(keys[1:] - keys[:-1]) <= 8


def test_entry_point_reports_errors_in_one_line(monkeypatch, capsys):
    import pytest

    from facevid_datasets.cli import main

    monkeypatch.setattr("sys.argv", ["facevid", "info", "imagenet"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("facevid: error: unknown dataset 'imagenet'") and "Traceback" not in err


def test_lazy_commands_show_their_own_help():
    for cmd, option in (("training-copies", "--short-side"), ("stats", "--config"), ("export", "--out")):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0, result.output
        assert option in result.output
