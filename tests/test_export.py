"""`facevid export`: Parquet shards + card that plain `datasets.load_dataset(DIR)` reads back unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard
from typer.testing import CliRunner

from facevid_datasets.hub.export import export_dataset, parse_size, shard_count
from facevid_datasets.loading import load_builder
from facevid_datasets.testing import make_index_video


def _release(root: Path) -> None:
    a = make_index_video(root / "videos" / "000680.mp4", num_frames=10, fps=25, size=(64, 64))
    make_index_video(root / "videos" / "Czb5Ml9VDsI_0.mp4", num_frames=8, fps=25, size=(64, 64), audio=False)
    shutil.copy(a, root / "videos" / "000681.mp4")
    (root / "keypoints").mkdir()
    np.save(root / "keypoints" / "000680.npy", np.arange(10 * 68 * 3, dtype=np.float32).reshape(10, 68, 3))
    rows = [
        {"clip_id": "000680", "identity": "p1", "caption": "A man talks.", "split": "test",
         "attributes": {"ethnicity": "Asian", "action": ["Talk", "Nod"]}, "quality": {"brisque": 12.5}},
        {"clip_id": "000681", "identity": "p2", "head_pose": "frontal"},
        {"clip_id": "Czb5Ml9VDsI_0", "source": "CelebV-HQ", "identity": "p3"},
    ]  # fmt: skip
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_parse_size():
    assert parse_size("500MB") == 500 * 10**6 and parse_size("2GiB") == 2 * 2**30 and parse_size(7) == 7
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
    assert shard_count(1000, 10**6, 500 * 10**6) == 16  # small but many rows: enough shards for 16 readers
    assert shard_count(10, 10**6, 500 * 10**6) == 10 and shard_count(3, 10**12, 10**9) == 3
    assert shard_count(8, 10, 500 * 10**6) >= 8  # ranks x workers of a small run each get a shard
    assert shard_count(1000, 10**6, 500 * 10**6, num_shards=4) == 4


def test_export_round_trip(tmp_path):
    root = tmp_path / "rel"
    _release(root)
    res = export_dataset("facevid-1k", tmp_path / "out", config="all", data_dir=str(root),
                         cache_dir=str(tmp_path / "c"), max_shard_size=4000)  # fmt: skip
    assert len(res.shards["train"]) == 2  # two videos of a few kB each, a 4 kB limit: one shard each
    card = DatasetCard.load(res.card)
    (cfg,) = card.data.configs
    assert cfg["config_name"] == "all" and {f["split"] for f in cfg["data_files"]} == {"train", "test"}
    assert card.data.license == "other" and card.data.extra_gated_fields
    assert pq.ParquetFile(res.shards["train"][0]).metadata.num_row_groups >= 1

    builder = load_builder("facevid-1k", "all", data_dir=str(root), cache_dir=str(tmp_path / "c"))
    want = builder.as_dataset()
    got = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "c2"))  # no package code
    assert set(got) == set(want) and got["train"].features == want["train"].features
    for split in want:
        a = {r["clip_id"]: r for r in want[split]}
        b = {r["clip_id"]: r for r in got[split]}
        assert set(a) == set(b)
        for cid, ra in a.items():
            rb = b[cid]
            for k in ra:
                if k in ("video", "audio"):
                    continue
                assert ra[k] == rb[k], (cid, k)
            assert rb["video"]["bytes"] == Path(ra["video"]["path"]).read_bytes()
            assert rb["video"]["path"] == Path(ra["video"]["path"]).name  # no local paths leak
    (kp,) = [r["keypoints"] for r in got["test"]]
    assert np.array(kp["points"]).shape == (10, 68, 3)


def test_cli_export(tmp_path):
    from facevid_datasets.cli import app

    root = tmp_path / "rel"
    _release(root)
    res = CliRunner().invoke(app, ["export", "facevid-1k", "--config", "collected", "--data-dir", str(root),
                                   "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "licence" in res.output and (tmp_path / "o" / "README.md").is_file()
    ds = datasets.load_dataset(str(tmp_path / "o"), cache_dir=str(tmp_path / "c2"))
    assert {r["clip_id"] for s in ds for r in ds[s]} == {"000680", "000681"}
