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
    assert len(summary["sampled_seconds_by_source"]) >= 2
    sheet = cv2.imread(summary["contact_sheet"])
    assert sheet is not None and sheet.shape[0] > 200
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(cv2.cvtColor(sheet, cv2.COLOR_BGR2GRAY), 1.1, 3, minSize=(30, 30))
    assert len(faces) >= 4, "the contact sheet should show faces"
