"""Fault suite of the ledger of copies, `facevid forget` and `facevid export`: one user mistake or
broken state per case, each with the outcome a user should get (one line and exit 1, nothing written
or changed; or the work done with the fault reported).

Cases: an export into the release folder (each format, the folder itself and a folder inside it),
a Hub that refuses the deletion list (plain 403, gated 403, 401), a torn ledger line (reading, a
later append, forget, --check), a recorded copy of a kind forget cannot rewrite (forget and --check),
a WebDataset sample without json, a ledger entry whose file is gone, concurrent writers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facevid_datasets.cli import app
from facevid_datasets.licence.ledger import CopyKind, ledger_path, read_ledger, record_copy
from facevid_datasets.testing import make_index_video

TOKEN = "hf_secretTOKENabcdefghijklmnopqrstuvw"


def _one_line_error(res, *needles: str) -> str:
    """The command failed with exit 1 and one line on stderr that holds every needle; no traceback."""
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# -- export into the release ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rel")
    make_index_video(root / "videos" / "000680.mp4", num_frames=5, fps=25, size=(32, 32), audio=False)
    (root / "metadata.jsonl").write_text(json.dumps({"clip_id": "000680"}) + "\n")
    (root / "README.md").write_text("# the authors' own readme\n")
    return root


@pytest.mark.parametrize("where", ["release", "inside"])
@pytest.mark.parametrize("fmt", ["parquet", "webdataset", "litdata"])
def test_export_into_the_release_is_refused(release, tmp_path, fmt, where):
    before = sorted(p.relative_to(release) for p in release.rglob("*"))
    out = release if where == "release" else release / "exports" / "v1"
    res = CliRunner().invoke(app, ["export", "facevid-1k", "--config", "all", "--data-dir", str(release), "--out",
                                   str(out), "--format", fmt, "--cache-dir", str(tmp_path / "c")])  # fmt: skip
    _one_line_error(res, str(out), "release")
    assert (release / "README.md").read_text() == "# the authors' own readme\n"
    assert sorted(p.relative_to(release) for p in release.rglob("*")) == before  # nothing written there
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.arrow"))  # nor built first


def test_export_api_refuses_a_link_into_the_release(release, tmp_path):
    from facevid_datasets.errors import OutputInsideInput
    from facevid_datasets.hub.export import export_dataset

    link = tmp_path / "looks-elsewhere"
    link.symlink_to(release)
    with pytest.raises(OutputInsideInput, match="release"):
        export_dataset("facevid-1k", link, config="all", data_dir=str(release), cache_dir=str(tmp_path / "c"))
    assert not (release / "data").exists()


# -- a Hub that refuses the deletion list ---------------------------------------------------------


@pytest.fixture
def refusing_hub(monkeypatch, tmp_path):
    """A loopback Hub answering every request with the status and headers set on it."""
    answer = {"status": 403, "headers": {}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _refuse(self, head: bool):
            body = b'{"error": "refused"}'
            self.send_response(answer["status"])
            for k, v in answer["headers"].items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def do_GET(self):
            self._refuse(False)

        def do_HEAD(self):
            self._refuse(True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(tmp_path / "no_stored_tokens"))
    yield answer
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "headers", "says"),
    [
        (403, {}, "not been granted"),
        (403, {"X-Error-Code": "GatedRepo", "X-Error-Message": "not in the authorized list"}, "not been granted"),
        (401, {"X-Error-Code": "GatedRepo"}, "hf auth login"),
    ],
    ids=["plain-403", "gated-403", "gated-401"],
)
def test_forget_explains_a_refused_hub_list(refusing_hub, tmp_path, status, headers, says):
    refusing_hub.update(status=status, headers=headers)
    cache = tmp_path / "cache"
    copy = cache / "facevid_clips" / "facevid_1k" / "all" / "k" / "000690.mp4"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"\x00")
    args = ["forget", "facevid-1k", "--repo-id", "org/DH-FaceVid-1K", "--cache-dir", str(cache)]
    res = CliRunner().invoke(app, args, env={"HF_TOKEN": TOKEN} if status == 403 else {})
    line = _one_line_error(res, "refused access", "org/DH-FaceVid-1K", says)
    assert "unreachable" not in line and TOKEN not in res.output
    assert copy.exists()  # nothing was done on an unchecked list


# -- a torn ledger ---------------------------------------------------------------------------------


def _torn_ledger(cache: Path, first: Path, second: Path) -> Path:
    """One good line, a line cut by a kill mid-append, then a later writer's good line."""
    record_copy(CopyKind.CUT_CLIP, first, ["000701"], cache_dir=cache)
    path = ledger_path(cache)
    with open(path, "ab") as f:
        f.write(b'{"kind": "cut-clip", "path": "/x/000702.mp4", "ids": ["0007')  # no newline: killed here
    record_copy(CopyKind.CUT_CLIP, second, ["000703"], cache_dir=cache)
    return path


def test_a_torn_line_hides_nothing_after_it(tmp_path):
    cache = tmp_path / "cache"
    path = _torn_ledger(cache, tmp_path / "a.mp4", tmp_path / "b.mp4")
    ledger = read_ledger(cache)
    assert [e.ids for e in ledger.entries] == [("000701",), ("000703",)] and ledger.torn == [2]
    assert path.read_bytes().endswith(b"\n")


def test_forget_with_a_torn_ledger_cleans_and_reports_it(tmp_path):
    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()
    a, b = work / "clip-a.mp4", work / "clip-b.mp4"  # names that say nothing: only the ledger knows them
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    _torn_ledger(cache, a, b)
    ids = tmp_path / "ids.txt"
    ids.write_text("000703\n")
    args = ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(cache)]
    check = CliRunner().invoke(app, [*args, "--check"])
    assert check.exit_code == 1 and str(b) in check.output and "torn ledger line" in check.output
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "torn ledger line" in res.output, res.output
    assert not b.exists() and a.exists()  # the entry after the torn line was reached
    assert [e.ids for e in read_ledger(cache).entries] == [("000701",)]  # rewritten whole, torn line dropped


# -- a copy forget cannot rewrite ---------------------------------------------------------------------


@pytest.mark.parametrize("check", [False, True], ids=["forget", "check"])
def test_unknown_copy_kind_is_refused_and_nothing_changes(tmp_path, check):
    cache = tmp_path / "cache"
    features = tmp_path / "features.h5"
    features.write_bytes(b"\x89HDF\r\n\x1a\n" + b"000701" * 10)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    record_copy(CopyKind.CUT_CLIP, clip, ["000701"], cache_dir=cache)
    record_copy("hdf5-features", features, ["000700", "000701"], cache_dir=cache)
    ids = tmp_path / "ids.txt"
    ids.write_text("000701\n")
    args = ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(cache)] + (["--check"] if check else [])
    res = CliRunner().invoke(app, args)
    _one_line_error(res, str(features), "hdf5-features", "cannot rewrite")
    assert clip.exists() and features.exists()
    assert len(read_ledger(cache).entries) == 2
    assert not (cache / "facevid_forget" / "audit.jsonl").exists()


def test_unknown_kind_without_a_listed_clip_does_not_block(tmp_path):
    cache = tmp_path / "cache"
    other = tmp_path / "features.h5"
    other.write_bytes(b"x")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    record_copy("hdf5-features", other, ["000700"], cache_dir=cache)
    record_copy(CopyKind.CUT_CLIP, clip, ["000701"], cache_dir=cache)
    ids = tmp_path / "ids.txt"
    ids.write_text("000701\n")
    res = CliRunner().invoke(app, ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    assert not clip.exists() and other.exists()


# -- copies the ledger or the scan cannot read by content ---------------------------------------------


def test_webdataset_sample_without_json_is_unchecked(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with tarfile.open(work / "shard.tar", "w") as tar:
        info = tarfile.TarInfo("000701.mp4")
        info.size = 3
        tar.addfile(info, __import__("io").BytesIO(b"abc"))
    ids = tmp_path / "ids.txt"
    ids.write_text("000701\n")
    args = ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(tmp_path / "c"), "--also", str(work)]
    res = CliRunner().invoke(app, [*args, "--check"])
    assert res.exit_code == 1 and "shard.tar" in res.output and "no json" in res.output


def test_ledger_entry_of_a_deleted_file_is_dropped(tmp_path):
    cache = tmp_path / "cache"
    gone, kept = tmp_path / "gone.mp4", tmp_path / "kept.mp4"
    kept.write_bytes(b"k")
    record_copy(CopyKind.CUT_CLIP, gone, ["000701"], cache_dir=cache)
    record_copy(CopyKind.CUT_CLIP, kept, ["000701"], cache_dir=cache)
    ids = tmp_path / "ids.txt"
    ids.write_text("000701\n")
    res = CliRunner().invoke(app, ["forget", "facevid-1k", "--ids", str(ids), "--cache-dir", str(cache)])
    assert res.exit_code == 0 and str(kept) in res.output and str(gone) not in res.output
    assert read_ledger(cache).entries == [] and not kept.exists()


def _append_many(cache: str, worker: int) -> None:
    for i in range(40):
        record_copy(CopyKind.PARQUET, f"/exports/{worker}/{i}.parquet", [f"{worker:03d}{i:03d}"], cache_dir=cache)


def test_concurrent_writers_never_interleave(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    ledger = read_ledger(tmp_path)
    assert ledger.torn == [] and len(ledger.entries) == 160
    assert len({e.ids for e in ledger.entries}) == 160


# -- a LitData rewrite interrupted by a crash ---------------------------------------------------------


def _litdata_ids(folder: Path) -> set[str]:
    import litdata

    ds = litdata.StreamingDataset(str(folder))
    return {json.loads(ds[i]["json"])["clip_id"] for i in range(len(ds))}


@pytest.mark.parametrize("crash", ["at the commit", "after the commit"])
def test_interrupted_litdata_rewrite_loses_nothing_and_leaves_nothing(tmp_path, monkeypatch, crash):
    """A crash while forget rewrites a LitData folder: before the index is replaced the folder reads as
    it was; after, as rewritten; either way the next forget finishes and no chunk file of the old
    items stays on disk (`--check` names them meanwhile)."""
    import shutil

    import facevid_datasets as fd
    from facevid_datasets.hub.export import export_dataset
    from facevid_datasets.licence import scan
    from facevid_datasets.licence.forget import forget

    root = tmp_path / "release"
    shutil.copytree(Path(fd.__file__).parent / "sample_data", root)
    export_dataset("facevid-1k", tmp_path / "ld", config="all", data_dir=str(root), cache_dir=str(tmp_path / "c"),
                   fmt="litdata", progress=False)  # fmt: skip
    folder = max((p.parent for p in (tmp_path / "ld").rglob("index.json")), key=lambda f: len(_litdata_ids(f)))
    before = _litdata_ids(folder)
    gone = sorted(before)[0]
    old_chunks = {p.name for p in folder.glob("chunk-*.bin")}
    real_replace, real_unlink = scan.os.replace, Path.unlink

    def crash_at_commit(src, dst):
        if Path(dst) == folder / "index.json":  # not the writer's own index in its temporary folder
            raise OSError("killed")
        return real_replace(src, dst)

    def crash_after_commit(self, *a, **kw):
        if self.parent == folder and self.name in old_chunks:
            raise OSError("killed")
        return real_unlink(self, *a, **kw)

    if crash == "at the commit":
        monkeypatch.setattr(scan.os, "replace", crash_at_commit)
    else:
        monkeypatch.setattr(Path, "unlink", crash_after_commit)
    torn = forget("facevid-1k", [gone], cache_dir=tmp_path / "c", extra_dirs=[tmp_path / "ld"])
    monkeypatch.undo()
    assert any("killed" in p for p in torn.unchecked), torn.unchecked  # the rewrite stopped there
    assert _litdata_ids(folder) == (before if crash == "at the commit" else before - {gone})
    left = {p.name for p in folder.glob("chunk-*.bin")}
    assert old_chunks < left  # the old items' chunks and the new ones, side by side
    check = forget("facevid-1k", [gone], cache_dir=tmp_path / "c", extra_dirs=[tmp_path / "ld"], check=True)
    assert any("not in index.json" in p for p in check.unchecked), check.unchecked
    forget("facevid-1k", [gone], cache_dir=tmp_path / "c", extra_dirs=[tmp_path / "ld"])
    assert _litdata_ids(folder) == before - {gone}
    assert not {p.name for p in folder.glob("chunk-*.bin")} & old_chunks
    assert not scan.orphan_chunks(folder, json.loads((folder / "index.json").read_text()))
