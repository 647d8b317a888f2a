"""Video jobs in the service (api/jobs.py, api/routes/jobs.py) and /v1/detect on a video.

Clips are made in code (tests.video_fixtures.make_clip, 160x120, 2 s) and cleaned by the real library with the
real detectors. Where a test needs a job to stay running, `Held` wraps the real anonymizer.media.clean_stream
(through the store's `clean` seam) and holds its progress callback at a frame until released or cancelled: the
cancellation still goes through the library's own check between frames.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import io
import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from anonymizer import CleanOptions, Summary, VideoSettings, media
from anonymizer.api.app import create_app
from anonymizer.api.jobs import JobStore
from anonymizer.api.settings import Settings
from anonymizer.errors import OptionsError
from anonymizer.faces import get_detector
from anonymizer.types import Box
from tests.conftest import SAMPLE
from tests.video_fixtures import make_clip

BASE = "http://127.0.0.1:8000"
SIZE = (160, 120)
FRAMES = 20
MAGENTA = (255, 0, 255)
LOCATION = {"location": "+50.8500+004.3500/"}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clip() -> bytes:
    """2 s at 10 fps, 160x120, with sound and a location tag."""
    return make_clip(2.0, 10, SIZE, audio=True, metadata=LOCATION)


@pytest.fixture(scope="module")
def portrait_clip() -> tuple[bytes, Box]:
    """The sample portrait, still, in a 160x120 clip; and its face box (found by the photo detector)."""
    side = 100
    image = np.asarray(Image.open(SAMPLE).convert("RGB").resize((side, side)))
    faces = get_detector().detect(image)
    assert faces, "the sample portrait must show a face"
    face = max(faces, key=lambda d: d.score).box
    x0, y0 = 50, 10

    def frame(index: int, width: int, height: int) -> np.ndarray:
        canvas = np.full((height, width, 3), (40, 120, 60), np.uint8)
        canvas[y0 : y0 + side, x0 : x0 + side] = image
        return canvas

    data = make_clip(2.0, 10, SIZE, audio=False, frame_fn=frame, metadata=LOCATION)
    return data, Box(face.x + x0, face.y + y0, face.w, face.h)


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.get("/healthz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("models never became ready")


@contextlib.contextmanager
def service(**settings: Any) -> Iterator[tuple[TestClient, FastAPI]]:
    app = create_app(Settings(**{"jobs": 2, **settings}))
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client, app


@pytest.fixture
def svc() -> Iterator[tuple[TestClient, FastAPI]]:
    with service() as pair:
        yield pair


def start(client: TestClient, data: bytes, **fields: str) -> Any:
    return client.post("/v1/jobs", files={"video": ("holiday.mp4", data, "video/mp4")}, data=fields)


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def wait_state(client: TestClient, job_id: str, states: set[str], seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if body.get("state") in states:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job never reached {states}")


def frames_of(data: bytes) -> list[tuple[float, np.ndarray]]:
    with av.open(io.BytesIO(data), "r") as container:
        return [(float((f.pts or 0) * (f.time_base or 0)), f.to_ndarray(format="rgb24"))
                for f in container.decode(video=0)]


def near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    """Share of pixels within `tolerance` of `colour` on every channel (H.264 shifts colours a little)."""
    return float((np.abs(pixels.astype(int) - colour) <= tolerance).all(axis=-1).mean())


class Held:
    """The real clean_stream, its progress callback held at frame `at` until `release` is set or the job's cancel
    event is: the library's own cancel check between frames then ends it."""

    def __init__(self, at: int = 2) -> None:
        self.at = at
        self.reached = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()
        self.outcome: str = ""

    def __call__(self, src: BinaryIO, sink: BinaryIO, options: CleanOptions, video: VideoSettings) -> Summary:
        inner = video.progress

        def progress(done: int, total: int) -> None:
            if inner is not None:
                inner(done, total)
            if done >= self.at and not self.reached.is_set():
                self.reached.set()
                while not self.release.wait(0.02):
                    if video.cancel is not None and video.cancel.is_set():
                        return

        try:
            summary = media.clean_stream(src, sink, options, replace(video, progress=progress))
        except Exception as exc:
            self.outcome = type(exc).__name__
            raise
        finally:
            self.returned.set()
        self.outcome = "done"
        return summary


def held(app: FastAPI, at: int = 2) -> Held:
    gate = Held(at)
    store: JobStore = app.state.jobs
    store.clean = gate
    return gate


# ---------------------------------------------------------------- life cycle


def test_job_life_cycle_from_upload_to_download(svc: tuple[TestClient, FastAPI], clip: bytes) -> None:
    client, app = svc
    r = start(client, clip, audio="drop", faces="none")
    assert r.status_code == 202, r.text
    job = r.json()
    job_id = job["id"]
    assert len(job_id) >= 32 and r.headers["location"] == f"/v1/jobs/{job_id}"
    assert job["urls"] == {"status": f"/v1/jobs/{job_id}", "events": f"/v1/jobs/{job_id}/events",
                           "result": f"/v1/jobs/{job_id}/result"}
    assert job["state"] in ("queued", "running")
    done = wait_state(client, job_id, {"done", "failed"})
    assert done["state"] == "done", done
    assert done["frames_done"] == done["frames_total"] == FRAMES and done["progress"] == 1.0
    assert done["summary"]["video"]["frames"] == FRAMES and done["summary"]["video"]["audio_kept"] is False
    assert 0 < done["expires_in"] <= app.state.settings.job_ttl
    r = client.get(f"/v1/jobs/{job_id}/result")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert r.headers["content-disposition"] == 'inline; filename="clean.mp4"'
    assert r.headers["x-video-frames"] == str(FRAMES) and r.headers["x-audio-kept"] == "false"
    assert int(r.headers["x-metadata-removed"]) >= 1 and "location" in r.headers["x-metadata-categories"]
    report = media.inspect_stream(io.BytesIO(r.content))
    assert [f for f in report.findings if f.risk is not None] == [], report.findings
    assert len(frames_of(r.content)) == FRAMES
    # downloaded: the job is gone
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 404
    assert app.state.jobs.held == 0


def test_faces_and_timed_regions_are_obscured_and_audio_kept(
    svc: tuple[TestClient, FastAPI], portrait_clip: tuple[bytes, Box], clip: bytes
) -> None:
    client, _ = svc
    data, face = portrait_clip
    regions = {"boxes": [{"x": 0, "y": 80, "w": 40, "h": 40, "from": 0, "to": 0.9}]}
    r = start(client, data, method="fill", fill="#ff00ff", regions=json.dumps(regions))
    job_id = r.json()["id"]
    assert wait_state(client, job_id, {"done", "failed"})["state"] == "done"
    r = client.get(f"/v1/jobs/{job_id}/result")
    assert r.status_code == 200 and r.headers["x-regions-obscured"] == "true"
    assert int(r.headers["x-faces-obscured"]) >= 1 and r.headers["x-face-frames"] == str(FRAMES)
    x0, y0 = round(face.x + face.w * 0.25), round(face.y + face.h * 0.25)
    x1, y1 = round(face.x + face.w * 0.75), round(face.y + face.h * 0.75)
    for seconds, rgb in frames_of(r.content):
        assert near(rgb[y0:y1, x0:x1], MAGENTA) > 0.9, f"face not covered at {seconds:.1f} s"
        region = near(rgb[84:116, 4:36], MAGENTA)
        if seconds < 0.8:
            assert region > 0.9, f"region not covered at {seconds:.1f} s"
        elif seconds > 1.0:
            assert region < 0.1, f"region covered outside its time range at {seconds:.1f} s"
    # audio=keep (the default) keeps the sound track
    job_id = start(client, clip, faces="none").json()["id"]
    wait_state(client, job_id, {"done"})
    r = client.get(f"/v1/jobs/{job_id}/result")
    assert r.headers["x-audio-kept"] == "true"
    with av.open(io.BytesIO(r.content)) as container:
        assert len(container.streams.audio) == 1


def test_events_stream_progress_until_done(svc: tuple[TestClient, FastAPI], clip: bytes) -> None:
    client, app = svc
    gate = held(app, at=3)
    job_id = start(client, clip, faces="none").json()["id"]
    states: list[dict[str, Any]] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert event == "status"
                states.append(json.loads(line.removeprefix("data: ")))
                if states[-1]["frames_done"] >= 3 and not gate.release.is_set():
                    assert states[-1]["state"] == "running" and states[-1]["frames_total"] == FRAMES
                    assert states[-1]["eta"] is not None and states[-1]["eta"] >= 0
                    gate.release.set()
    assert states[-1]["state"] == "done" and states[-1]["summary"]["video"]["frames"] == FRAMES
    done = [s["frames_done"] for s in states]
    assert done == sorted(done) and len(states) >= 3
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200


def test_healthz_answers_while_a_job_runs(svc: tuple[TestClient, FastAPI], clip: bytes) -> None:
    client, app = svc
    gate = held(app)
    job_id = start(client, clip, faces="none").json()["id"]
    assert gate.reached.wait(30)
    started = time.perf_counter()
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "running"
    assert time.perf_counter() - started < 1.0
    gate.release.set()
    assert wait_state(client, job_id, {"done"})["state"] == "done"


# ---------------------------------------------------------------- cancel, discard, expiry


def test_delete_cancels_a_running_job_and_frees_its_place(clip: bytes) -> None:
    with service(jobs=1) as (client, app):
        gate = held(app)
        job_id = start(client, clip, faces="none").json()["id"]
        assert gate.reached.wait(30)
        assert error_code(client.get(f"/v1/jobs/{job_id}/result")) == "job_not_finished"
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 404
        assert gate.returned.wait(30) and gate.outcome == "CancelledError"
        deadline = time.monotonic() + 10
        while app.state.jobs.held and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.jobs.held == 0
        app.state.jobs.clean = media.clean_stream
        again = start(client, clip, faces="none")
        assert again.status_code == 202


def test_delete_discards_a_finished_job(svc: tuple[TestClient, FastAPI], clip: bytes) -> None:
    client, app = svc
    job_id = start(client, clip, faces="none").json()["id"]
    wait_state(client, job_id, {"done"})
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert error_code(client.get(f"/v1/jobs/{job_id}/result")) == "job_not_found"
    assert app.state.jobs.held == 0


def test_a_queued_job_cancelled_never_runs(clip: bytes) -> None:
    with service(jobs=2, job_workers=1) as (client, app):
        gate = held(app)
        first = start(client, clip, faces="none").json()["id"]
        assert gate.reached.wait(30)
        second = start(client, clip, faces="none").json()
        assert second["state"] == "queued"
        assert client.delete(f"/v1/jobs/{second['id']}").status_code == 204
        assert app.state.jobs.held == 1
        gate.release.set()
        wait_state(client, first, {"done"})
        assert client.get(f"/v1/jobs/{second['id']}").status_code == 404


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_finished_jobs_expire_after_their_time_to_live(clip: bytes) -> None:
    with service(job_ttl=30, job_idle=10) as (client, app):
        clock = Clock()
        app.state.jobs.clock = clock
        job_id = start(client, clip, faces="none").json()["id"]
        assert wait_state(client, job_id, {"done"})["expires_in"] == 30
        clock.now += 29  # being asked about does not extend a finished job's life
        assert client.get(f"/v1/jobs/{job_id}").json()["expires_in"] == pytest.approx(1)
        clock.now += 2
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        assert app.state.jobs.held == 0


def test_an_unwatched_running_job_is_cancelled_after_job_idle(clip: bytes) -> None:
    with service(job_ttl=30, job_idle=10) as (client, app):
        clock = Clock()
        app.state.jobs.clock = clock
        gate = held(app)
        job_id = start(client, clip, faces="none").json()["id"]
        assert gate.reached.wait(30)
        clock.now += 8
        assert client.get(f"/v1/jobs/{job_id}").json()["expires_in"] == 10  # asked about: watched again
        clock.now += 11
        app.state.jobs.sweep()  # what the service's sweeper does every second
        assert gate.returned.wait(30) and gate.outcome == "CancelledError"
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404


# ---------------------------------------------------------------- a client that goes away


@contextlib.contextmanager
def live(**settings: Any) -> Iterator[tuple[int, FastAPI]]:
    """The service under uvicorn on a free port (real sockets, so a client can really disconnect)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(Settings(host="127.0.0.1", port=port, **settings))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (server.started and app.state.models.status == "ready"):
            assert time.monotonic() < deadline and thread.is_alive(), "service did not start"
            time.sleep(0.05)
        yield port, app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_client_that_drops_its_event_stream_leaves_the_job_to_expire(clip: bytes) -> None:
    """Decided: a dropped stream does not cancel at once (the client may come back for the result); while a
    stream is open the job counts as watched, and once nobody watches it, it is cancelled after job_idle."""
    with live(job_idle=1.0, jobs=1) as (port, app):
        gate = held(app)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            job_id = client.post("/v1/jobs", files={"video": ("a.mp4", clip)}, data={"faces": "none"}).json()["id"]
        assert gate.reached.wait(30)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/v1/jobs/{job_id}/events")
        response = conn.getresponse()
        assert response.status == 200 and response.readline().startswith(b"event: status")
        time.sleep(2.5)  # past job_idle, but watched through the open stream
        assert app.state.jobs.get(job_id).state == "running"
        conn.close()  # the client goes away
        assert gate.returned.wait(15) and gate.outcome == "CancelledError"
        with httpx.Client(base_url=base) as client:
            assert client.get(f"/v1/jobs/{job_id}").status_code == 404
            deadline = time.monotonic() + 10
            while app.state.jobs.held and time.monotonic() < deadline:
                time.sleep(0.05)
            app.state.jobs.clean = media.clean_stream
            assert client.post("/v1/jobs", files={"video": ("a.mp4", clip)}, data={"faces": "none"}).status_code == 202


# ---------------------------------------------------------------- errors and limits


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"audio": "loud"}, "invalid_options"),
        ({"video_quality": "52"}, "invalid_options"),
        ({"method": "sparkle"}, "invalid_options"),
        ({"regions": '{"boxes": [{"x": 1, "y": 1, "w": 5, "h": 5, "from": 3, "to": 1}]}'}, "invalid_options"),
        ({"report": "true"}, "invalid_request"),  # a photo-only field
        ({"colour": "red"}, "invalid_request"),
    ],
)
def test_bad_options_are_400(svc: tuple[TestClient, FastAPI], clip: bytes, fields: dict[str, str], code: str) -> None:
    client, app = svc
    r = start(client, clip, **fields)
    assert r.status_code == 400 and error_code(r) == code
    assert app.state.jobs.held == 0


def test_request_errors(svc: tuple[TestClient, FastAPI], clip: bytes) -> None:
    client, app = svc
    r = client.post("/v1/jobs", data={"faces": "none"}, files={"photo": ("a.mp4", clip)})
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    r = client.post("/v1/jobs", content=clip, headers={"content-type": "video/mp4"})
    assert r.status_code == 415 and error_code(r) == "unsupported_media_type"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    r = start(client, buf.getvalue())
    assert r.status_code == 415 and error_code(r) == "unsupported_format"
    assert "/v1/clean" in r.json()["error"]["message"]
    r = start(client, b"not a video at all")
    assert r.status_code == 415 and error_code(r) == "unsupported_format"
    for method, path in [("GET", ""), ("GET", "/result"), ("GET", "/events"), ("DELETE", "")]:
        r = client.request(method, f"/v1/jobs/no-such-job{path}")
        assert r.status_code == 404 and error_code(r) == "job_not_found", (method, path)
    assert app.state.jobs.held == 0


def test_a_corrupt_video_fails_with_its_error_and_the_result_says_why(svc: tuple[TestClient, FastAPI],
                                                                        clip: bytes) -> None:
    client, app = svc
    broken = clip[: len(clip) // 2]  # sniffs as MP4, cannot be decoded whole
    job_id = start(client, broken, faces="none").json()["id"]
    failed = wait_state(client, job_id, {"failed", "done"})
    assert failed["state"] == "failed" and failed["error"]["code"] in ("corrupt_image", "invalid_image")
    assert failed["summary"] is None
    r = client.get(f"/v1/jobs/{job_id}/result")
    assert r.status_code == 422 and error_code(r) == failed["error"]["code"]
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404  # reported once, then dropped
    assert app.state.jobs.held == 0


def test_upload_over_the_video_limit_is_413_while_it_is_read(clip: bytes) -> None:
    app = create_app(Settings(max_video_bytes=len(clip) // 2))
    sent: list[int] = []
    boundary = "b0undary"
    big = clip + b"\0" * (4 * 1024 * 1024)

    async def body() -> AsyncIterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="video"\r\n\r\n'.encode()
        for offset in range(0, len(big), 64 * 1024):
            sent.append(offset)
            yield big[offset : offset + 64 * 1024]
            await asyncio.sleep(0)
        yield f"\r\n--{boundary}--\r\n".encode()

    async def run() -> httpx.Response:
        await app.state.models.load()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
            return await c.post("/v1/jobs", content=body(), headers=headers)

    r = asyncio.run(run())
    assert r.status_code == 413 and error_code(r) == "too_large"
    assert len(sent) < len(big) // (64 * 1024) // 2, "the whole body was read before refusing it"
    assert app.state.jobs.held == 0


def test_more_jobs_than_the_limit_get_503_with_retry_after(clip: bytes) -> None:
    with service(jobs=2, job_workers=1) as (client, app):
        gate = held(app)
        first = start(client, clip, faces="none").json()["id"]
        assert gate.reached.wait(30)
        second = start(client, clip, faces="none")
        assert second.status_code == 202 and second.json()["state"] == "queued"
        third = start(client, clip, faces="none")
        assert third.status_code == 503 and error_code(third) == "busy" and int(third.headers["retry-after"]) > 0
        assert client.get("/healthz").status_code == 200
        gate.release.set()
        for job_id in (first, second.json()["id"]):
            wait_state(client, job_id, {"done"})
        # finished but not downloaded still hold memory, so they still count
        assert start(client, clip, faces="none").status_code == 503
        assert client.get(f"/v1/jobs/{first}/result").status_code == 200
        assert start(client, clip, faces="none").status_code == 202


def test_jobs_settings_from_env_and_bad_values() -> None:
    env = {"ANONYMIZER_JOBS": "3", "ANONYMIZER_JOB_WORKERS": "2", "ANONYMIZER_JOB_TTL": "60",
           "ANONYMIZER_JOB_IDLE": "5", "ANONYMIZER_MAX_VIDEO_BYTES": "1000000"}
    s = Settings.from_env(env)
    assert (s.jobs, s.job_workers, s.job_ttl, s.job_idle, s.max_video_bytes) == (3, 2, 60.0, 5.0, 1_000_000)
    assert s.video_limits.max_bytes == 1_000_000
    for bad in ({"jobs": 0}, {"job_workers": 0}, {"job_ttl": 0}, {"job_idle": -1}, {"max_video_bytes": 0}):
        with pytest.raises(OptionsError):
            Settings(**bad)


# ---------------------------------------------------------------- privacy: disk, logs, ids


@pytest.fixture
def watched_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    """A fresh temporary directory (for Python and, through TMPDIR, for C libraries), and a record of every
    attempt to create a temporary file through the tempfile module."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    calls: list[str] = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        original = getattr(tempfile, name)

        def spy(*args: object, _name: str = name, _original: Any = original, **kwargs: object) -> object:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, spy)
    yield folder, calls


def test_nothing_is_written_to_the_temporary_directory_during_a_job(
    watched_tempdir: tuple[Path, list[str]], portrait_clip: tuple[bytes, Box]
) -> None:
    folder, calls = watched_tempdir
    data = portrait_clip[0] + b"\0" * (3 * 1024 * 1024)  # large enough that Starlette would spool it
    seen: list[list[str]] = []
    with service() as (client, app):
        gate = held(app, at=5)
        job_id = start(client, data).json()["id"]
        assert gate.reached.wait(30)
        seen.append(sorted(p.name for p in folder.iterdir()))
        gate.release.set()
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            for _ in stream.iter_lines():
                seen.append(sorted(p.name for p in folder.iterdir()))
        r = client.get(f"/v1/jobs/{job_id}/result")
        assert r.status_code == 200 and int(r.headers["x-faces-obscured"]) >= 1
    assert seen and all(names == [] for names in seen)
    assert list(folder.iterdir()) == [] and calls == []


def test_logs_carry_no_job_id_file_name_or_metadata(clip: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with service() as (client, _):
        r = client.post("/v1/jobs", files={"video": ("alice-at-the-clinic.mp4", clip)}, data={"faces": "none"})
        job_id = r.json()["id"]
        wait_state(client, job_id, {"done"})
        assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200
    service_logs = [r for r in caplog.records if r.name.startswith(("anonymizer", "uvicorn", "fastapi", "starlette"))]
    text = "\n".join(r.getMessage() for r in service_logs)
    assert "GET /v1/jobs/{id}/result 200" in text and "POST /v1/jobs 202" in text
    assert job_id not in text and "alice" not in text and "50.85" not in text


# ---------------------------------------------------------------- /v1/detect on a video


def test_detect_on_a_video_gives_its_timing_poster_faces_and_metadata(
    svc: tuple[TestClient, FastAPI], portrait_clip: tuple[bytes, Box]
) -> None:
    client, _ = svc
    data, face = portrait_clip
    r = client.post("/v1/detect", files={"video": ("a.mp4", data, "video/mp4")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"]) == SIZE
    assert body["video"] == {"format": "mp4", "duration": 2.0, "frame_rate": 10.0, "frames": FRAMES,
                             "rotation": 0, "poster_time": 1.0, "audio": False}
    assert body["faces"], "the portrait's face is in the poster frame"
    found = body["faces"][0]["box"]
    assert abs(found["x"] + found["w"] / 2 - (face.x + face.w / 2)) < face.w / 3
    assert abs(found["y"] + found["h"] / 2 - (face.y + face.h / 2)) < face.h / 3
    assert any(f["category"] == "location" for f in body["metadata"]["findings"])
    poster = Image.open(io.BytesIO(base64.b64decode(body["preview"]["data"])))
    assert poster.format == "JPEG" and poster.size == SIZE and "exif" not in poster.info
    # the same video in the photo part is recognised by content
    r = client.post("/v1/detect", files={"photo": ("a.jpg", data, "image/jpeg")})
    assert r.status_code == 200 and r.json()["video"]["frames"] == FRAMES
    r = client.post("/v1/detect", files={"photo": ("a.jpg", data), "video": ("a.mp4", data)})
    assert r.status_code == 400


def test_openapi_documents_the_jobs_api(svc: tuple[TestClient, FastAPI]) -> None:
    client, _ = svc
    paths = client.get("/openapi.json").json()["paths"]
    assert {"post"} <= set(paths["/v1/jobs"]) and {"get", "delete"} <= set(paths["/v1/jobs/{job_id}"])
    assert "get" in paths["/v1/jobs/{job_id}/result"] and "get" in paths["/v1/jobs/{job_id}/events"]
    form = paths["/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["video"] and form["properties"]["audio"]["enum"] == ["keep", "drop"]
    assert {"503", "413", "415"} <= set(paths["/v1/jobs"]["post"]["responses"])


def test_a_job_that_needs_faces_waits_for_the_model_with_503(clip: bytes) -> None:
    gate = threading.Event()

    def slow_model() -> Any:
        gate.wait(30)
        return get_detector()

    app = create_app(Settings(jobs=2), detector=slow_model)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        r = start(client, clip)
        assert r.status_code == 503 and error_code(r) == "not_ready" and int(r.headers["retry-after"]) > 0
        assert app.state.jobs.held == 0
        r = start(client, clip, faces="none")  # needs no face model: runs at once
        assert r.status_code == 202
        assert wait_state(client, r.json()["id"], {"done"})["state"] == "done"
        gate.set()


def test_a_bug_in_a_job_is_an_internal_error_not_bad_input(svc: tuple[TestClient, FastAPI], clip: bytes,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    client, app = svc

    def broken(src: BinaryIO, sink: BinaryIO, options: CleanOptions, video: VideoSettings) -> Summary:
        sink.write(b"half a video")
        raise RuntimeError("a bug of ours")

    app.state.jobs.clean = broken
    job_id = start(client, clip, faces="none").json()["id"]
    failed = wait_state(client, job_id, {"failed", "done"})
    assert failed["state"] == "failed" and failed["error"]["code"] == "internal_error"
    assert "RuntimeError" in failed["error"]["message"]
    r = client.get(f"/v1/jobs/{job_id}/result")
    assert r.status_code == 500 and error_code(r) == "internal_error" and b"half a video" not in r.content
    assert any("unexpectedly" in rec.getMessage() for rec in caplog.records)


def test_host_origin_and_cors_rules_apply_to_jobs(clip: bytes) -> None:
    with service(allowed_origins=("http://localhost:3000",)) as (client, _):
        r = client.post("/v1/jobs", files={"video": ("a.mp4", clip)}, headers={"host": "evil.example"})
        assert r.status_code == 421
        r = client.post("/v1/jobs", files={"video": ("a.mp4", clip)}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403
        job_id = start(client, clip, faces="none").json()["id"]
        assert client.get(f"/v1/jobs/{job_id}", headers={"host": "evil.example"}).status_code == 421
        preflight = client.options(f"/v1/jobs/{job_id}", headers={
            "origin": "http://localhost:3000", "access-control-request-method": "DELETE"})
        assert preflight.status_code == 200 and "DELETE" in preflight.headers["access-control-allow-methods"]
        r = client.delete(f"/v1/jobs/{job_id}", headers={"origin": "http://localhost:3000"})
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "http://localhost:3000"
        r = client.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 404 and r.headers["cache-control"] == "no-store"


def test_detect_holds_one_upload_not_a_photo_and_a_video(clip: bytes) -> None:
    with service(max_bytes=1000, max_video_bytes=len(clip) + 10) as (client, _):
        r = client.post("/v1/detect", files={"video": ("a.mp4", clip)})
        assert r.status_code == 200
        r = client.post("/v1/detect", files={"photo": ("a.jpg", b"\xff\xd8" + b"\0" * 2000)})
        assert r.status_code == 413
        big = clip + b"\0" * 70_000  # over the video limit by more than the form's overhead
        r = client.post("/v1/detect", files={"video": ("a.mp4", big)})
        assert r.status_code == 413 and error_code(r) == "too_large"
    from anonymizer.api.forms import BODY_OVERHEAD, FormSpec

    assert FormSpec(files={"photo": 10, "video": 100}, one_file=True).body_limit == 100 + BODY_OVERHEAD
    assert FormSpec(files={"photo": 10, "video": 100}).body_limit == 110 + BODY_OVERHEAD


def test_detect_on_a_rotated_video_answers_for_the_upright_frame(svc: tuple[TestClient, FastAPI]) -> None:
    client, _ = svc
    rotated = make_clip(1.0, 10, SIZE, audio=False, rotation=90)
    r = client.post("/v1/detect", files={"video": ("a.mp4", rotated)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"]) == (SIZE[1], SIZE[0]) and body["video"]["rotation"] in (90, 270)
    poster = Image.open(io.BytesIO(base64.b64decode(body["preview"]["data"])))
    assert poster.size == (SIZE[1], SIZE[0])


def test_inspect_and_strip_take_a_video(svc: tuple[TestClient, FastAPI]) -> None:
    from tests.video_fixtures import frame_digests

    client = svc[0]
    clip = make_clip(0.5, 10, (64, 48), metadata={"location": "+48.8584+002.2945/"}, container="mov")
    r = client.post("/v1/inspect", files={"video": ("clip.mov", clip, "video/quicktime")})
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "mov" and not r.json()["clean"]
    r = client.post("/v1/strip", files={"video": ("clip.mov", clip, "video/quicktime")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/quicktime" and int(r.headers["x-metadata-removed"]) > 0
    assert frame_digests(r.content) == frame_digests(clip)
    r = client.post("/v1/inspect", files={"video": ("clip.mov", r.content, "video/quicktime")})
    assert r.json()["clean"]
