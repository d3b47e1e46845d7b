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


def _wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    import wave

    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32000).astype("<i2").tobytes())
    return path


def _separate_audio_release(root: Path) -> bytes:
    """Two clips: `47079` whose audio is only the release's `audio/47079.wav`, `47080` with its own track."""
    from facevid_datasets.testing import beep_audio

    make_index_video(root / "videos" / "47079.mp4", num_frames=25, fps=25, size=(64, 64), audio=False)
    make_index_video(root / "videos" / "47080.mp4", num_frames=25, fps=25, size=(64, 64))
    wav = _wav(root / "audio" / "47079.wav", beep_audio(25, 25, beep_every=1))
    rows = [{"clip_id": "47079", "identity": "p1", "split": "train"},
            {"clip_id": "47080", "identity": "p2", "split": "train"}]  # fmt: skip
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return wav.read_bytes()


@pytest.mark.slow
def test_export_round_trip_with_separate_audio_without_the_release(tmp_path):
    """Every format embeds the separate `audio/<id>.wav`; with the release moved away, plain `datasets`
    (Parquet, WebDataset), `litdata` and the loader (ClipDataset + VideoCollator) all decode it."""
    import litdata
    import torch

    import facevid_datasets as fvd
    from facevid_datasets.hub.stream_formats import stream_records
    from facevid_datasets.training.collate import VideoCollator

    root = tmp_path / "rel"
    wav = _separate_audio_release(root)
    cache = str(tmp_path / "c")
    for fmt in ("parquet", "webdataset", "litdata"):
        export_dataset("facevid-1k", tmp_path / fmt, config="all", data_dir=str(root), cache_dir=cache, fmt=fmt,
                       progress=False)  # fmt: skip
    shutil.move(root, tmp_path / "moved")  # the release is gone: only the exports remain
    shutil.rmtree(tmp_path / "c")  # and the build cache with it

    plain = datasets.load_dataset(str(tmp_path / "parquet"), split="train", cache_dir=str(tmp_path / "c2"))
    row = next(r for r in plain if r["clip_id"] == "47079")
    assert row["audio_source"] == "file" and row["audio"]["bytes"] == wav  # embedded, not a path to the release
    decoded = plain.cast_column("audio", datasets.Audio(sampling_rate=16_000))
    samples = next(r for r in decoded if r["clip_id"] == "47079")["audio"].get_all_samples()
    assert samples.sample_rate == 16_000 and samples.data.shape[-1] == 16_000 and samples.data.abs().max() > 0.3

    wds = datasets.load_dataset(str(tmp_path / "webdataset"), split="train", cache_dir=str(tmp_path / "c3"))
    sample = next(r for r in wds if r["json"]["clip_id"] == "47079")
    assert sample["wav"].get_all_samples().data.abs().max() > 0.3  # plain datasets decodes the tar's wav

    lit = litdata.StreamingDataset(str(tmp_path / "litdata" / "litdata" / "all" / "train"))
    items = {json.loads(lit[i]["json"])["clip_id"]: lit[i] for i in range(len(lit))}
    assert items["47079"]["audio"] == wav and items["47080"]["audio"] == b""  # its audio is in the video

    collator = VideoCollator(size=32, sample_rate=16_000)
    for records in (plain, list(stream_records(tmp_path / "webdataset", "webdataset")),
                    list(stream_records(tmp_path / "litdata" / "litdata" / "all", "litdata"))):  # fmt: skip
        clips = fvd.ClipDataset(records, frames=8, start="first")
        i = [p.clip_id for p in (clips[j] for j in range(len(clips)))].index("47079")
        batch = collator([clips[i]])
        assert batch["errors"] == [] and batch["audio"].shape[0] == 1
        assert batch["audio"].abs().max() > 0.3 and torch.isfinite(batch["audio"]).all()
