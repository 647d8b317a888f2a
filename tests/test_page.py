"""The web page at /, driven in Debian's Chromium through Playwright against a live server on loopback.

The page opens the sample portrait, shows the face the service finds, lets one be switched off and on,
takes a brush stroke, and downloads the clean copy; the file is checked here with PIL and numpy (face and
brushed area obscured, the rest intact), with anonymizer.inspect (no metadata) and by its name.

Chromium is /usr/bin/chromium (the `chromium` package; .ci/run installs it). Without it these tests skip,
or fail when CI or ANONYMIZER_REQUIRE_SHARED=1 is set. `playwright install` is never needed.

ANONYMIZER_PAGE_SCREENSHOT=docs/page.png makes the first test also save the README screenshot.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import anonymizer
from anonymizer import obscure
from anonymizer.options import CleanOptions, FaceShape, Method
from tests.conftest import SAMPLE
from tests.live_server import running_service

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: the name the photo is picked under: it must never come back in the download's name
PICKED_NAME = "Jane Example 2024-06-01 beach.jpg"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
SCREENSHOT_MAX_BYTES = 300_000
#: Chromium does not hand multipart bodies holding files to Playwright, so the page's fetch is watched:
#: the fields of each form it posts are recorded, file parts as "file:<the name sent>" (an init script,
#: run before the page's own).
RECORD_FORMS = """
window.__forms = [];
const originalFetch = window.fetch;
window.fetch = function (url, init) {
  if (init && init.body instanceof FormData) {
    const fields = {};
    for (const [name, value] of init.body.entries()) {
      fields[name] = typeof value === 'string' ? value : `file:${value.name}`;
    }
    window.__forms.push({ path: new URL(url, location.href).pathname, fields });
  }
  return originalFetch.apply(this, arguments);
};
"""
#: a DataTransfer holding one file, as a drag from the desktop would bring it
DATA_TRANSFER = """([base64, name]) => {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: 'image/jpeg' }));
  return transfer;
}"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") or os.environ.get("ANONYMIZER_REQUIRE_SHARED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


# ---------------------------------------------------------------- server and browser


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real service (bundled face model) on a free 127.0.0.1 port, in a thread."""
    with running_service(workers=2, queue=8) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing: install the Debian package `chromium` (.ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Page:
    """A page on the service, with every console error, page error and failed request collected."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, accept_downloads=True, device_scale_factor=1)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.add_init_script(RECORD_FORMS)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.base = base
        self.page.goto(base + "/")

    def open_sample(self, drop: bool = False) -> None:
        """Opens the sample portrait with the file picker, or by dropping it on the page."""
        if drop:
            encoded = base64.b64encode(SAMPLE.read_bytes()).decode()
            data = self.page.evaluate_handle(DATA_TRANSFER, [encoded, PICKED_NAME])
            self.page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": data})
            assert self.page.is_visible("#drop-overlay")
            self.page.dispatch_event("#dropzone", "drop", {"dataTransfer": data})
        else:
            files = [{"name": PICKED_NAME, "mimeType": "image/jpeg", "buffer": SAMPLE.read_bytes()}]
            self.page.set_input_files("#file", files=files)
        self.page.locator("#face-layer .face-box").first.wait_for()
        self.wait_clean()
        assert self.page.is_hidden("#drop-overlay")

    def wait_clean(self) -> None:
        """Until the clean copy of the current marks is shown and its metadata check has passed."""
        self.page.wait_for_selector("#download[data-ready='true']")
        self.page.wait_for_selector("#meta-after [data-clean='true']")

    def to_page(self, x: float, y: float) -> tuple[float, float]:
        """Upright image pixels -> page coordinates of the editing stage."""
        box = self.page.locator("#stage").bounding_box()
        width, height = self.image_size()
        return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height

    def image_size(self) -> tuple[int, int]:
        size = self.page.evaluate("() => [document.querySelector('#photo').naturalWidth,"
                                  " document.querySelector('#photo').naturalHeight]")
        return int(size[0]), int(size[1])

    def drag(self, points: list[tuple[float, float]]) -> None:
        self.page.locator("#stage").scroll_into_view_if_needed()
        mouse = self.page.mouse
        mouse.move(*self.to_page(*points[0]))
        mouse.down()
        for point in points[1:]:
            mouse.move(*self.to_page(*point), steps=6)
        mouse.up()

    def tool(self, name: str) -> None:
        self.page.click(f"label[for='tool-{name}']")

    def forms(self) -> list[dict[str, Any]]:
        """Every form the page posted so far: [{"path": "/v1/clean", "fields": {...}}, ...]."""
        forms: list[dict[str, Any]] = self.page.evaluate("() => window.__forms")
        return forms

    def clean_forms(self) -> list[dict[str, str]]:
        return [form["fields"] for form in self.forms() if form["path"] == "/v1/clean"]

    @contextmanager
    def expect_clean(self, check: Callable[[dict[str, str]], bool]) -> Iterator[list[dict[str, str]]]:
        """Waits, after the block, for a POST /v1/clean whose form fields pass `check`; yields [those fields]."""
        seen = len(self.clean_forms())
        found: list[dict[str, str]] = []
        yield found
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            found.extend(f for f in self.clean_forms()[seen:] if check(f))
            if found:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"no /v1/clean request matched; sent: {self.clean_forms()[seen:]}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser: Any, server: str) -> Iterator[Page]:
    page = Page(browser, server, DESKTOP)
    yield page
    page.close()


@pytest.fixture
def phone(browser: Any, server: str) -> Iterator[Page]:
    page = Page(browser, server, PHONE)
    yield page
    page.close()


# ---------------------------------------------------------------- helpers on requests and pixels


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def detail(region: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: what a blur or a fill takes away."""
    return float(np.abs(np.diff(region, axis=0)).mean() + np.abs(np.diff(region, axis=1)).mean())


def window(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = (round(v) for v in box)
    return image[y : y + h, x : x + w]


def strokes_sent(fields: dict[str, str]) -> list[dict[str, Any]]:
    """The strokes a /v1/clean form carried in its regions field."""
    strokes: list[dict[str, Any]] = json.loads(fields.get("regions", "{}")).get("strokes", [])
    return strokes


def save_screenshot(page: Any, target: Path) -> None:
    """The README screenshot, as a palette PNG small enough for the repository."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    target.parent.mkdir(parents=True, exist_ok=True)
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, "PNG", optimize=True
    )
    assert target.stat().st_size < SCREENSHOT_MAX_BYTES, f"{target} is {target.stat().st_size} bytes"


# ---------------------------------------------------------------- tests


def test_page_hides_face_and_stroke_and_downloads_a_clean_copy(desktop: Page) -> None:
    page = desktop.page
    desktop.open_sample()
    width, height = desktop.image_size()
    assert (width, height) == Image.open(SAMPLE).size

    # The face the service found is boxed over the photo and listed; the metadata panel shows the GPS tag.
    face = page.locator("#face-layer .face-box").first
    face_box = tuple(float(v) for v in face.get_attribute("data-box").split(","))
    checkbox = page.locator(f"#face-list input[data-id='{face.get_attribute('data-id')}']")
    assert checkbox.is_checked()
    assert "GPS position" in page.inner_text("#meta-before")

    # A click on the box switches it off (a false detection): the next clean copy is asked without it.
    with desktop.expect_clean(lambda f: f.get("faces") == "[]"):
        face.click()
    assert not checkbox.is_checked() and "off" in (face.get_attribute("class") or "")
    # ... and the keyboard switches it back on from the list.
    checkbox.focus()
    with desktop.expect_clean(lambda f: len(json.loads(f.get("faces", "[]"))) == 1):
        page.keyboard.press("Space")
    assert checkbox.is_checked()
    assert "off" not in (page.locator("#face-layer .face-box").first.get_attribute("class") or "")

    # A brush stroke over the mission patch (a mark that could identify someone), in image pixels.
    desktop.tool("brush")
    stroke = [(140.0, 384.0), (172.0, 380.0), (205.0, 386.0)]
    with desktop.expect_clean(lambda f: "strokes" in f.get("regions", "")) as sent:
        desktop.drag(stroke)
    regions = json.loads(sent[0]["regions"])
    (painted,) = regions["strokes"]
    radius = painted["radius"]
    assert radius >= 8
    assert abs(painted["points"][0][0] - stroke[0][0]) <= 2 and abs(painted["points"][-1][1] - stroke[-1][1]) <= 2
    desktop.wait_clean()
    assert "1 face and marked areas hidden" in page.inner_text("#result-summary")

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "photo-clean.jpg"
    data = Path(download.path()).read_bytes()

    assert anonymizer.inspect(data).is_clean
    before, after = pixels(SAMPLE.read_bytes()), pixels(data)
    assert after.shape == before.shape
    # The face: its detail gone and its pixels changed.
    assert detail(window(after, face_box)) < 0.35 * detail(window(before, face_box))
    assert np.abs(window(after, face_box) - window(before, face_box)).mean() > 10
    # The brushed band (inside the brush radius along the stroke): obscured too.
    band = (stroke[0][0], 380.0 - radius / 3, stroke[-1][0] - stroke[0][0], radius / 3 * 2 + 6)
    assert detail(window(after, band)) < 0.35 * detail(window(before, band))
    assert np.abs(window(after, band) - window(before, band)).mean() > 10
    # Far from both (the flag), the photo is the same but for JPEG re-encoding.
    flag = (8.0, 110.0, 50.0, 90.0)
    assert np.abs(window(after, flag) - window(before, flag)).mean() < 4

    # The photo went to the service under a neutral name in every request, never the one it was picked under;
    # it was uploaded once to open it (faces, metadata and preview in one answer), then only to clean it, and the
    # clean copy never went back to the service (its report comes with it).
    sent = desktop.forms()
    assert [form["path"] for form in sent].count("/v1/detect") == 1
    assert {form["path"] for form in sent} == {"/v1/detect", "/v1/clean"}
    assert {form["fields"]["photo"] for form in sent} == {"file:photo"}
    assert all(form["fields"]["report"] == "true" for form in sent if form["path"] == "/v1/clean")

    # Nothing was stored in the browser.
    stored = page.evaluate(
        "async () => [localStorage.length, sessionStorage.length, document.cookie,"
        " (await indexedDB.databases()).length]"
    )
    assert stored == [0, 0, "", 0]
    assert desktop.problems == []

    screenshot = os.environ.get("ANONYMIZER_PAGE_SCREENSHOT")
    if screenshot:
        desktop.drag([(284.0, 357.0), (326.0, 355.0)])  # the name badge too, for the picture
        page.mouse.move(5, 5)
        desktop.wait_clean()
        page.wait_for_timeout(500)
        save_screenshot(page, Path(screenshot))


def test_page_adds_a_box_erases_undoes_and_fits_a_phone(phone: Page) -> None:
    page = phone.page
    # Every control is labelled; the page is as wide as the phone.
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input:not([type=file]), select')]"
        ".filter(e => !e.labels || !e.labels.length).map(e => e.id)"
    )
    assert unlabelled == []
    phone.open_sample(drop=True)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    # Drag a box for a face the detector missed; undo takes it away, redo brings it back.
    with phone.expect_clean(lambda f: len(json.loads(f.get("faces", "[]"))) == 2):
        phone.drag([(380.0, 40.0), (460.0, 120.0)])
    added = page.locator("#face-list li", has_text="added box 1")
    assert added.locator("input").is_checked()
    with phone.expect_clean(lambda f: len(json.loads(f.get("faces", "[]"))) == 1):
        page.click("#undo")
    assert added.count() == 0
    page.click("#redo")
    assert added.count() == 1

    # Brush, then erase part of it: the eraser goes as an erasing stroke after the brush stroke, drawn by the
    # library (no mask image is drawn in the page); undoing the erase sends the brush stroke alone again.
    phone.tool("brush")
    with phone.expect_clean(lambda f: len(strokes_sent(f)) == 1):
        phone.drag([(60.0, 300.0), (120.0, 300.0)])
    phone.tool("eraser")
    with phone.expect_clean(lambda f: [s.get("erase", False) for s in strokes_sent(f)] == [False, True]) as sent:
        phone.drag([(100.0, 290.0), (100.0, 310.0)])
    assert all("mask" not in f for f in phone.clean_forms())
    erased = strokes_sent(sent[0])[1]
    assert abs(erased["points"][0][0] - 100) <= 2 and abs(erased["points"][-1][1] - 310) <= 2
    with phone.expect_clean(lambda f: [s.get("erase", False) for s in strokes_sent(f)] == [False]):
        page.keyboard.press("Control+z")
    phone.wait_clean()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.problems == []


def test_page_strength_follows_each_methods_own_default_and_range(desktop: Page) -> None:
    page = desktop.page
    defaults = {m.value: obscure.METHODS[m].default_cells for m in (Method.BLUR, Method.PIXELATE)}
    with desktop.expect_clean(lambda f: f.get("method") == "blur") as sent:
        desktop.open_sample()
    # The first clean copy uses blur at the library's own default, and the slider says so.
    assert sent[0]["strength"] == str(defaults["blur"])
    assert page.inner_text("#strength-out") == f"{defaults['blur']} cells across"
    assert page.get_attribute("#strength", "max") == str(obscure.MAX_CELLS)

    with desktop.expect_clean(lambda f: f.get("method") == "pixelate") as sent:
        page.click("label[for='method-pixelate']")
    assert sent[0]["strength"] == str(defaults["pixelate"])
    assert page.inner_text("#strength-out") == f"{defaults['pixelate']} cells across"

    # Moving the slider right makes pixelate stronger (fewer cells); blur keeps its own setting.
    stronger = defaults["pixelate"] - 2
    slider = 1 + obscure.MAX_CELLS - stronger
    with desktop.expect_clean(lambda f: f.get("strength") == str(stronger)):
        page.eval_on_selector(
            "#strength",
            "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true}));"
            " el.dispatchEvent(new Event('change', {bubbles: true})); }",
            slider,
        )
    assert page.inner_text("#strength-out") == f"{stronger} cells across"
    with desktop.expect_clean(lambda f: f.get("method") == "blur") as sent:
        page.click("label[for='method-blur']")
    assert sent[0]["strength"] == str(defaults["blur"])
    with desktop.expect_clean(lambda f: f.get("method") == "fill") as sent:
        page.click("label[for='method-fill']")
    assert "strength" not in sent[0] and page.is_disabled("#strength")
    # Faces go out as the library's default shape until the user picks the other one.
    assert sent[0]["face_shape"] == CleanOptions().face_shape.value
    other = next(shape.value for shape in FaceShape if shape is not CleanOptions().face_shape)
    with desktop.expect_clean(lambda f: f.get("face_shape") == other):
        page.select_option("#face-shape", other)
    assert desktop.problems == []


def test_page_takes_its_formats_from_the_registry(desktop: Page) -> None:
    page = desktop.page
    page.wait_for_function("() => document.querySelectorAll('#format option').length > 1")
    photos = [f for f in anonymizer.FORMATS.values() if f.kind is anonymizer.Kind.PHOTO]
    accept = set(page.get_attribute("#file", "accept").split(","))
    assert accept == {f.mime for f in photos} | {s for f in photos for s in f.suffixes}
    offered = page.eval_on_selector_all("#format option", "options => options.map(o => o.value)")
    assert offered == ["same", *(f.name for f in photos if f.writable)]
    assert all(f.label in page.inner_text("#open-hint") for f in photos)

    # A clean copy asked for in another format downloads with that format's own suffix.
    desktop.open_sample()
    webp = anonymizer.FORMATS["webp"]
    with desktop.expect_clean(lambda f: f.get("output_format") == "webp"):
        page.select_option("#format", "webp")
    desktop.wait_clean()
    with page.expect_download() as download_info:
        page.click("#download")
    assert download_info.value.suggested_filename == f"photo-clean{webp.extension}"
    assert Image.open(download_info.value.path()).format == "WEBP"
    assert desktop.problems == []
