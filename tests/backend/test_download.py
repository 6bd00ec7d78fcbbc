"""`resto data download`: real HTTP against 127.0.0.1 — a closed port (the clear failure this machine
will always see upstream) and a small local server serving GitHub-style branch archives."""

from __future__ import annotations

import io
import json
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.download import download
from backend.errors import UserError
from cli.main import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


SGD_ZIP = _zip({
    "dstc8-schema-guided-dialogue-master/train/schema.json": "[]",
    "dstc8-schema-guided-dialogue-master/train/dialogues_001.json": json.dumps([
        {"dialogue_id": "1_00000", "services": ["Restaurants_1"], "turns": []},
        {"dialogue_id": "9_00000", "services": ["Flights_1"], "turns": []},
    ]),
    "dstc8-schema-guided-dialogue-master/train/dialogues_002.json": json.dumps([
        {"dialogue_id": "9_00001", "services": ["Flights_1"], "turns": []}]),
    "dstc8-schema-guided-dialogue-master/README.md": "x",
})
TFT_ZIP = _zip({
    "distil-tft-benchmarking-main/scenario-1-baseline/tft/test.jsonl": "{}\n",
    "distil-tft-benchmarking-main/scenario-1-baseline/direct/train.jsonl": "{}\n",
    "distil-tft-benchmarking-main/scenario-2-noisy-labels/distil-workspace/x.jsonl": "{}\n",
})


@pytest.fixture
def archive_server():
    routes = {
        "/google-research-datasets/dstc8-schema-guided-dialogue/archive/refs/heads/master.zip": SGD_ZIP,
        "/distil-labs/distil-tft-benchmarking/archive/refs/heads/main.zip": TFT_ZIP,
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = routes.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_unreachable_upstream_is_one_clear_sentence(tmp_path, capsys):
    base = f"http://127.0.0.1:{_closed_port()}"
    assert main(["data", "download", "--out", str(tmp_path / "data"), "--base-url", base]) == 2
    err = capsys.readouterr().err
    assert err.startswith("resto: Could not download sgd from http://127.0.0.1:")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "data" / "sgd").exists()


def test_download_unpacks_into_the_shared_layout(tmp_path, archive_server):
    lines = download(tmp_path / "data", base_url=archive_server)
    assert lines[0].startswith("sgd: 1 files") and lines[1].startswith("tft-benchmark: 2 files")
    kept = json.loads((tmp_path / "data/sgd/train/dialogues_001.json").read_text())
    assert [d["dialogue_id"] for d in kept] == ["1_00000"]  # only the services resto uses
    assert not (tmp_path / "data/sgd/train/dialogues_002.json").exists()
    assert (tmp_path / "data/sgd/train/schema.json").exists()
    assert (tmp_path / "data/tft-benchmark/scenario-1-baseline/tft/test.jsonl").exists()
    assert not (tmp_path / "data/tft-benchmark/scenario-2-noisy-labels").exists()


def test_not_an_archive(tmp_path, archive_server):
    with pytest.raises(UserError, match="tft-benchmark"):
        download(tmp_path / "d", base_url=archive_server + "/nothing-here", only="tft-benchmark")
