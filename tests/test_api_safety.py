"""The service on a laptop: Host and Origin checks, CORS, headers, size limits while streaming,
no temporary files, no bodies or names in logs, and 503 when the bounded queue is full."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from anonymizer.api.app import create_app
from anonymizer.api.settings import Settings

from .test_api import BASE, FakeDetector, error_code, make_client, photo, post, wait_ready


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as c:
        wait_ready(c)
        yield c


# --- Host header (DNS rebinding) -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_hosts_are_served(client: TestClient, host: str) -> None:
    assert client.get("/healthz", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "", "[::2]"])
def test_other_hosts_are_refused_before_any_work(client: TestClient, host: str) -> None:
    r = client.get("/healthz", headers={"host": host})
    assert r.status_code == 421 and error_code(r) == "host_not_allowed"
    r = client.post("/v1/detect", headers={"host": host}, files={"photo": ("a.jpg", photo())})
    assert r.status_code == 421


def test_configured_host_is_served() -> None:
    with make_client(Settings(workers=1, queue=1, allowed_hosts=("anon.local",))) as c:
        wait_ready(c)
        assert c.get("/healthz", headers={"host": "anon.local:8000"}).status_code == 200
        assert c.get("/healthz", headers={"host": "other.local"}).status_code == 421


# --- Origin and CORS -----------------------------------------------------------------------------------------


def test_no_cross_origin_access_by_default(client: TestClient) -> None:
    r = client.post("/v1/inspect", headers={"origin": "https://evil.example"}, files={"photo": ("a", photo())})
    assert r.status_code == 403 and error_code(r) == "origin_not_allowed"
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/v1/clean", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers
    same = client.post("/v1/inspect", headers={"origin": BASE}, files={"photo": ("a", photo())})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers


def test_configured_origin_gets_cors_headers() -> None:
    origin = "http://localhost:5173"
    with make_client(Settings(workers=1, queue=1, allowed_origins=(origin,))) as c:
        wait_ready(c)
        pre = c.options("/v1/clean", headers={"origin": origin, "access-control-request-method": "POST"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-credentials" not in pre.headers
        r = c.post("/v1/clean", headers={"origin": origin}, files={"photo": ("a", photo())}, data={"faces": "none"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        assert "x-faces-obscured" in r.headers["access-control-expose-headers"].lower()
        other = c.post("/v1/inspect", headers={"origin": "http://localhost:9999"}, files={"photo": ("a", photo())})
        assert other.status_code == 403


# --- response headers ----------------------------------------------------------------------------------------


def test_security_headers_and_no_cookies_on_every_response(client: TestClient) -> None:
    responses = [
        client.get("/healthz"),
        post(client, "/v1/clean", photo(), faces="none"),
        post(client, "/v1/inspect", b"not an image"),
        client.get("/healthz", headers={"host": "evil.example"}),
    ]
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "set-cookie" not in r.headers and "server" not in r.headers
    assert not client.cookies


# --- size limits while streaming --------------------------------------------------------------------------------


def _stream_upload(settings: Settings, total: int, chunk: int, declare_length: bool) -> tuple[int, str, int]:
    """POST a multipart body of `total` bytes in chunks through the ASGI app; (status, code, chunks sent)."""
    app = create_app(settings, detector=FakeDetector)  # type: ignore[arg-type]
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n\r\n'.encode()
    sent = [0]

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(total // chunk):
            sent[0] += 1
            yield b"\xff" * chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    async def run() -> httpx.Response:
        headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
        if declare_length:
            headers["content-length"] = str(len(head) + total + 16 + len(boundary))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            return await c.post("/v1/preview", content=body(), headers=headers)  # one photo part: its limit

    r = asyncio.run(run())
    return r.status_code, error_code(r), sent[0]


def test_413_is_sent_before_a_chunked_body_is_read_fully() -> None:
    chunk, total = 64 * 1024, 20 * 1024 * 1024
    status, code, sent = _stream_upload(Settings(workers=1, queue=1, max_bytes=1024 * 1024), total, chunk, False)
    assert (status, code) == (413, "too_large")
    assert sent < (2 * 1024 * 1024) // chunk + 4  # stopped reading near the limit, not at 20 MB


def test_413_from_content_length_reads_nothing() -> None:
    status, code, sent = _stream_upload(Settings(workers=1, queue=1, max_bytes=1024 * 1024), 8 << 20, 1 << 16, True)
    assert (status, code, sent) == (413, "too_large", 0)


def test_photo_part_over_max_bytes_is_413() -> None:
    with make_client(Settings(workers=1, queue=1, max_bytes=50_000)) as c:
        wait_ready(c)
        r = post(c, "/v1/clean", b"\xff\xd8\xff" + b"\0" * 60_000)
        assert r.status_code == 413 and error_code(r) == "too_large"


# --- no temporary files ----------------------------------------------------------------------------------------


@pytest.fixture
def watched_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    """A fresh temporary directory, and a record of every attempt to create a temporary file anywhere."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    calls: list[str] = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        original = getattr(tempfile, name)

        def spy(*args: object, _name: str = name, _original: object = original, **kwargs: object) -> object:
            calls.append(_name)
            return _original(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(tempfile, name, spy)
    yield folder, calls


def test_spy_catches_starlette_spooling(watched_tempdir: tuple[Path, list[str]]) -> None:
    """The check below can fail: Starlette's own form parsing of a large upload is caught by it."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> PlainTextResponse:
        async with request.form():
            return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    with TestClient(app) as c:
        c.post("/", files={"photo": ("a.jpg", b"\0" * (3 * 1024 * 1024))})
    assert watched_tempdir[1], "spooling to a temporary file was not noticed"


def test_large_upload_creates_no_temporary_file(watched_tempdir: tuple[Path, list[str]]) -> None:
    folder, calls = watched_tempdir
    big = photo("PNG", size=(96, 64), exif=True) + b"\0" * (5 * 1024 * 1024)  # trailer data after IEND
    seen: list[list[str]] = []
    app = create_app(Settings(workers=1, queue=1, max_bytes=8 * 1024 * 1024), detector=FakeDetector)  # type: ignore[arg-type]
    boundary = "b0undary"

    async def body() -> AsyncIterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'.encode()
        for start in range(0, len(big), 256 * 1024):
            seen.append(sorted(p.name for p in folder.iterdir()))
            yield big[start : start + 256 * 1024]
            await asyncio.sleep(0)
        yield f"\r\n--{boundary}--\r\n".encode()

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
            return await c.post("/v1/strip", content=body(), headers=headers)

    r = asyncio.run(run())
    assert r.status_code == 200, r.text
    assert len(seen) >= 20 and all(names == [] for names in seen)
    assert list(folder.iterdir()) == [] and calls == []


# --- logs --------------------------------------------------------------------------------------------------------


def test_logs_carry_no_file_name_body_or_query(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "alice-at-the-clinic"
    files = {"photo": (f"{secret}.jpg", photo(), "image/jpeg")}
    assert client.post(f"/v1/clean?{secret}=1", files=files, data={"faces": "none"}).status_code == 200
    assert client.post("/v1/inspect", files={"photo": (f"{secret}.jpg", b"garbage")}).status_code == 415
    service = [r for r in caplog.records if r.name.startswith(("anonymizer", "uvicorn", "fastapi", "starlette"))]
    text = "\n".join(r.getMessage() for r in service)
    assert secret not in text and "PhoneCo" not in text
    assert "POST /v1/clean 200" in text


# --- bounded queue ------------------------------------------------------------------------------------------------


def test_busy_is_503_with_retry_after_and_slots_come_back() -> None:
    gate = threading.Event()
    detector = FakeDetector(gate)
    app = create_app(Settings(workers=1, queue=0), detector=lambda: detector)

    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        await app.state.models.load()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            files = {"photo": ("a.jpg", photo())}
            first = asyncio.create_task(c.post("/v1/detect", files=files))
            while not detector.entered.is_set():
                await asyncio.sleep(0.005)
            second = await c.post("/v1/detect", files=files)
            gate.set()
            done = await first
            third = await c.post("/v1/detect", files=files)
            return done, second, third

    done, busy, after = asyncio.run(run())
    assert busy.status_code == 503 and error_code(busy) == "busy" and int(busy.headers["retry-after"]) > 0
    assert done.status_code == 200 and after.status_code == 200
    assert app.state.pool.admitted == 0


def test_text_fields_have_their_own_limits(client: TestClient) -> None:
    r = post(client, "/v1/clean", photo(), fill="#" + "0" * 5000)
    assert r.status_code == 413 and error_code(r) == "too_large"
    points = [[i % 90, (i * 7) % 60] for i in range(20_000)]  # a long brush stroke: ~250 kB of JSON
    regions = '{"strokes": [{"points": ' + str(points) + ', "radius": 3}]}'
    r = post(client, "/v1/clean", photo(), faces="none", regions=regions)
    assert r.status_code == 200 and r.headers["x-regions-obscured"] == "true"
