"""Dataset cards: one per supported dataset, valid Hub card metadata with licence, gating and configs."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from facevid_datasets.builders import BUILDERS, builder_class, description
from huggingface_hub import DatasetCard, DatasetCardData

from facevid_datasets.description import SIZE_CATEGORIES

CARDS = Path(str(files("facevid_datasets.dataset_cards")))
# Values accepted by the Hub's YAML validator for these keys (subset this project uses).
TASKS = {"text-to-video", "image-to-video", "video-classification", "audio-classification"}
LICENSES = {"other", "cc-by-4.0", "cc-by-3.0", "mit"}
SECTIONS = ("## Record schema", "## Statistics", "## Collection and cleaning", "## Intended use and restrictions",
            "## Citation")  # fmt: skip


def test_one_card_per_dataset():
    assert {p.stem for p in CARDS.glob("*.md")} == set(BUILDERS)
    assert all(description(n).card_path == CARDS / f"{n}.md" for n in BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_card_metadata(name):
    card = DatasetCard.load(CARDS / f"{name}.md")
    data = card.data
    assert isinstance(data, DatasetCardData)
    again = DatasetCardData(**data.to_dict())  # round-trips through the Hub's own card-data class
    assert again.to_dict() == data.to_dict()
    licences = data.license if isinstance(data.license, list) else [data.license]
    assert set(licences) <= LICENSES
    if "other" in licences:
        assert data.license_name
    desc = description(name)  # the card states the description's facts, never others
    assert data.size_categories == [desc.size_category] and desc.size_category in SIZE_CATEGORIES
    assert desc.gated == ("other" in licences and bool(data.extra_gated_prompt))
    assert data.task_categories and set(data.task_categories) <= TASKS
    assert data.extra_gated_prompt and len(data.extra_gated_prompt) > 100
    fields = data.extra_gated_fields
    assert "checkbox" in fields.values() and any("mail" in k.lower() for k in fields)
    assert any("affiliation" in k.lower() for k in fields) and any("intended use" in k.lower() for k in fields)
    configs = data.configs
    assert configs and all(c["config_name"] and c["data_files"] for c in configs)
    assert sum(bool(c.get("default")) for c in configs) == 1
    cls = builder_class(name) if name in ("facevid-1k", "talkingface-wild") else None
    if cls is not None:
        assert {c["config_name"] for c in configs} == {c.name for c in cls.BUILDER_CONFIGS} - {"sample"}
    for section in SECTIONS:
        assert section in card.text, (name, section)
    assert "```bibtex" in card.text


def test_facevid_card_documents_layout_and_licence_terms():
    card = DatasetCard.load(CARDS / "facevid-1k.md")
    prompt = card.data.extra_gated_prompt
    for term in ("non-commercial", "redistribute", "derivative", "race, age or gender", "20 frames", "delete"):
        assert term in prompt
    assert "application form" in prompt and "institutional e-mail" in prompt
    for fact in ("metadata.jsonl", "keypoints/<clip_id>.npy", "RS127258_segment_049_7350_0", "270,043", "2,048"):
        assert fact in card.text
