"""WebDataset and LitData exports: readable by their own libraries, and streamed back as records."""

import json

import pytest

import facevid_datasets as fvd
from facevid_datasets.hub.stream_formats import (
    record_of,
    sample_key,
    stream_records,
    write_litdata,
    write_webdataset_shards,
)


@pytest.fixture(scope="module")
def sample_train(tmp_path_factory):
    ds = fvd.load_dataset("facevid-1k", "sample", split="train", cache_dir=str(tmp_path_factory.mktemp("cache")))
    return ds.select(range(8))


def test_keys_are_webdataset_safe_and_unique():
    taken: set[str] = set()
    assert sample_key("id00017/_mjZ87sK6cA/00001", taken) == "id00017__mjZ87sK6cA_00001"
    assert sample_key("a.b", taken) == "a_b" and sample_key("a_b", taken) == "a_b_1"


def test_webdataset_export_reads_with_webdataset_and_streams_back(sample_train, tmp_path):
    import webdataset as wds

    shards = write_webdataset_shards(sample_train, tmp_path, "train", num_shards=4, progress=False)
    paths = [s.path for s in shards]
    assert len(paths) == 4 and sorted(i for s in shards for i in s.ids) == sorted(sample_train["clip_id"])
    seen = {}
    for s in wds.WebDataset([str(p) for p in paths], shardshuffle=False, empty_check=False):
        fields = json.loads(s["json"])
        seen[fields["clip_id"]] = len(s["mp4"])
    ids = sample_train["clip_id"]
    assert sorted(seen) == sorted(ids) and all(n > 1000 for n in seen.values())

    stream = stream_records(tmp_path, "webdataset", "train")
    assert stream.n_shards == 4
    recs = list(stream)
    assert sorted(r["clip_id"] for r in recs) == sorted(ids)
    first = next(r for r in recs if r["clip_id"] == ids[0])
    assert first["video"]["bytes"][4:8] == b"ftyp" and first["fps"] == pytest.approx(sample_train[0]["fps"])
    assert first["keypoints"]["format"] == sample_train[0]["keypoints"]["format"]

    plans = list(fvd.StreamingClipDataset(stream, frames=4, num_samples=len(ids) * 4, seed=1))
    assert {p.clip_id for p in plans} <= set(ids) and len(plans) == len(ids) * 4
    assert all(isinstance(p.video, bytes) for p in plans)


def test_litdata_export_reads_with_litdata_and_streams_back(sample_train, tmp_path):
    import litdata

    shards = write_litdata(sample_train, tmp_path, "train", num_shards=3, progress=False)
    folder = tmp_path / "train"
    assert len(shards) == 3 and all(s.path.parent == folder and s.path.is_file() for s in shards)
    assert [i for s in shards for i in s.ids] == sample_train["clip_id"]  # each chunk's ids, in order
    ld = litdata.StreamingDataset(str(folder))
    assert len(ld) == len(sample_train)
    assert sorted(json.loads(ld[i]["json"])["clip_id"] for i in range(len(ld))) == sorted(sample_train["clip_id"])
    stream = stream_records(tmp_path, "litdata", "train")
    assert stream.n_shards > 1  # one shard per chunk
    recs = list(stream)
    assert sorted(r["clip_id"] for r in recs) == sorted(sample_train["clip_id"])
    assert all(r["video"]["bytes"][4:8] == b"ftyp" for r in recs)


def test_record_of_reads_all_sample_shapes():
    rec = record_of({"__key__": "a_1", "mp4": b"xx", "json": b'{"clip_id": "a.1", "video_ext": "mp4"}'})
    assert rec["clip_id"] == "a.1" and rec["video"] == {"bytes": b"xx", "path": "a_1.mp4"} and rec["audio"] is None
    rec = record_of({"key": "a.1", "video": b"v", "audio": b"w",
                     "json": json.dumps({"clip_id": "a.1", "video_ext": "mp4", "audio_ext": "wav"})})
    assert rec["audio"] == {"bytes": b"w", "path": "a.1.wav"}


@pytest.mark.parametrize("fmt", ["webdataset", "litdata"])
def test_cli_export_streaming_formats(tmp_path, fmt):
    from typer.testing import CliRunner

    from facevid_datasets.cli import app

    out = tmp_path / "export"
    res = CliRunner().invoke(app, ["export", "facevid-1k", "--config", "sample", "--out", str(out), "--format", fmt,
                                   "--cache-dir", str(tmp_path / "cache"), "--num-shards", "3"])
    assert res.exit_code == 0, res.output
    recs = list(stream_records(out / fmt / "sample", fmt, "train"))
    assert len(recs) == 28 and all(r["video"]["bytes"][4:8] == b"ftyp" for r in recs)
    if fmt == "webdataset":  # the card's configs: let plain datasets.load_dataset read the tars
        import datasets

        ds = datasets.load_dataset(str(out), split="train", streaming=True)
        row = next(iter(ds))
        assert set(row) >= {"__key__", "mp4", "json"} and row["json"]["clip_id"]
