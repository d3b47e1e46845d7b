"""Gated download against a loopback server speaking the Hub protocol, with the real huggingface_hub client.

The server implements what `HfApi.dataset_info`, `HfApi.list_repo_tree` and `hf_hub_download` use
for a dataset repo: repo info and tree listing (public, as on the Hub for gated repos), and
HEAD/GET on `resolve` (gated: 401 + X-Error-Code GatedRepo without a token, 403 for a token not
yet approved, Range requests answered with 206 + Content-Range for resumes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facevid_datasets.hub import AccessError, VerificationError, download
from facevid_datasets.testing import make_index_video

REPO = "facevid-test/DH-FaceVid-1K"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
GOOD = "hf_goodTOKENabcdefghijklmnopqrstuvwx"
PENDING = "hf_pendingTOKENabcdefghijklmnopqrstu"
BAD = "hf_revokedTOKENabcdefghijklmnopqrstu"


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubRepo:
    """One dataset repo's files and the requests the server saw."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.log: list[tuple[str, str, str | None]] = []
        self.drop_once: dict[str, int] = {}  # path -> bytes sent before the connection is cut
        self.corrupt: set[str] = set()

    def lfs(self, path: str) -> bool:
        return path.endswith(".mp4")

    def tree(self) -> list[dict]:
        out = []
        for p, data in sorted(self.files.items()):
            entry = {"type": "file", "path": p, "size": len(data), "oid": _git_sha1(data)}
            if self.lfs(p):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
            out.append(entry)
        return out


def make_handler(repo: HubRepo):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _json(self, obj):
            self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"})

        def _auth(self) -> bool:
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            msg = {"X-Error-Code": "GatedRepo"}
            if not token:
                msg["X-Error-Message"] = "Access to this dataset is restricted. You must be authenticated."
                self._send(401, b'{"error": "gated"}', msg, head=self.command == "HEAD")
                return False
            if token == PENDING:
                msg["X-Error-Message"] = "Access to this dataset is restricted and you are not in the authorized list."
                self._send(403, b'{"error": "gated"}', msg, head=self.command == "HEAD")
                return False
            if token != GOOD:
                hdr = {"X-Error-Message": "Invalid credentials in Authorization header"}
                self._send(401, b'{"error": "invalid"}', hdr, head=self.command == "HEAD")
                return False
            return True

        def _route(self, head: bool):
            path = self.path.split("?")[0]
            repo.log.append((self.command, path, self.headers.get("Range")))
            if re.fullmatch(rf"/api/datasets/{REPO}(/revision/[^/]+)?", path):
                return self._json({"id": REPO, "sha": COMMIT, "private": False, "gated": "manual",
                                   "siblings": [{"rfilename": p} for p in repo.files]})  # fmt: skip
            if re.fullmatch(rf"/api/datasets/{REPO}/tree/[^/]+", path):
                return self._json(repo.tree())
            m = re.fullmatch(rf"/datasets/{REPO}/resolve/([^/]+)/(.+)", path)
            if m is None:
                return self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"}, head=head)
            if not self._auth():
                return None
            name = m.group(2)
            if name not in repo.files:
                return self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"}, head=head)
            data = repo.files[name]
            etag = hashlib.sha256(data).hexdigest() if repo.lfs(name) else _git_sha1(data)
            hdr = {"X-Repo-Commit": COMMIT, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
            if repo.lfs(name):
                hdr.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
            if name in repo.corrupt:
                data = bytes(b ^ 0xFF for b in data)
            start = 0
            rng = self.headers.get("Range")
            if rng and not head:
                start = int(re.match(r"bytes=(\d+)-", rng).group(1))
                hdr["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            cut = repo.drop_once.pop(name, None) if not head and start == 0 else None
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
            return self._send(206 if start else 200, body, hdr, head=head)

        def do_GET(self):
            self._route(head=False)

        def do_HEAD(self):
            self._route(head=True)

    return Handler


@pytest.fixture(scope="module")
def release_files(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("hubmedia")
    a = make_index_video(d / "a.mp4", num_frames=40, fps=25, size=(64, 64)).read_bytes()
    b = make_index_video(d / "b.mp4", num_frames=12, fps=25, size=(64, 64), audio=False).read_bytes()
    meta = "".join(json.dumps(r) + "\n" for r in [
        {"clip_id": "000680", "identity": "p1", "caption": "collected clip"},
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
def hub(release_files, monkeypatch, tmp_path):
    repo = HubRepo(dict(release_files))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(repo))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(tmp_path / "no_stored_tokens"))
    repo.url = url
    yield repo
    server.shutdown()
    server.server_close()


def _no_token_anywhere(token: str, *texts: str) -> None:
    for t in texts:
        assert token not in t


def _error_text(excinfo) -> str:
    return "".join(traceback.format_exception(excinfo.value)) + repr(excinfo.value)


def test_anonymous_gets_login_guidance(hub, tmp_path):
    with pytest.raises(AccessError) as ei:
        download("facevid-1k", tmp_path / "out", repo_id=REPO)
    msg = str(ei.value)
    assert "not logged in" in msg and "hf auth login" in msg and "HF_TOKEN" in msg
    assert f"{hub.url}/datasets/{REPO}" in msg and "application form" in msg
    assert "Non-commercial" in msg and "data_dir" in msg
    assert ei.value.__cause__ is None and "Traceback" not in msg


def test_pending_token_gets_approval_guidance(hub, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AccessError) as ei:
        download("facevid-1k", tmp_path / "out", repo_id=REPO, token=PENDING)
    msg = str(ei.value)
    assert "not been granted yet" in msg and f"{hub.url}/datasets/{REPO}" in msg
    assert "not logged in" not in msg
    out = capsys.readouterr()
    _no_token_anywhere(PENDING, msg, _error_text(ei), out.out, out.err, caplog.text)


def test_rejected_token(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", BAD)  # the token from the environment is used and never shown
    with pytest.raises(AccessError) as ei:
        download("facevid-1k", tmp_path / "out", repo_id=REPO)
    assert "rejected the token" in str(ei.value)
    _no_token_anywhere(BAD, _error_text(ei))


def test_good_token_downloads_only_the_config_and_verifies(hub, tmp_path, release_files):
    out = download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD)
    for rel in ("metadata.jsonl", "videos/collected/000680.mp4", "videos/collected/000681.mp4"):
        assert (out / rel).read_bytes() == release_files[rel]
    assert not (out / "videos/celebv/Czb5Ml9VDsI_0.mp4").exists()
    assert not any("Czb5Ml9VDsI_0" in p for _, p, _ in hub.log)
    n_get = sum(m == "GET" and "/resolve/" in p for m, p, _ in hub.log)
    download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD)
    assert sum(m == "GET" and "/resolve/" in p for m, p, _ in hub.log) == n_get  # complete files not fetched again


def test_interrupted_download_resumes(hub, tmp_path, release_files, monkeypatch):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "DOWNLOAD_CHUNK_SIZE", 1024)  # real files span many 10 MiB chunks; ours are small
    name = "videos/collected/000680.mp4"
    cut = len(release_files[name]) // 3
    hub.drop_once[name] = cut
    out = download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD)
    assert (out / name).read_bytes() == release_files[name]
    ranges = [r for m, p, r in hub.log if m == "GET" and p.endswith(name) and r]
    assert ranges, "the second request did not ask for the rest of the file"
    start = int(ranges[0].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= cut  # resumed from the last chunk written before the cut


def test_hash_mismatch_is_an_error(hub, tmp_path):
    hub.corrupt.add("videos/collected/000681.mp4")
    with pytest.raises(VerificationError, match="000681.mp4"):
        download("facevid-1k", tmp_path / "out", config="collected", repo_id=REPO, token=GOOD)


def test_load_dataset_with_token_builds_from_hub(hub, tmp_path):
    from facevid_datasets.loading import load_dataset

    ds = load_dataset("facevid-1k", "public", token=GOOD, repo_id=REPO, cache_dir=str(tmp_path / "c"))
    recs = {r["clip_id"]: r for s in ds for r in ds[s]}
    assert set(recs) == {"Czb5Ml9VDsI_0"} and recs["Czb5Ml9VDsI_0"]["source"] == "celebv-hq"


def test_cli_download_messages(hub, tmp_path):
    from facevid_datasets.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["download", "facevid-1k", "--repo-id", REPO, "--token", PENDING,
                              "--out", str(tmp_path / "o")])  # fmt: skip
    text = res.output + (res.stderr if res.stderr_bytes is not None else "")
    assert res.exit_code == 1 and "not been granted yet" in text and "Traceback" not in text
    _no_token_anywhere(PENDING, text)
    res = runner.invoke(app, ["download", "facevid-1k", "--config", "collected", "--repo-id", REPO, "--token", GOOD,
                              "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "videos/collected/000680.mp4").is_file() and "data_dir=" in res.output
    _no_token_anywhere(GOOD, res.output)


def test_unconfigured_repo_says_how_to_name_it(tmp_path, monkeypatch):
    from facevid_datasets.errors import DatasetNotFound

    monkeypatch.delenv("FACEVID_HUB_REPO_FACEVID_1K", raising=False)
    with pytest.raises(DatasetNotFound, match="FACEVID_HUB_REPO_FACEVID_1K"):
        download("facevid-1k", tmp_path / "out")
    assert Path(tmp_path / "out").exists() is False

