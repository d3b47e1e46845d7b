"""The ModelScope route against a loopback server speaking the parts of ModelScope's API the
`modelscope` SDK calls, with the real SDK: the paginated dataset tree
(`/api/v1/datasets/<repo>/repo/tree`, with each file's size and sha256) and the file download
(`/api/v1/datasets/<repo>/repo?FilePath=...`, gated: 401 without a token, 403 for a token not yet
approved, Range requests answered with 206). Nothing reaches the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from facevid_datasets.hub import AccessError, VerificationError, download
from facevid_datasets.testing import make_index_video

REPO = "facevid-test/DH-FaceVid-1K"
GOOD = "ms-goodTOKEN-abcdefghijklmnopqrstuvwx"
PENDING = "ms-pendingTOKEN-abcdefghijklmnopqrstu"


class MsRepo:
    """One ModelScope dataset repo's files and the requests the server saw."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.log: list[tuple[str, str, str | None]] = []
        self.private_listing = False
        self.drop_once: dict[str, int] = {}
        self.corrupt: set[str] = set()


def make_handler(repo: MsRepo):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, headers: dict | None = None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, obj) -> None:
            self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

        def _auth(self) -> bool:
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if token == GOOD:
                return True
            status = 403 if token == PENDING else 401
            self._json(status, {"Code": status, "Message": "no access to this dataset", "Success": False})
            return False

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            repo.log.append((self.command, self.path, self.headers.get("Range")))
            if url.path == f"/api/v1/datasets/{REPO}/repo/tree":
                if repo.private_listing and not self._auth():
                    return None
                page = int(q.get("PageNumber", 1))
                size = int(q.get("PageSize", 200))
                entries = [{"Path": p, "Name": p.rsplit("/", 1)[-1], "Type": "blob", "Size": len(d),
                            "Sha256": hashlib.sha256(d).hexdigest(), "Revision": "master"}
                           for p, d in sorted(repo.files.items())]  # fmt: skip
                chunk = entries[(page - 1) * size : page * size]
                return self._json(200, {"Code": 200, "Success": True, "Data": {"Files": chunk}})
            if url.path == f"/api/v1/datasets/{REPO}/repo" and "FilePath" in q:
                if not self._auth():
                    return None
                name = q["FilePath"]
                if name not in repo.files:
                    return self._json(404, {"Code": 404, "Message": "file not found", "Success": False})
                data = repo.files[name]
                if name in repo.corrupt:
                    data = bytes(b ^ 0xFF for b in data)
                start = 0
                hdr = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
                rng = self.headers.get("Range")
                if rng:
                    start = int(re.match(r"bytes=(\d+)-", rng).group(1))
                    hdr["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                body = data[start:]
                cut = repo.drop_once.pop(name, None) if start == 0 else None
                if cut is not None:
                    self.send_response(200)
                    for k, v in hdr.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                return self._send(206 if start else 200, body, hdr)
            return self._json(404, {"Code": 404, "Message": "not found", "Success": False})

        do_HEAD = do_GET

    return Handler


@pytest.fixture(scope="module")
def release_files(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("msmedia")
    a = make_index_video(d / "a.mp4", num_frames=40, fps=25, size=(64, 64)).read_bytes()
    b = make_index_video(d / "b.mp4", num_frames=12, fps=25, size=(64, 64), audio=False).read_bytes()
    meta = "".join(json.dumps(r) + "\n" for r in [
        {"clip_id": "000680", "identity": "p1"},
        {"clip_id": "000681", "identity": "p2"},
        {"clip_id": "Czb5Ml9VDsI_0", "source": "celebv-hq", "identity": "p3"},
    ])  # fmt: skip
    return {
        "README.md": b"---\nlicense: other\n---\n# test\n",
        "metadata.jsonl": meta.encode(),
        "videos/collected/000680.mp4": a,
        "videos/collected/000681.mp4": b,
        "videos/celebv/Czb5Ml9VDsI_0.mp4": b,
    }


@pytest.fixture
def ms(release_files, monkeypatch, tmp_path):
    repo = MsRepo(dict(release_files))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(repo))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    repo.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("MODELSCOPE_DOMAIN", repo.url)  # the variable the brief names; an URL or a host
    monkeypatch.delenv("MODELSCOPE_ENDPOINT", raising=False)
    monkeypatch.delenv("MODELSCOPE_API_TOKEN", raising=False)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no stored login from the user's machine
    yield repo
    server.shutdown()
    server.server_close()


def _text(excinfo) -> str:
    return "".join(traceback.format_exception(excinfo.value)) + repr(excinfo.value)


def _gets(repo: MsRepo) -> list[str]:
    return [p for m, p, _ in repo.log if m == "GET" and "FilePath=" in p]


def test_files_chosen_per_config_and_verified(ms, tmp_path, release_files):
    out = download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD, hub="modelscope")
    for rel in ("metadata.jsonl", "videos/collected/000680.mp4", "videos/collected/000681.mp4"):
        assert (out / rel).read_bytes() == release_files[rel]
    assert not (out / "videos/celebv/Czb5Ml9VDsI_0.mp4").exists()
    assert not any("Czb5Ml9VDsI_0" in p for p in _gets(ms))
    n = len(_gets(ms))
    download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD, hub="modelscope")
    assert len(_gets(ms)) == n  # complete files are not fetched again


def test_prefixed_repo_id_and_public_config(ms, tmp_path):
    out = download("facevid-1k", tmp_path / "out", config="public", repo_id=f"modelscope:{REPO}", token=GOOD)
    assert (out / "videos/celebv/Czb5Ml9VDsI_0.mp4").is_file() and not (out / "videos/collected").exists()


def test_anonymous_is_told_to_log_in(ms, tmp_path):
    with pytest.raises(AccessError) as ei:
        download("facevid-1k", tmp_path / "out", repo_id=REPO, hub="modelscope")
    msg = str(ei.value)
    assert "not logged in to ModelScope" in msg and "MODELSCOPE_API_TOKEN" in msg and "modelscope login" in msg
    assert f"{ms.url}/datasets/{REPO}" in msg and "application form" in msg and "Non-commercial" in msg
    assert ei.value.__cause__ is None


def test_pending_token_is_told_to_wait_and_never_shown(ms, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    ms.private_listing = True
    with pytest.raises(AccessError) as ei:
        download("facevid-1k", tmp_path / "out", repo_id=REPO, token=PENDING, hub="modelscope")
    msg = str(ei.value)
    assert "not been granted yet" in msg and "not logged in" not in msg
    out = capsys.readouterr()
    for t in (msg, _text(ei), out.out, out.err, caplog.text):
        assert PENDING not in t


def test_rejected_token_from_the_environment(ms, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "ms-revoked-abcdefghijklmnop")
    ms.private_listing = True
    with pytest.raises(AccessError) as ei:
        download("facevid-1k", tmp_path / "out", repo_id=REPO, hub="modelscope")
    assert "rejected the token" in str(ei.value) and "ms-revoked" not in _text(ei)


def test_interrupted_download_resumes(ms, tmp_path, release_files):
    name = "videos/collected/000680.mp4"
    ms.drop_once[name] = len(release_files[name]) // 3
    out = download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD, hub="modelscope")
    assert (out / name).read_bytes() == release_files[name]
    assert sum(p.endswith("000680.mp4") for p in _gets(ms)) >= 2
    ranges = [r for m, p, r in ms.log if p.endswith("000680.mp4") and r]
    assert ranges and int(ranges[0].removeprefix("bytes=").rstrip("-")) > 0  # the rest was asked for


def test_hash_mismatch_is_an_error(ms, tmp_path):
    ms.corrupt.add("videos/collected/000681.mp4")
    with pytest.raises(VerificationError, match="000681.mp4"):
        download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD, hub="modelscope")


def test_archive_parts_are_kept_for_every_config(ms, tmp_path):
    ms.files = {"README.md": b"# r\n", "high-quality-fast.tar.gz.part.aa": b"a" * 100,
                "high-quality-fast.tar.gz.part.ab": b"b" * 50}  # fmt: skip
    out = download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD, hub="modelscope")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(ms.files)


def test_cli_from_modelscope(ms, tmp_path):
    from facevid_datasets.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["download", "facevid-1k", "--from", "modelscope", "--repo-id", REPO, "--token", PENDING,
                              "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 1 and "not been granted yet" in res.output and "Traceback" not in res.output
    assert PENDING not in res.output
    res = runner.invoke(app, ["download", "facevid-1k", "--from", "modelscope", "--config", "collected", "--repo-id",
                              REPO, "--token", GOOD, "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "videos/collected/000680.mp4").is_file() and GOOD not in res.output


@pytest.mark.slow
def test_load_dataset_from_modelscope(ms, tmp_path):
    from facevid_datasets.loading import load_dataset

    ds = load_dataset("facevid-1k", "public", token=GOOD, repo_id=f"modelscope:{REPO}", cache_dir=str(tmp_path / "c"))
    recs = {r["clip_id"]: r for s in ds for r in ds[s]}
    assert set(recs) == {"Czb5Ml9VDsI_0"} and recs["Czb5Ml9VDsI_0"]["source"] == "celebv-hq"
