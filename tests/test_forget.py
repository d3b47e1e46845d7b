"""`facevid forget`: a deletion request reaches the build cache, probe cache, curation, training copies,
exports and reports; the audit log says what was done; `--check` finds what is left."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import facevid_datasets as fd
from facevid_datasets.licence.forget import forget
from facevid_datasets.testing import make_index_video

SAMPLE = Path(fd.__file__).parent / "sample_data"
BY_CLIP = "000701"  # a collected clip, listed by its clip id
BY_VIDEO = "HyPyUy99Qjc"  # a CelebV source video: covers HyPyUy99Qjc_1 and the added HyPyUy99Qjc_2
GONE = {"000701", "HyPyUy99Qjc_1", "HyPyUy99Qjc_2"}
TO_CURATE = ("000701", "HyPyUy99Qjc_1", "000687")
TO_COPY = ("000701", "HyPyUy99Qjc_2", "000687", "000694")


def _release(root: Path) -> Path:
    """The embedded sample as a writable release, plus a second clip of one CelebV source video."""
    shutil.copytree(SAMPLE, root)
    make_index_video(root / "videos" / "public" / "HyPyUy99Qjc_2.mp4", num_frames=12, fps=25, size=(64, 64))
    row = {"clip_id": "HyPyUy99Qjc_2", "source": "celebv-hq", "identity": "eileen-collins", "split": "train"}
    with open(root / "metadata.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return root


def _table_ids(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return pq.read_table(path, columns=["clip_id"]).column("clip_id").to_pylist()
    with pa.memory_map(str(path)) as src:
        return pa.ipc.open_stream(src).read_all().column("clip_id").to_pylist()


def _traces(folders: list[Path], ids: set[str], media: dict[str, bytes], skip: set[Path]) -> list[str]:
    """Every file under `folders` that names a forgotten id or holds a forgotten video's bytes."""
    alternatives = b"|".join(re.escape(i.encode()) for i in ids)
    pattern = re.compile(rb"(?<![0-9A-Za-z_.-])(" + alternatives + rb")(?![0-9A-Za-z_-])")
    found = []
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if not p.is_file() or p.resolve() in skip:
                continue
            if any(i in p.name for i in ids):
                found.append(f"{p}: named after a forgotten clip")
            data = p.read_bytes()
            m = pattern.search(data)
            if m:
                found.append(f"{p}: mentions {m.group(1).decode()}")
            for cid, blob in media.items():
                if blob in data:
                    found.append(f"{p}: holds the video bytes of {cid}")
            if p.suffix in (".parquet", ".arrow"):  # compressed pages need reading, not a byte search
                try:
                    left = set(_table_ids(p)) & ids
                except (pa.ArrowInvalid, KeyError):
                    left = set()
                if left:
                    found.append(f"{p}: rows of {sorted(left)}")
    return found


def _export_streams(tmp: Path) -> dict[str, dict[str, bytes]]:
    """clip id -> video bytes of the WebDataset and LitData exports, read with `webdataset` and `litdata`."""
    import litdata
    import webdataset as wds

    out: dict[str, dict[str, bytes]] = {"webdataset": {}, "litdata": {}}
    tars = sorted(str(p) for p in (tmp / "webdataset").rglob("*.tar"))
    for s in wds.WebDataset(tars, shardshuffle=False, empty_check=False):
        out["webdataset"][json.loads(s["json"])["clip_id"]] = s["mp4"]
    for index in sorted((tmp / "litdata").rglob("index.json")):
        if json.loads(index.read_text())["chunks"]:
            ld = litdata.StreamingDataset(str(index.parent))
            for i in range(len(ld)):
                out["litdata"][json.loads(ld[i]["json"])["clip_id"]] = ld[i]["video"]
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Build, curate, copy and export a small release, load the export with plain `datasets` too."""
    from facevid_datasets.curation import Thresholds, curate
    from facevid_datasets.hub.export import export_dataset
    from facevid_datasets.training import training_copies

    tmp = tmp_path_factory.mktemp("forget")
    root = _release(tmp / "release")
    cache = tmp / "cache"
    dsd = fd.load_dataset("facevid-1k", "all", data_dir=str(root), cache_dir=str(cache))
    records = {r["clip_id"]: r for split in dsd.values() for r in split}
    assert GONE <= set(records)
    lenient = Thresholds(min_resolution=64, min_face_size=32, max_brisque=100.0, max_subtitle_chars=1000,
                         sync_min_confidence=-1.0, sync_max_offset=100)  # fmt: skip
    curated = curate([records[c] for c in TO_CURATE], tmp / "curated", thresholds=lenient, workers=1, progress=False)
    copies = training_copies([records[c] for c in TO_COPY], tmp / "copies" / "clips", short_side=64, num_threads=1)
    datasets.Dataset.from_list(copies, features=fd.FEATURES).to_parquet(str(tmp / "copies" / "records.parquet"))
    export_dataset("facevid-1k", tmp / "export", config="all", data_dir=str(root), cache_dir=str(cache),
                   max_shard_size=400_000)  # fmt: skip
    for fmt in ("webdataset", "litdata"):  # reached through the ledger only: not named in extra_dirs below
        export_dataset("facevid-1k", tmp / fmt, config="all", data_dir=str(root), cache_dir=str(cache), fmt=fmt,
                       progress=False)  # fmt: skip
    plain = datasets.load_dataset(str(tmp / "export"), cache_dir=str(cache))
    assert GONE <= {r for s in plain.values() for r in s["clip_id"]}
    tars = datasets.load_dataset(str(tmp / "webdataset"), cache_dir=str(cache))  # its Arrow cache: json structs
    assert GONE <= {r["clip_id"] for s in tars.values() for r in s["json"]}
    media = {c: Path(records[c]["video"]["path"]).read_bytes() for c in GONE}
    before = {
        "curated": {r["clip_id"] for r in pq.read_table(curated.out / "decisions.parquet").to_pylist()},
        "kept": [json.loads(line)["clip_id"] for line in (curated.out / "records.jsonl").read_text().splitlines()],
        "copies": sorted(p.name for p in (tmp / "copies" / "clips").iterdir()),
    }
    ids = tmp / "request.txt"
    ids.write_text(f"# deletion request 2026-11-24\r\n{BY_CLIP}\r\n\r\n{BY_VIDEO}   # the whole video\r\n")
    check_before = forget("facevid-1k", ids, cache_dir=cache, extra_dirs=[tmp / "curated", tmp / "copies",
                          tmp / "export"], check=True)  # fmt: skip
    result = forget("facevid-1k", ids, cache_dir=cache, extra_dirs=[tmp / "curated", tmp / "copies", tmp / "export"])
    return {"tmp": tmp, "root": root, "cache": cache, "ids": ids, "records": records, "media": media,
            "before": before, "result": result, "check_before": check_before}  # fmt: skip


def test_no_trace_left_in_any_artifact(world):
    tmp, res = world["tmp"], world["result"]
    assert world["before"]["kept"], "the lenient curation keeps clips, so kept records and keypoints exist"
    assert BY_CLIP in world["before"]["kept"]
    from facevid_datasets.licence.deletions import forgotten_list

    remembered = forgotten_list(world["cache"], "facevid-1k")  # the ids themselves, so rebuilds withhold them
    skip = {res.audit_log.resolve(), world["ids"].resolve(), remembered.resolve()}
    folders = [world["cache"], tmp / "curated", tmp / "copies", tmp / "export", tmp / "webdataset", tmp / "litdata"]
    assert _traces(folders, GONE, world["media"], skip) == []
    kinds = {c.kind for c in res.changes}
    assert {"arrow", "parquet", "webdataset", "litdata", "jsonl", "sqlite", "file"} <= kinds, res.summary()
    assert not res.problems and not res.unchecked, res.summary()


def test_every_other_clip_is_intact(world):
    tmp, records = world["tmp"], world["records"]
    others = set(records) - GONE
    again = fd.load_dataset("facevid-1k", "all", data_dir=str(world["root"]), cache_dir=str(world["cache"]))
    got = {r["clip_id"]: r for s in again.values() for r in s}
    assert set(got) == others  # read from the rewritten cache, not rebuilt
    for cid in others:
        assert got[cid] == records[cid], cid
    plain = datasets.load_dataset(str(tmp / "export"), cache_dir=str(tmp / "fresh"))  # the export still loads
    rows = {r["clip_id"]: r for s in plain.values() for r in s}
    assert set(rows) == others
    for cid in ("000687", "Qn53p3hr9qD_2"):
        assert rows[cid]["video"]["bytes"] == Path(records[cid]["video"]["path"]).read_bytes()
    old = datasets.load_dataset(str(tmp / "export"), cache_dir=str(world["cache"]))  # the rewritten plain cache
    assert {r for s in old.values() for r in s["clip_id"]} == others
    decisions = {r["clip_id"] for r in pq.read_table(tmp / "curated" / "decisions.parquet").to_pylist()}
    assert decisions == world["before"]["curated"] - GONE == {"000687"}
    copies = sorted(p.name for p in (tmp / "copies" / "clips").iterdir())
    assert copies == [n for n in world["before"]["copies"] if n.split("-")[0] not in GONE]
    assert sum(n.endswith(".mp4") for n in copies) == 2  # each kept copy with its done marker
    left = datasets.Dataset.from_parquet(str(tmp / "copies" / "records.parquet"), cache_dir=str(tmp / "c3"))
    assert sorted(left["clip_id"]) == ["000687", "000694"]
    assert all(Path(p["path"]).is_file() for p in left["video"])
    tars = datasets.load_dataset(str(tmp / "webdataset"), cache_dir=str(world["cache"]))  # the rewritten cache
    assert {r["clip_id"] for s in tars.values() for r in s["json"]} == others
    stream = _export_streams(tmp)
    assert set(stream["webdataset"]) == set(stream["litdata"]) == others  # read back with their own libraries
    for fmt in stream:
        for cid in ("000687", "Qn53p3hr9qD_2"):
            assert stream[fmt][cid] == Path(records[cid]["video"]["path"]).read_bytes(), (fmt, cid)
    with sqlite3.connect(world["cache"] / "facevid_probe_cache.sqlite") as con:
        stems = {Path(p).stem for (p,) in con.execute("SELECT path FROM probe")}
    assert stems and not stems & GONE
    assert (world["root"] / "videos" / "collected" / "000701.mp4").is_file()  # the release is not touched


def test_later_builds_with_this_cache_withhold_the_forgotten_ids(world):
    from facevid_datasets.licence.deletions import builder_deletions
    from facevid_datasets.loading import load_builder

    builder = load_builder("facevid-1k", "all", data_dir=str(world["root"]), cache_dir=str(world["cache"]))
    deletions = builder_deletions(builder)
    assert all(deletions.covers(c) for c in GONE) and not deletions.covers("000687")
    assert list(deletions.ids) == [BY_CLIP, BY_VIDEO]
    other = load_builder("facevid-1k", "all", data_dir=str(world["root"]), cache_dir=str(world["tmp"] / "other"))
    assert not builder_deletions(other)  # a list of the cache it was forgotten from, not a global one


def test_audit_log_one_line_per_listed_id(world):
    res = world["result"]
    lines = [json.loads(x) for x in res.audit_log.read_text().splitlines()]
    assert [e["id"] for e in lines] == [BY_CLIP, BY_VIDEO]
    by = {e["id"]: e for e in lines}
    assert by[BY_CLIP]["matched"] == "clip" and by[BY_CLIP]["clips"] == [BY_CLIP]
    assert by[BY_VIDEO]["matched"] == "source video" and by[BY_VIDEO]["clips"] == ["HyPyUy99Qjc_1", "HyPyUy99Qjc_2"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", lines[0]["time"])
    for e in lines:
        assert e["files"] and e["list"].startswith(str(world["ids"]))
        for f in e["files"]:
            assert set(f) == {"path", "action", "size_before", "size_after", "rows"}
            assert f["action"] in ("removed", "rewritten") and f["size_before"] > 0
            assert (f["size_after"] == 0) == (f["action"] == "removed")
    text = res.audit_log.read_text()
    assert "bytes" not in text and "caption" not in text  # paths and sizes, never content


def test_check_before_and_after(world):
    before, res = world["check_before"], world["result"]
    assert before.present and {c.path for c in before.present} == {
        c.path for c in res.changes if c.action in ("removed", "rewritten") and c.kind != "arrow"
        or (c.kind == "arrow" and not c.path.name.startswith("cache-"))}  # fmt: skip
    tmp = world["tmp"]
    after = forget("facevid-1k", world["ids"], cache_dir=world["cache"],
                   extra_dirs=[tmp / "curated", tmp / "copies", tmp / "export"], check=True)  # fmt: skip
    assert after.present == [] and after.problems == after.unchecked == []


def test_cli_forget_small_formats_and_check_exit_codes(tmp_path):
    """Reports, a Hub download's verification memo, a hash-named Parquet blob, another dataset's rows with
    the same id, stale statistics; `--check` exits 1 while a copy is left, 0 after."""
    from facevid_datasets.cli import app
    from facevid_datasets.schema import empty_record

    cache, other = tmp_path / "cache", tmp_path / "work"
    copy = cache / "facevid_clips" / "facevid_1k" / "all" / "0123456789ab" / "000690.mp4"  # a clip a builder cut
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"\x00" * 10)
    foreign = cache / "another_library" / "000690.mp4"  # the shared cache's other tenants are not ours
    foreign.parent.mkdir()
    foreign.write_bytes(b"\x00")
    foreign_table = cache / "another_library" / "index.parquet"
    pq.write_table(pa.table({"clip_id": ["000690"]}), foreign_table)
    report = cache / "facevid_reports" / "facevid_1k" / "all" / "build_report.tsv"
    report.parent.mkdir(parents=True)
    report.write_text(
        "clip_id\tstatus\treason\tfile\n000690\tmissing\tnot found\tv/000690.mp4\n000691\terror\tbad\tf\n"
    )
    memo = cache / "facevid_hub" / "org--repo" / ".cache" / "facevid" / "verified.json"
    memo.parent.mkdir(parents=True)
    memo.write_text(json.dumps({"videos/000690.mp4": [1, 2, "ab"], "videos/000691.mp4": [1, 2, "cd"]}))
    recs = []
    for ds_name in ("facevid-1k", "hdtf"):
        r = empty_record()
        r.update(clip_id="000690", dataset=ds_name)
        recs.append(r)
    blob = other / "blobs" / "5d41402abc4b2a76b9719d911017c592"
    blob.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(recs, schema=fd.FEATURES.arrow_schema), blob)
    (other / "stats").mkdir()
    (other / "stats" / "summary.json").write_text(json.dumps({"clips": 30, "hours": 0.1}))
    (other / "stats" / "overview.png").write_bytes(b"png")
    outside = tmp_path / "elsewhere" / "000690.mp4"
    outside.parent.mkdir()
    outside.write_bytes(b"\x00")
    (other / "000690.mp4").symlink_to(outside)  # e.g. a folder of links handed to `facevid curate`
    hdtf_clip = cache / "facevid_clips" / "hdtf" / "default" / "k" / "000690.mp4"  # another builder's clip
    hdtf_clip.parent.mkdir(parents=True)
    hdtf_clip.write_bytes(b"\x00")
    ids = tmp_path / "ids.txt"
    ids.write_text("000690\nnot an id!\n")
    args = ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(cache), "--also", str(other)]
    res = CliRunner().invoke(app, [*args, "--check"])
    assert res.exit_code == 1 and str(copy) in res.output and f"{ids}:2" in res.output
    assert copy.exists() and "000690" in report.read_text()
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert not copy.exists() and "audit log" in res.output and "stale" in res.output
    assert [line.split("\t")[0] for line in report.read_text().splitlines()] == ["clip_id", "000691"]
    assert list(json.loads(memo.read_text())) == ["videos/000691.mp4"]
    assert pq.read_table(blob).column("dataset").to_pylist() == ["hdtf"]  # another dataset's clip is not this one
    assert not (other / "000690.mp4").is_symlink() and outside.is_file() and hdtf_clip.is_file()
    assert foreign.is_file() and pq.read_table(foreign_table).num_rows == 1
    res = CliRunner().invoke(app, [*args, "--check"])
    assert res.exit_code == 0, res.output
    bad = CliRunner().invoke(app, ["forget", "facevid-1k", "--ids", str(ids), "--delete-source"])
    assert bad.exit_code != 0 and "--root" in bad.output


def test_cli_forget_applies_the_hub_list(tmp_path, monkeypatch):
    """The gated repo's deletions.txt: fetched into the cache; offline, an earlier copy serves, else a clear error."""
    from huggingface_hub import constants

    from facevid_datasets.cli import main

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path / "cache"
    copy = cache / "facevid_clips" / "facevid_1k" / "all" / "k" / "000690.mp4"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"\x00")
    args = ["facevid", "forget", "facevid-1k", "--repo-id", "org/DH-FaceVid-1K", "--cache-dir", str(cache)]
    monkeypatch.setattr("sys.argv", args)
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 1 and copy.exists()
    hub_copy = cache / "facevid_hub" / "org--DH-FaceVid-1K" / "deletions.txt"
    hub_copy.parent.mkdir(parents=True, exist_ok=True)
    hub_copy.write_text("000690\n")
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code in (0, None) and not copy.exists() and hub_copy.is_file()


def test_delete_source_rewrites_release_and_keeps_shared_files(tmp_path):
    root = tmp_path / "rel"
    (root / "videos").mkdir(parents=True)
    (root / "keypoints").mkdir()
    for cid in ("000700", "000701"):
        make_index_video(root / "videos" / f"{cid}.mp4", num_frames=5, fps=25, size=(32, 32), audio=False)
        np.save(root / "keypoints" / f"{cid}.npy", np.zeros((5, 68, 3), np.float32))
    make_index_video(root / "videos" / "shared.mp4", num_frames=5, fps=25, size=(32, 32), audio=False)
    rows = [
        {"clip_id": "000700"},
        {"clip_id": "000701"},
        {"clip_id": "000702", "video": "videos/shared.mp4"},
        {"clip_id": "000703", "video": "videos/shared.mp4"},
    ]
    (root / "metadata.csv").write_text("clip_id,video\n" + "".join(f"{r['clip_id']},{r.get('video', '')}\n"
                                                                   for r in rows))  # fmt: skip
    cache = tmp_path / "cache"
    cache.mkdir()
    fenced = forget("facevid-1k", ["000700"], cache_dir=cache, release_root=root)
    assert fenced.changes == [] and (root / "videos" / "000700.mp4").is_file()  # no delete_source: untouched
    res = forget("facevid-1k", ["000700", "000702"], cache_dir=cache, delete_source=True, release_root=root)
    assert not (root / "videos" / "000700.mp4").exists() and not (root / "keypoints" / "000700.npy").exists()
    assert (root / "videos" / "shared.mp4").is_file()  # 000703 still uses it
    assert (root / "videos" / "000701.mp4").is_file() and (root / "keypoints" / "000701.npy").is_file()
    text = (root / "metadata.csv").read_text()
    assert "000700" not in text and "000702" not in text and "000703" in text
    assert any(c.path.name == "metadata.csv" and c.rows == 2 for c in res.changes)
    ds = fd.load_dataset("facevid-1k", "all", data_dir=str(root), cache_dir=str(tmp_path / "c2"))
    assert sorted(r for s in ds.values() for r in s["clip_id"]) == ["000701", "000703"]
    forget("facevid-1k", ["shared"], cache_dir=cache, delete_source=True, release_root=root)  # a file's stem: its clips
    assert not (root / "videos" / "shared.mp4").exists() and "000703" not in (root / "metadata.csv").read_text()


def test_sharded_cache_and_derived_caches(tmp_path):
    """A multi-shard Arrow cache keeps loading after rows leave one shard; map/filter caches are dropped."""
    from facevid_datasets.schema import empty_record

    recs = []
    for i in range(6):
        r = empty_record()
        r.update(clip_id=f"{i:06d}", dataset="facevid-1k", split="train", video={"path": f"/x/{i:06d}.mp4",
                 "bytes": None})  # fmt: skip
        recs.append(r)
    cache = tmp_path / "cache"
    folder = cache / "facevid_1k" / "all" / "0.0.0" / "abc"
    folder.mkdir(parents=True)
    ds = datasets.Dataset.from_list(recs, features=fd.FEATURES)
    lengths = [3, 3]
    for i, n in enumerate(lengths):
        part = ds.select(range(3 * i, 3 * i + n))
        with pa.OSFile(str(folder / f"facevid_1k-train-{i:05d}-of-00002.arrow"), "wb") as sink:
            table = part.with_format("arrow")[:]
            with pa.ipc.new_stream(sink, table.schema) as w:
                w.write_table(table)
    info = datasets.DatasetInfo(features=fd.FEATURES, dataset_name="facevid_1k", config_name="all")
    split = datasets.SplitInfo(
        "train", num_bytes=1000, num_examples=6, shard_lengths=lengths, dataset_name="facevid_1k"
    )
    info.splits = datasets.SplitDict({"train": split})
    info.write_to_directory(str(folder))
    (folder / "cache-0123456789abcdef.arrow").write_bytes(b"stale indices")
    res = forget("facevid-1k", ["000004"], cache_dir=cache)
    assert any(c.path.name.startswith("cache-") and c.action == "removed" for c in res.changes)
    meta = json.loads((folder / "dataset_info.json").read_text())["splits"]["train"]
    assert meta["num_examples"] == 5 and meta["shard_lengths"] == [3, 2]
    info2 = datasets.DatasetInfo.from_directory(str(folder))
    reader = datasets.arrow_reader.ArrowReader(str(folder), info2)
    got = datasets.Dataset(**reader.read("facevid_1k", "train", list(info2.splits.values())))
    assert got["clip_id"] == ["000000", "000001", "000002", "000003", "000005"]
    forget("facevid-1k", list(got["clip_id"]), cache_dir=cache)  # nothing left: the cache goes, a load rebuilds
    assert not any(folder.iterdir())


def test_unreadable_table_is_reported_and_check_fails(tmp_path):
    from facevid_datasets.cli import app

    work = tmp_path / "work"
    work.mkdir()
    (work / "records.parquet").write_bytes(b"PAR1 truncated by a killed job")
    res = forget("facevid-1k", ["000690"], cache_dir=tmp_path / "cache", extra_dirs=[work], check=True)
    assert res.present == [] and len(res.unchecked) == 1 and "records.parquet" in res.unchecked[0]
    args = ["forget", "facevid-1k", "--cache-dir", str(tmp_path / "cache"), "--also", str(work), "--check"]
    ids = tmp_path / "ids.txt"
    ids.write_text("000690\n")
    out = CliRunner().invoke(app, [*args, "--ids", str(ids)])
    assert out.exit_code == 1 and "unchecked" in out.output


def test_copies_made_before_the_ledger_are_found_by_content(tmp_path):
    """WebDataset and LitData exports named only with --also (no ledger line): found by the clip ids their
    samples hold, not by file names (a tar whose keys are not the clip ids), rewritten, and `--check` agrees."""
    import tarfile

    import webdataset as wds

    from facevid_datasets.cli import app
    from facevid_datasets.hub.export import export_dataset
    from facevid_datasets.licence.ledger import ledger_path

    root = tmp_path / "rel"
    for n, cid in enumerate(("000700", "000701", "000702")):  # different lengths: different bytes
        make_index_video(root / "videos" / f"{cid}.mp4", num_frames=5 + n, fps=25, size=(32, 32), audio=False)
    (root / "metadata.jsonl").write_text("".join(json.dumps({"clip_id": c, "split": "train"}) + "\n"
                                                 for c in ("000700", "000701", "000702")))  # fmt: skip
    cache = tmp_path / "cache"
    for fmt in ("webdataset", "litdata"):
        export_dataset("facevid-1k", tmp_path / fmt, config="all", data_dir=str(root), cache_dir=str(cache), fmt=fmt,
                       progress=False)  # fmt: skip
    renamed = tmp_path / "webdataset" / "renamed.tar"  # keys that say nothing about the clip
    with tarfile.open(renamed, "w") as tar:
        for n, cid in enumerate(("000701", "000702")):
            for ext, data in (("mp4", (root / "videos" / f"{cid}.mp4").read_bytes()),
                              ("json", json.dumps({"clip_id": cid, "dataset": "facevid-1k"}).encode())):  # fmt: skip
                info = tarfile.TarInfo(f"sample{n:04d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    ledger_path(cache).unlink()  # copies made before the ledger: only --also reaches them
    ids = tmp_path / "ids.txt"
    ids.write_text("000701\n")
    args = ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(cache),
            "--also", str(tmp_path / "webdataset"), "--also", str(tmp_path / "litdata")]  # fmt: skip
    before = CliRunner().invoke(app, [*args, "--check"])
    assert before.exit_code == 1, before.output
    assert str(renamed) in before.output and "litdata" in before.output and ".tar" in before.output
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    after = CliRunner().invoke(app, [*args, "--check"])
    assert after.exit_code == 0 and "no copy" in after.output, after.output
    tars = sorted(str(p) for p in (tmp_path / "webdataset").rglob("*.tar"))
    seen = [json.loads(s["json"])["clip_id"] for s in wds.WebDataset(tars, shardshuffle=False, empty_check=False)]
    assert sorted(seen) == ["000700", "000702", "000702"]
    kept = (root / "videos" / "000701.mp4").read_bytes()
    assert not any(kept in Path(t).read_bytes() for t in tars)  # the bytes are gone, not only the index
    streams = _export_streams(tmp_path)
    assert sorted(streams["litdata"]) == ["000700", "000702"]
    assert streams["litdata"]["000702"] == (root / "videos" / "000702.mp4").read_bytes()
