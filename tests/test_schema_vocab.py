"""The record schema and the label vocabularies."""

import json

import datasets
import pytest

from facevid_datasets import FEATURES, vocab
from facevid_datasets.schema import empty_record, original_json, validate_record


def full_record() -> dict:
    rec = empty_record()
    rec.update(
        clip_id="000680", dataset="facevid-1k", source="facevid-1k", identity="p1",
        video={"path": "/data/000680.mp4", "bytes": None}, audio_source="video", fps=25.0, num_frames=2,
        duration=0.08, width=512, height=512, caption="A woman talks.", language="en", split="train",
        keypoints={"format": "ibug68", "points": [[[1.0, 2.0, 0.9]] * 68] * 2},
        head_pose={"label": "frontal", "yaw": [0.0, 1.0], "pitch": [0.0, 0.0], "roll": [0.0, 0.0]},
        original=original_json({"é": [1, 2], "nested": {"a": None}}),
    )  # fmt: skip
    rec["attributes"].update(ethnicity="Asian", appearance=["Male", "uncharted label"])
    rec["quality"].update(brisque=20.5, sync_confidence=7.1, sync_offset=-1, face_size=300.0)
    return rec


def test_features_cover_the_issue_fields():
    required = {
        "clip_id", "source", "identity", "video", "audio", "fps", "num_frames", "duration", "width", "height",
        "keypoints", "head_pose", "caption", "attributes", "language", "quality", "split", "original",
    }  # fmt: skip
    assert required <= set(FEATURES)
    assert set(FEATURES["attributes"]) == {
        "ethnicity", "gender", "age_group", "appearance", "emotion", "action", "light", "environment"
    }  # fmt: skip
    assert set(FEATURES["quality"]) == {"brisque", "sync_confidence", "sync_offset", "face_size"}
    assert FEATURES["video"].decode is False


def test_record_round_trips_through_arrow():
    rec = full_record()
    assert validate_record(rec) == []
    ds = datasets.Dataset.from_list([rec, empty_record() | {"clip_id": "x"}], features=FEATURES)
    back = ds[0]
    assert back["keypoints"]["points"][1][67] == pytest.approx([1.0, 2.0, 0.9])
    assert back["attributes"]["appearance"] == ["Male", "uncharted label"]
    assert json.loads(back["original"]) == {"é": [1, 2], "nested": {"a": None}}
    assert back["video"] == {"path": "/data/000680.mp4", "bytes": None}
    # Absent audio is explicit: no audio struct and audio_source "none", not an empty array.
    assert ds[1]["audio"] is None and ds[1]["audio_source"] == "none"


def test_validate_record_finds_problems():
    rec = full_record()
    rec["audio_source"] = "file"
    rec["num_frames"] = 3
    rec["split"] = "dev"
    problems = " | ".join(validate_record(rec))
    assert "audio is null" in problems and "keypoints cover 2 frames" in problems and "split 'dev'" in problems


def test_vocabulary_sizes_match_table_5():
    sizes = {k: len(v) for k, v in vocab.VOCABULARIES.items()}
    assert sizes == {"ethnicity": 13, "appearance": 72, "light": 8, "action": 44, "emotion": 8, "age_group": 4,
                     "gender": 2, "head_pose": 6}  # fmt: skip
    for values in vocab.VOCABULARIES.values():
        assert len(set(values)) == len(values)


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        ("emotion", "sadness", "Sad"), ("emotion", "anger", "Angry"), ("emotion", "HAPPY", "Happy"),
        ("appearance", "arched_eyebrows", "Anchored eyebrow"), ("appearance", "wearing_lipstick", "Lipsticks"),
        ("appearance", "gray_hair", "White hair"), ("appearance", "no_beard", "No beard"),
        ("action", "head_wagging", "Wag Head"), ("action", "listen_to_music", "Listen To Music"),
        ("action", "talk", "Talk"), ("ethnicity", "caucasian", "White"), ("age_group", "Middle Aged", "middle-aged"),
        ("gender", "Woman", "female"), ("head_pose", "profile-left", "profile_left"),
    ],
)  # fmt: skip
def test_known_labels_map(kind, raw, canonical):
    assert vocab.map_label(kind, raw) == canonical


def test_every_celebv_hq_label_is_mapped_or_kept():
    for kind, names in (("appearance", vocab.CELEBV_HQ_APPEARANCE), ("action", vocab.CELEBV_HQ_ACTION),
                        ("emotion", vocab.CELEBV_HQ_EMOTION)):  # fmt: skip
        mapped = [vocab.map_label(kind, n) for n in names]
        assert all(m for m in mapped), "no label may be dropped"
        for raw, m in zip(names, mapped, strict=True):
            assert vocab.is_canonical(kind, m) or m == raw
    assert all(vocab.is_canonical("emotion", vocab.map_label("emotion", e)) for e in vocab.CELEBV_HQ_EMOTION)


def test_unknown_labels_are_kept_not_dropped():
    assert vocab.map_label("action", "  juggle ") == "juggle"
    assert vocab.map_labels("appearance", ["bald", "mystery", "Bald"]) == ["Bald", "mystery"]
    assert vocab.map_label("emotion", None) is None and vocab.map_label("emotion", "  ") is None
    with pytest.raises(KeyError, match="unknown vocabulary"):
        vocab.map_label("colour", "red")


def test_multi_hot_decoding_checks_length():
    assert vocab.decode_multi_hot([0, 1, 1], ["a", "b", "c"]) == ["b", "c"]
    with pytest.raises(ValueError, match="3 entries but the mapping has 2"):
        vocab.decode_multi_hot([0, 1, 1], ["a", "b"])
