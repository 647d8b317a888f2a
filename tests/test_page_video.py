"""The web page with a video, in Debian's Chromium through Playwright against a live server on loopback.

A short clip made in code (the sample portrait, still, in 160x120 frames, with a location tag and a sound
track) is opened with the "Open a video…" picker; the page shows its poster frame with the face found, takes a
brush stroke for the whole clip and a box for its first second, drops the sound, runs the job, shows its
progress, plays the result in a <video> and downloads it under a neutral name. The download is checked here:
the face, the stroke and (in its second only) the box are filled in every frame, no metadata is left
(anonymizer.media.inspect_stream), there is no sound track, and nothing was stored in the browser.

ANONYMIZER_PAGE_VIDEO_SCREENSHOT=docs/page-video.png also saves the README screenshot.
"""

from __future__ import annotations

import io
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from anonymizer import media
from anonymizer.faces import get_detector
from anonymizer.types import Box
from tests.conftest import SAMPLE
from tests.test_page import Page, browser, save_screenshot, server  # noqa: F401  (fixtures)
from tests.video_fixtures import make_clip

pytestmark = pytest.mark.browser

PICKED_NAME = "Jane Example 2024-06-01 beach.mp4"
DESKTOP = {"width": 1280, "height": 860}
SIZE = (160, 120)
SECONDS, FPS = 6, 10
MAGENTA = (255, 0, 255)
BACKGROUND = (40, 120, 60)
#: every change of the job panel's state and frame count, recorded as the page shows it (an init script)
RECORD_PROGRESS = """
window.__progress = [];
document.addEventListener('DOMContentLoaded', () => {
  const job = document.querySelector('#job');
  new MutationObserver(() => window.__progress.push({
    state: job.dataset.state, frames: Number(job.dataset.frames || 0),
    value: document.querySelector('#job-progress').value, text: document.querySelector('#job-text').textContent,
  })).observe(job, { attributes: true, attributeFilter: ['data-state', 'data-frames'] });
});
"""


@pytest.fixture(scope="module")
def clip() -> tuple[bytes, Box]:
    side = 100
    image = np.asarray(Image.open(SAMPLE).convert("RGB").resize((side, side)))
    faces = get_detector().detect(image)
    assert faces, "the sample portrait must show a face"
    face = max(faces, key=lambda d: d.score).box
    x0, y0 = 55, 10

    def frame(index: int, width: int, height: int) -> np.ndarray:
        canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
        canvas[y0 : y0 + side, x0 : x0 + side] = image
        return canvas

    data = make_clip(SECONDS, FPS, SIZE, audio=True, frame_fn=frame, metadata={"location": "+50.8500+004.3500/"})
    return data, Box(face.x + x0, face.y + y0, face.w, face.h)


@pytest.fixture
def desktop(browser: Any, server: str) -> Iterator[Page]:  # noqa: F811
    page = Page(browser, server, DESKTOP)
    page.context.add_init_script(RECORD_PROGRESS)
    page.page.reload()  # the recorder runs from this load on; the first load's requests were cut short by it
    page.page.wait_for_load_state("networkidle")
    page.problems.clear()
    yield page
    page.close()


def frames_of(data: bytes) -> list[tuple[float, np.ndarray]]:
    with av.open(io.BytesIO(data), "r") as container:
        return [(float((f.pts or 0) * (f.time_base or 0)), f.to_ndarray(format="rgb24"))
                for f in container.decode(video=0)]


def near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 48) -> float:
    return float((np.abs(pixels.astype(int) - colour) <= tolerance).all(axis=-1).mean())


def test_page_cleans_a_video_as_a_job_and_downloads_it(desktop: Page, clip: tuple[bytes, Box]) -> None:
    page = desktop.page
    data, face = clip
    page.set_input_files("#video-file", files=[{"name": PICKED_NAME, "mimeType": "video/mp4", "buffer": data}])

    # The poster frame, its face, the video's facts and the metadata it carries.
    page.locator("#face-layer .face-box").first.wait_for()
    assert page.is_visible("#video-card") and page.is_hidden("#format-field") and page.is_visible("#audio-field")
    assert desktop.image_size() == SIZE
    assert "6.0 s" in page.inner_text("#video-facts") and "with sound" in page.inner_text("#video-facts")
    assert "location" in page.inner_text("#meta-before")
    assert page.is_disabled("#download")

    # Fill in magenta (easy to find in the frames), sound dropped.
    page.click("label[for='method-fill']")
    page.fill("#fill", "#ff00ff")
    page.select_option("#audio", "drop")

    # A brush stroke over the background, for the whole clip ...
    desktop.tool("brush")
    page.fill("#size", "100")  # 10% of the longer side: a radius of 16 px
    page.dispatch_event("#size", "input")
    desktop.drag([(8.0, 100.0), (30.0, 100.0)])
    # ... and a box over the top-left corner for the first second only, chosen on the time range.
    page.click("#whole-clip")
    page.fill("#span-to", "1")
    page.dispatch_event("#span-to", "input")
    assert "from 0.0 s to 1.0 s" in page.inner_text("#span-hint")
    desktop.tool("faces")
    desktop.drag([(4.0, 4.0), (34.0, 34.0)])
    assert "0.0 s to 1.0 s" in page.inner_text("#face-list")

    # Start the job; progress shows, then the result plays in the page.
    page.click("#start-job")
    page.wait_for_selector("#download[data-ready='true']", timeout=60_000)
    progress: list[dict[str, Any]] = page.evaluate("() => window.__progress")
    states = [p["state"] for p in progress]
    assert "running" in states and states[-1] == "done", progress
    assert any(p["state"] == "running" and "frame" in p["text"] for p in progress), progress
    assert page.get_attribute("#result-video", "src").startswith("blob:")
    assert page.is_visible("#result-video") and page.is_hidden("#cancel-job")
    playable = page.evaluate("() => document.querySelector('#result-video').canPlayType('video/mp4')")
    if playable:
        page.wait_for_function("() => document.querySelector('#result-video').readyState >= 1")
        duration = page.evaluate("() => document.querySelector('#result-video').duration")
        assert abs(duration - SECONDS) < 0.5
    assert "Checked by the service" in page.inner_text("#meta-after")
    assert "hidden in 60 frames" in page.inner_text("#result-summary")

    shot = os.environ.get("ANONYMIZER_PAGE_VIDEO_SCREENSHOT")
    if shot:
        page.evaluate("() => window.scrollTo(0, 0)")
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        save_screenshot(page, Path(shot))

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "video-clean.mp4"
    result = Path(download.path()).read_bytes()

    # No metadata, no sound, every frame: the face and the stroke filled, the box in its second only.
    report = media.inspect_stream(io.BytesIO(result))
    assert [f for f in report.findings if f.risk is not None] == [], report.findings
    with av.open(io.BytesIO(result)) as container:
        assert len(container.streams.audio) == 0
    frames = frames_of(result)
    assert len(frames) == SECONDS * FPS
    fx0, fy0 = round(face.x + face.w * 0.25), round(face.y + face.h * 0.25)
    fx1, fy1 = round(face.x + face.w * 0.75), round(face.y + face.h * 0.75)
    for seconds, rgb in frames:
        assert near(rgb[fy0:fy1, fx0:fx1], MAGENTA) > 0.9, f"face not hidden at {seconds:.1f} s"
        assert near(rgb[96:105, 10:28], MAGENTA) > 0.9, f"brush stroke not hidden at {seconds:.1f} s"
        box = near(rgb[8:30, 8:30], MAGENTA)
        if seconds < 0.9:
            assert box > 0.9, f"box not hidden at {seconds:.1f} s"
        elif seconds > 1.1:
            assert box < 0.1 and near(rgb[8:30, 8:30], BACKGROUND) > 0.9, f"box hidden at {seconds:.1f} s"

    # The video went out under a neutral name, with the choices made on the page.
    jobs = [form["fields"] for form in desktop.forms() if form["path"] == "/v1/jobs"]
    assert len(jobs) == 1
    sent = jobs[0]
    assert sent["video"] == "file:video" and sent["audio"] == "drop" and sent["faces"] == "auto"
    regions = json.loads(sent["regions"])
    assert "from" not in regions["strokes"][0] and regions["boxes"][0]["from"] == 0 and regions["boxes"][0]["to"] == 1
    assert PICKED_NAME not in json.dumps(desktop.forms())

    # Nothing stored in the browser.
    stored = page.evaluate(
        "async () => [localStorage.length, sessionStorage.length, document.cookie,"
        " (await indexedDB.databases()).length]"
    )
    assert stored == [0, 0, "", 0]
    assert desktop.problems == []


def test_cancel_stops_the_job_and_the_service_forgets_it(desktop: Page, clip: tuple[bytes, Box]) -> None:
    page = desktop.page
    long_clip = make_clip(30, 10, SIZE, audio=False)  # long enough to still run when Cancel is clicked
    page.set_input_files("#video-file", files=[{"name": "a.mp4", "mimeType": "video/mp4", "buffer": long_clip}])
    page.wait_for_selector("#video-card:not([hidden])")
    page.click("#start-job")
    page.wait_for_selector("#job[data-state='running']", timeout=30_000)
    assert page.is_visible("#cancel-job")
    with page.expect_request(lambda r: r.method == "DELETE" and "/v1/jobs/" in r.url) as deleted:
        page.click("#cancel-job")
    job_url = deleted.value.url
    assert page.is_hidden("#job") and "Cancelled" in page.inner_text("#status")
    assert page.is_disabled("#download")
    # The job is gone from the service.
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(job_url, timeout=5)
    assert gone.value.code == 404
    # Closing the event stream aborts its request; nothing else may fail.
    assert [p for p in desktop.problems if not p.endswith("/events")] == []
