"""The service under faults, on loopback with a real uvicorn server: clients that vanish mid-upload, send
a few bytes a second (slow loris), or give up while their photo is being processed. Afterwards the worker
slot is free, nothing was written to the temporary folder, and the next request succeeds.

Each test starts its own server on a free 127.0.0.1 port (the settings and uvicorn configuration the
command line uses, with a fake detector that can be held), and is bounded in connections and seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from anonymizer.api.app import create_app
from anonymizer.api.server import config
from anonymizer.api.settings import Settings
from anonymizer.api.workers import WorkerPool

from .test_api import FakeDetector, photo

READ_TIMEOUT = 1.5  # the server's limit for receiving one request body, in these tests
BOUNDARY = "fault-test-boundary"


@dataclass
class Server:
    port: int
    pool: WorkerPool
    detector: FakeDetector
    tmp: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_free(self, seconds: float = 10) -> None:
        """Until no request holds a worker slot (the slot is released on the event loop, a moment later)."""
        deadline = time.monotonic() + seconds
        while self.pool.admitted and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.pool.admitted == 0, f"{self.pool.admitted} worker slot(s) still held"

    def next_request_succeeds(self) -> None:
        r = httpx.post(f"{self.url}/v1/clean", files={"photo": ("a.jpg", photo())}, data={"faces": "none"},
                       timeout=10)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"

    def nothing_written(self) -> None:
        assert list(self.tmp.iterdir()) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # anything spooled to disk would land here
    monkeypatch.setenv("TMPDIR", str(tmp))
    settings = Settings(port=free_port(), workers=1, queue=1, read_timeout=READ_TIMEOUT)
    detector = FakeDetector(gate=threading.Event())
    detector.gate.set()  # type: ignore[union-attr]
    app = create_app(settings, detector=lambda: detector)
    cfg = config(settings)  # the command line's uvicorn configuration, with this app
    cfg.app = app
    srv = uvicorn.Server(cfg)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    handle = Server(settings.port, app.state.pool, detector, tmp)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{handle.url}/healthz", timeout=1).status_code == 200:
                break
        time.sleep(0.05)
    else:
        raise AssertionError("server did not start")
    yield handle
    detector.gate.set()  # type: ignore[union-attr]
    srv.should_exit = True
    thread.join(10)


def multipart(data: bytes, **fields: str) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def head(port: int, path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n").encode()


def big_body() -> bytes:
    return multipart(photo(size=(600, 400)) + b"\x00" * 200_000, faces="none")


def test_clients_that_disconnect_mid_upload_free_their_worker(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    body = big_body()
    for cut in (0, 100, len(body) // 2, len(body) - 10):  # before, inside and at the end of the photo part
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(head(server.port, "/v1/clean", len(body)) + body[:cut])
            time.sleep(0.1)  # the request is admitted and reading its body
        server.wait_free()
    server.nothing_written()
    server.next_request_succeeds()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors  # a client going away is not a failure of the service (it was logged with a traceback)


def rest_of_answer(s: socket.socket) -> bytes:
    """What else the server sends before it closes the connection (bounded: 2 s, 1 MB)."""
    more, deadline = b"", time.monotonic() + 2
    s.settimeout(0.2)
    while time.monotonic() < deadline and len(more) < 1 << 20:
        try:
            chunk = s.recv(65536)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        more += chunk
    return more


def test_slow_loris_upload_is_timed_out_and_frees_its_worker(server: Server) -> None:
    body = big_body()
    started = time.monotonic()
    clients = []
    for _ in range(2):  # workers + queue: every slot is held by a slow client
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(head(server.port, "/v1/clean", len(body)) + body[:50])
        clients.append(s)
    time.sleep(0.3)
    busy = httpx.post(f"{server.url}/v1/inspect", files={"photo": ("a.jpg", photo())}, timeout=10)
    assert busy.status_code == 503  # while they hold the slots
    answers = []
    for s in clients:
        with s:
            sent, answer = 50, b""
            while time.monotonic() - started < 10 * READ_TIMEOUT:  # a few bytes a second, until the server answers
                with contextlib.suppress(OSError):
                    s.sendall(body[sent : sent + 5])
                    sent += 5
                s.settimeout(0.3)
                with contextlib.suppress(TimeoutError):
                    answer = s.recv(65536)
                if answer:
                    answer += rest_of_answer(s)  # the body may come in a packet of its own
                    break
            answers.append(answer)
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers
    assert json.loads(answers[0].split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    assert time.monotonic() - started < 5 * READ_TIMEOUT
    server.wait_free()
    server.nothing_written()
    server.next_request_succeeds()


def test_request_given_up_by_its_client_frees_the_worker_when_the_job_ends(server: Server) -> None:
    gate = server.detector.gate
    assert gate is not None
    gate.clear()  # the detector now waits: the job runs "forever"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/clean", files={"photo": ("a.jpg", photo())}, timeout=1)
    assert server.detector.entered.is_set() and server.pool.admitted == 1  # still working for nobody
    gate.set()
    server.wait_free()
    server.nothing_written()
    server.next_request_succeeds()


def test_connections_that_send_nothing_or_garbage_do_not_hold_workers(server: Server) -> None:
    garbage = (b"", b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00" + b"\x00" * 100, b"POST /v1/clean HTTP/1.1\r\n")
    for payload in garbage:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(payload)
    server.wait_free()
    server.nothing_written()
    server.next_request_succeeds()
