"""The web service: every endpoint, its error codes, the OpenAPI schema and the settings.

A fake detector stands in for the model wherever detection is not the point; host, origin, size,
temporary-file and concurrency checks are in test_api_safety.py.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import anonymizer
from anonymizer import CleanOptions, imaging, obscure, pipeline
from anonymizer import summary as summary_views
from anonymizer.api.app import create_app
from anonymizer.api.server import config, configure_logging
from anonymizer.api.settings import Settings
from anonymizer.errors import OptionsError
from anonymizer.options import Method
from anonymizer.types import Box
from tests import helpers
from tests.helpers import gps_exif

BASE = "http://127.0.0.1:8000"
FACE = Box(20, 16, 24, 24)


class FakeDetector(helpers.FakeDetector):
    """Finds one face at FACE in any image; counts its calls; can be made to wait."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__(FACE, gate=gate)


def photo(fmt: str = "JPEG", size: tuple[int, int] = (96, 64), orientation: int = 1, exif: bool = True) -> bytes:
    """A small photo with a pattern (so obscuring shows), GPS and camera EXIF."""
    im = Image.new("RGB", size)
    im.putdata([((x * 16) % 256, (y * 16) % 256, ((x ^ y) * 8) % 256) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    params = {"exif": gps_exif(orientation)} if exif and fmt in ("JPEG", "WEBP", "PNG") else {}
    im.save(out, fmt, **params)
    return out.getvalue()


def make_client(
    settings: Settings | None = None, detector: Callable[[], object] | None = None, wait: bool = True
) -> TestClient:
    settings = settings or Settings(workers=1, queue=2)
    fake = detector or FakeDetector
    app = create_app(settings, detector=fake)  # type: ignore[arg-type]
    return TestClient(app, base_url=BASE, raise_server_exceptions=False)


def wait_ready(client: TestClient) -> None:
    for _ in range(200):
        if client.get("/healthz").status_code == 200:
            return
        time.sleep(0.01)
    raise AssertionError("models never became ready")


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as c:
        wait_ready(c)
        yield c


def post(client: TestClient, path: str, data: bytes, **fields: str) -> object:
    return client.post(path, files={"photo": ("holiday.jpg", data, "image/jpeg")}, data=fields)


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# --- health -------------------------------------------------------------------------------------------------


def test_healthz_reports_ready_and_version(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True and body["status"] == "ready" and body["detector"] == "fake"
    assert body["version"]


def test_healthz_is_503_while_models_load_and_photo_endpoints_wait() -> None:
    gate = threading.Event()

    def slow() -> FakeDetector:
        gate.wait(10)
        return FakeDetector()

    with make_client(detector=slow) as c:
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "loading" and r.headers["retry-after"]
        r = post(c, "/v1/detect", photo())
        assert r.status_code == 503 and error_code(r) == "not_ready" and r.headers["retry-after"]
        assert post(c, "/v1/inspect", photo()).status_code == 200  # metadata needs no model
        gate.set()
        wait_ready(c)
        assert post(c, "/v1/detect", photo()).status_code == 200


def test_model_that_fails_to_load_is_reported_not_hidden() -> None:
    from anonymizer.errors import ModelError

    def broken() -> FakeDetector:
        raise ModelError("weights do not match MANIFEST")

    with make_client(detector=broken) as c:
        for _ in range(200):
            if c.get("/healthz").json()["status"] != "loading":
                break
            time.sleep(0.01)
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "failed" and "MANIFEST" in r.json()["message"]
        r = post(c, "/v1/clean", photo())
        assert r.status_code == 500 and error_code(r) == "model_error"
        assert post(c, "/v1/clean", photo(), faces="none").status_code == 200  # no detection asked


# --- detect, inspect, strip, preview -------------------------------------------------------------------------


def test_detect_returns_upright_size_faces_and_metadata(client: TestClient) -> None:
    r = post(client, "/v1/detect", photo(size=(96, 64), orientation=6))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"], body["orientation_applied"]) == (64, 96, 6)
    assert body["faces"] == [{"box": {"x": 20.0, "y": 16.0, "w": 24.0, "h": 24.0}, "score": 0.9, "source": "fake"}]
    categories = {f["category"] for f in body["metadata"]["findings"]}
    assert "location" in categories and body["metadata"]["clean"] is False


def test_inspect_lists_gps(client: TestClient) -> None:
    r = post(client, "/v1/inspect", photo())
    assert r.status_code == 200
    body = r.json()
    assert body["format"] == "jpeg" and body["clean"] is False
    assert any(f["category"] == "location" and f["risk"] == "high" for f in body["findings"])
    assert post(client, "/v1/inspect", photo(exif=False)).json()["clean"] is True


def test_strip_removes_metadata_and_keeps_format(client: TestClient) -> None:
    r = post(client, "/v1/strip", photo())
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert int(r.headers["x-metadata-removed"]) >= 2
    assert "location" in r.headers["x-metadata-categories"]
    assert r.headers["x-lossless"] == "true"  # a JPEG's entropy-coded data is kept byte for byte
    assert pipeline.inspect(r.content).is_clean
    assert decoded(r.content).tobytes() == decoded(photo()).tobytes()  # so its pixels are the same
    assert r.headers["content-disposition"] == 'inline; filename="stripped.jpg"'


def test_strip_keep_icc_keeps_the_colour_profile(client: TestClient) -> None:
    from tests.test_metadata_keep_icc import dirty

    data = dirty("JPEG")
    r = post(client, "/v1/strip", data, keep_icc="true")
    assert r.status_code == 200, r.text
    kept = decoded(r.content).info.get("icc_profile")
    assert kept and kept == decoded(pipeline.strip(data, keep_icc=True).data).info.get("icc_profile")
    assert r.headers["x-lossless"] == "true"
    assert "icc_profile" not in decoded(post(client, "/v1/strip", data).content).info  # not kept unless asked
    assert "kept the colour profile" in r.headers["x-notes"]
    library = pipeline.strip_summary(pipeline.strip(data, keep_icc=True))
    assert r.headers["x-metadata-categories"] == ",".join(library.categories)  # the library's account, as is
    assert {f.category.value for f in pipeline.inspect(r.content).identifying} == {"colour profile"}
    r = post(client, "/v1/strip", data)
    assert "icc_profile" not in decoded(r.content).info and pipeline.inspect(r.content).is_clean
    assert "colour profile" in r.headers["x-metadata-categories"].split(",")
    r = post(client, "/v1/strip", data, keep_icc="maybe")
    assert r.status_code == 400 and error_code(r) == "invalid_options" and "keep_icc" in r.text


def test_preview_is_an_upright_jpeg_without_metadata(client: TestClient) -> None:
    r = post(client, "/v1/preview", photo(size=(96, 64), orientation=6))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    im = decoded(r.content)
    assert im.format == "JPEG" and im.size == (64, 96)
    assert (r.headers["x-image-width"], r.headers["x-image-height"]) == ("64", "96")
    assert pipeline.inspect(r.content).is_clean


def test_preview_makes_heic_viewable(client: TestClient) -> None:
    r = post(client, "/v1/preview", photo("HEIF", size=(64, 48), exif=False))
    assert r.status_code == 200, r.text
    assert decoded(r.content).format == "JPEG" and decoded(r.content).size == (64, 48)


# --- clean ---------------------------------------------------------------------------------------------------


def face_changed(original: bytes, cleaned: bytes, box: Box = FACE) -> bool:
    a = decoded(original).convert("RGB")
    b = decoded(cleaned).convert("RGB")
    cx, cy = int(box.cx), int(box.cy)
    return sum(abs(p - q) for p, q in zip(a.getpixel((cx, cy)), b.getpixel((cx, cy)), strict=True)) > 30


def test_clean_obscures_detected_face_and_strips_metadata(client: TestClient) -> None:
    original = photo("PNG", exif=True)
    r = post(client, "/v1/clean", original)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-faces-obscured"] == "1"
    assert r.headers["x-regions-obscured"] == "false"
    assert (r.headers["x-image-width"], r.headers["x-image-height"]) == ("96", "64")
    assert r.headers["x-output-format"] == "png"
    assert pipeline.inspect(r.content).is_clean
    assert face_changed(original, r.content)


def test_methods_lists_every_method_with_the_strengths_clean_accepts(client: TestClient) -> None:
    r = client.get("/v1/methods")
    assert r.status_code == 200
    listed = {m["name"]: m["strength"] for m in r.json()}
    assert set(listed) == {m.value for m in obscure.METHODS}
    for name, strength in listed.items():
        default = obscure.METHODS[Method(name)].default_cells
        if default is None:
            assert strength is None
            continue
        assert strength["default"] == default
        for cells, status in ((strength["strongest"], 200), (strength["weakest"], 200), (strength["weakest"] + 1, 400)):
            answer = post(client, "/v1/clean", photo("PNG"), method=name, strength=str(cells), faces="none")
            assert answer.status_code == status, (name, cells, answer.text)


def test_clean_faces_none_detects_nothing(client: TestClient) -> None:
    detector: FakeDetector = client.app.state.models.detector  # type: ignore[attr-defined]
    before = detector.calls
    original = photo("PNG")
    r = post(client, "/v1/clean", original, faces="none")
    assert r.status_code == 200 and r.headers["x-faces-obscured"] == "0"
    assert detector.calls == before
    assert not face_changed(original, r.content)


def test_clean_uses_the_faces_given(client: TestClient) -> None:
    original = photo("PNG")
    given = [[60, 30, 20, 20], {"x": 2, "y": 2, "w": 10, "h": 10}, {"box": {"x": 5, "y": 40, "w": 10, "h": 10}}]
    r = post(client, "/v1/clean", original, faces=json.dumps(given), method="fill", fill="#ff0000")
    assert r.status_code == 200, r.text
    assert r.headers["x-faces-obscured"] == "3"
    assert decoded(r.content).convert("RGB").getpixel((70, 40)) == (255, 0, 0)
    assert not face_changed(original, r.content)  # the detector's face was not in the list


def test_clean_face_shape_box_covers_the_corners_the_ellipse_leaves(client: TestClient) -> None:
    original = photo("PNG")
    corner = (37, 17)  # inside the 1.4x box grown about (50, 30), outside the ellipse in it
    colours = {}
    for shape in ("ellipse", "box"):
        r = post(client, "/v1/clean", original, faces="[[40, 20, 20, 20]]", method="fill", fill="#ff0000",
                 face_shape=shape)
        assert r.status_code == 200, r.text
        colours[shape] = decoded(r.content).convert("RGB").getpixel(corner)
    assert colours["box"] == (255, 0, 0) and colours["ellipse"] != (255, 0, 0)
    assert post(client, "/v1/clean", original, face_shape="circle").status_code == 400


def test_clean_regions_and_output_options(client: TestClient) -> None:
    original = photo("PNG")
    regions = {"strokes": [{"points": [[70, 10], [80, 20]], "radius": 6}], "boxes": [[2, 40, 10, 10]]}
    fields = {"faces": "none", "regions": json.dumps(regions), "output_format": "jpeg", "quality": "80",
              "method": "pixelate", "face_scale": "2"}
    r = post(client, "/v1/clean", original, **fields)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg" and r.headers["x-regions-obscured"] == "true"
    assert decoded(r.content).format == "JPEG"


def test_clean_takes_a_mask_image(client: TestClient) -> None:
    original = photo("PNG")
    mask = Image.new("L", (96, 64), 0)
    mask.paste(255, (60, 30, 90, 60))
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    files = {"photo": ("a.png", original, "image/png"), "mask": ("m.png", buf.getvalue(), "image/png")}
    r = client.post("/v1/clean", files=files, data={"faces": "none", "method": "fill", "fill": "0,0,255"})
    assert r.status_code == 200, r.text
    assert r.headers["x-regions-obscured"] == "true"
    assert decoded(r.content).convert("RGB").getpixel((75, 45)) == (0, 0, 255)


# --- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"method": "smudge"}, "invalid_options"),
        ({"quality": "0"}, "invalid_options"),
        ({"face_scale": "9"}, "invalid_options"),
        ({"fill": "purple"}, "invalid_options"),
        ({"faces": "[[1, 2, 3]]"}, "invalid_options"),
        ({"faces": "{not json"}, "invalid_options"),
        ({"faces": "[[1, 2, 0, 5]]"}, "invalid_options"),
        ({"regions": "{not json"}, "invalid_options"),
        ({"colour": "#fff"}, "invalid_request"),
    ],
)
def test_clean_bad_options_are_400(client: TestClient, fields: dict[str, str], code: str) -> None:
    r = post(client, "/v1/clean", photo(), **fields)
    assert r.status_code == 400, r.text
    assert error_code(r) == code


def test_missing_photo_and_non_multipart_are_refused(client: TestClient) -> None:
    r = client.post("/v1/clean", files={"other": ("x", b"abc")})
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    r = client.post("/v1/clean", data={"method": "blur"})
    assert r.status_code == 415 and error_code(r) == "unsupported_media_type"
    r = client.post("/v1/inspect", content=photo(), headers={"content-type": "image/jpeg"})
    assert r.status_code == 415 and error_code(r) == "unsupported_media_type"
    body = b"--xyz\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nabc"  # never closed
    r = client.post("/v1/inspect", content=body, headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400 and error_code(r) == "invalid_request"


@pytest.mark.parametrize("path", ["/v1/detect", "/v1/clean", "/v1/strip", "/v1/inspect", "/v1/preview"])
def test_not_an_image_is_415_and_truncated_is_422(client: TestClient, path: str) -> None:
    r = post(client, path, b"%PDF-1.7 definitely not a photo")
    assert r.status_code == 415 and error_code(r) == "unsupported_format"
    r = post(client, path, photo()[:300])
    assert r.status_code == 422 and error_code(r) == "corrupt_image"


def test_over_the_pixel_limit_is_413() -> None:
    with make_client(Settings(workers=1, queue=1, max_pixels=1000)) as c:
        wait_ready(c)
        r = post(c, "/v1/clean", photo(size=(96, 64)))
        assert r.status_code == 413 and error_code(r) == "too_large"


def test_failed_verification_is_500_and_returns_no_image(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The encoder is made to leak GPS into its output; the pipeline's real verification must catch it.
    real_encode = imaging.encode

    def leaky(*args: object, **kwargs: object) -> bytes:
        out = real_encode(*args, **kwargs)  # type: ignore[arg-type]
        exif = gps_exif()  # piexif's dump starts with the Exif header
        return out[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + out[2:]

    monkeypatch.setattr(imaging, "encode", leaky)
    r = post(client, "/v1/clean", photo(), output_format="jpeg")
    assert r.status_code == 500 and error_code(r) == "verification_failed", r.text
    assert "GPS" in r.json()["error"]["message"]
    assert r.headers["content-type"] == "application/json" and b"\xff\xd8" not in r.content
    r = post(client, "/v1/clean", photo(), output_format="jpeg", report="true")
    assert r.status_code == 500 and error_code(r) == "verification_failed"


def test_unexpected_error_is_500_with_the_same_shape(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(anonymizer.media, "inspect_stream", crash)
    r = post(client, "/v1/inspect", photo())
    assert r.status_code == 500 and error_code(r) == "internal_error"
    assert "boom" not in r.text


def test_unknown_path_and_method_use_the_error_shape(client: TestClient) -> None:
    assert error_code(client.get("/v1/nothing")) == "not_found"
    r = client.get("/v1/clean")
    assert r.status_code == 405 and error_code(r) == "method_not_allowed" and r.headers["allow"] == "POST"


# --- schema, page, server, settings ----------------------------------------------------------------------------


def test_openapi_documents_every_endpoint_with_multipart_and_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/v1/detect", "/v1/clean", "/v1/strip", "/v1/inspect", "/v1/preview"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert body["properties"]["photo"] == {**body["properties"]["photo"], "format": "binary"}
        assert body["required"] == ["photo"]
        assert "413" in schema["paths"][path]["post"]["responses"]
    clean = schema["paths"]["/v1/clean"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(clean["properties"]["method"]["enum"]) == {"blur", "pixelate", "fill", "mask"}
    assert clean["properties"]["faces"]["examples"]
    assert clean["properties"]["strength"]["type"] == "number"  # absent, never null, in a form
    assert "examples" in schema["components"]["schemas"]["DetectOut"]
    assert "/healthz" in schema["paths"]


def test_docs_and_page_load_nothing_from_the_network(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "https://" not in docs.text and "http://" not in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_server_config_binds_loopback_without_access_log() -> None:
    cfg = config(Settings())
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)
    assert cfg.access_log is False and cfg.proxy_headers is False and cfg.server_header is False


def test_server_logging_keeps_image_libraries_quiet() -> None:
    configure_logging()
    assert not logging.getLogger("PIL").isEnabledFor(logging.DEBUG)  # Pillow logs EXIF values at DEBUG


def test_settings_from_env_and_overrides() -> None:
    env = {
        "ANONYMIZER_PORT": "9000",
        "ANONYMIZER_ALLOWED_ORIGINS": "http://localhost:5173, https://App.example",
        "ANONYMIZER_ALLOWED_HOSTS": "Anon.Local",
        "ANONYMIZER_MAX_BYTES": "1000000",
        "ANONYMIZER_WORKERS": "3",
        "ANONYMIZER_QUEUE": "0",
    }
    s = Settings.from_env(env, port=None, host="::1", allowed_origins=())
    assert (s.host, s.port, s.workers, s.queue, s.max_bytes) == ("::1", 9000, 3, 0, 1_000_000)
    assert s.allowed_origins == ("http://localhost:5173", "https://app.example")
    assert "anon.local" in s.hosts and "localhost" in s.hosts
    assert s.limits.max_bytes == 1_000_000
    assert s.base_url == "http://[::1]:9000"
    assert Settings("127.0.0.1", 8001, 1, ["http://a.test"], 5).allowed_origins == ("http://a.test",)


@pytest.mark.parametrize(
    "env",
    [
        {"ANONYMIZER_PORT": "eighty"},
        {"ANONYMIZER_ALLOWED_ORIGINS": "*"},
        {"ANONYMIZER_ALLOWED_ORIGINS": "localhost:3000"},
        {"ANONYMIZER_WORKERS": "0"},
        {"ANONYMIZER_MAX_BYTES": "-1"},
    ],
)
def test_settings_refuse_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(OptionsError):
        Settings.from_env(env)


# --- one summary, one set of defaults, one upload (issue 13) -----------------------------------------------------


def cli_json(tmp_path: Path, *args: str) -> dict[str, object]:
    from typer.testing import CliRunner

    from anonymizer.cli.main import app

    run = CliRunner().invoke(app, [*args, "--json"])
    assert run.exit_code == 0, run.output
    files = json.loads(run.stdout)["files"]
    assert len(files) == 1
    return dict(files[0])


def header_view(headers: object) -> dict[str, object]:
    """The summary headers as the values `--json` gives."""
    h = headers  # httpx.Headers
    removed = h["x-metadata-removed"]  # type: ignore[index]
    view: dict[str, object] = {
        "metadata_removed": None if removed == "unknown" else int(removed),
        "metadata_categories": [c for c in h["x-metadata-categories"].split(",") if c],  # type: ignore[index]
        "width": int(h["x-image-width"]),  # type: ignore[index]
        "height": int(h["x-image-height"]),  # type: ignore[index]
        "orientation_applied": int(h["x-orientation-applied"]),  # type: ignore[index]
        "format": h["x-output-format"],  # type: ignore[index]
        "lossless": h["x-lossless"] == "true",  # type: ignore[index]
        "notes": json.loads(h.get("x-notes", "[]")),  # type: ignore[attr-defined]
    }
    if "x-faces-obscured" in h:  # type: ignore[operator]
        view["faces_obscured"] = int(h["x-faces-obscured"])  # type: ignore[index]
        view["regions_obscured"] = h["x-regions-obscured"] == "true"  # type: ignore[index]
    return view


def test_cli_json_and_api_headers_give_the_same_summary(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = photo(orientation=6)
    (tmp_path / "p.jpg").write_bytes(data)
    detected = post(client, "/v1/detect", data).text  # the reviewed face list, as a page or a person keeps it
    (tmp_path / "faces.json").write_text(detected)
    cli = cli_json(tmp_path, "clean", "p.jpg", "--faces", "faces.json", "--box", "50,70,8,8", "-o", "c.jpg")
    r = post(client, "/v1/clean", data, faces=detected, regions='{"boxes": [[50, 70, 8, 8]]}')
    api = header_view(r.headers)
    assert api == {key: cli[key] for key in api}
    assert (api["faces_obscured"], api["regions_obscured"], api["orientation_applied"]) == (1, True, 6)
    assert int(str(api["metadata_removed"])) >= 2 and "location" in api["metadata_categories"]  # type: ignore[operator]

    # the same photo without regions: no "regions obscured" in either (issue 13's disagreement)
    cli = cli_json(tmp_path, "clean", "p.jpg", "--faces", "faces.json", "-o", "d.jpg")
    api = header_view(post(client, "/v1/clean", data, faces=detected).headers)
    assert api == {key: cli[key] for key in api} and api["regions_obscured"] is False

    cli = cli_json(tmp_path, "strip", "p.jpg", "-o", "s.jpg")
    api = header_view(post(client, "/v1/strip", data).headers)
    assert "faces_obscured" not in api and api == {key: cli[key] for key in api}


def test_clean_report_answers_json_with_the_summary_and_the_outputs_own_report(client: TestClient) -> None:
    data = photo()
    plain = post(client, "/v1/clean", data)
    r = post(client, "/v1/clean", data, report="true")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"summary", "output_report", "mime", "filename", "image"}
    image = base64.b64decode(body["image"])
    assert decoded(image).size == (96, 64) and body["mime"] == "image/jpeg" and body["filename"] == "clean.jpg"
    assert body["output_report"] == summary_views.report(pipeline.inspect(image))
    assert body["output_report"]["clean"] is True
    summary = body["summary"]
    assert {k: v for k, v in header_view(plain.headers).items()} == {k: summary[k] for k in header_view(plain.headers)}
    assert summary["bytes"] == len(image) and summary["operation"] == "clean"


def test_detect_with_preview_returns_the_upright_photo_in_the_same_answer(client: TestClient) -> None:
    r = post(client, "/v1/detect", photo(size=(96, 64), orientation=6), preview="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["preview"]["mime"] == "image/jpeg"
    image = base64.b64decode(body["preview"]["data"])
    assert decoded(image).size == (body["width"], body["height"]) == (64, 96)
    assert pipeline.inspect(image).is_clean and body["faces"] and body["metadata"]["clean"] is False
    assert post(client, "/v1/detect", photo()).json()["preview"] is None


def test_erasing_strokes_take_back_brushed_pixels(client: TestClient) -> None:
    data = photo(size=(96, 64), exif=False)
    untouched = decoded(post(client, "/v1/clean", data, faces="none", output_format="png").content)
    brushed = {"points": [[4, 32], [92, 32]], "radius": 6}
    erased = {"points": [[48, 16], [48, 48]], "radius": 12, "erase": True}
    r = post(client, "/v1/clean", data, faces="none", output_format="png",
             regions=json.dumps({"strokes": [brushed, erased]}))
    assert r.status_code == 200 and r.headers["x-regions-obscured"] == "true"
    out, before = np.asarray(decoded(r.content)), np.asarray(untouched)
    assert np.array_equal(out[26:38, 40:56], before[26:38, 40:56])  # under the eraser: the photo as it was
    assert not np.array_equal(out[28:36, 8:20], before[28:36, 8:20])  # the rest of the stroke: obscured
    r = post(client, "/v1/clean", data, faces="none", regions=json.dumps({"strokes": [erased]}))
    assert r.headers["x-regions-obscured"] == "false"  # erasing alone covers nothing


def test_formats_endpoint_is_the_registry_and_the_schema_uses_it(client: TestClient) -> None:
    listed = client.get("/v1/formats").json()
    assert [f["name"] for f in listed] == list(anonymizer.FORMATS)
    for entry in listed:
        fmt = anonymizer.FORMATS[entry["name"]]
        assert entry == {"name": fmt.name, "label": fmt.label, "mime": fmt.mime, "suffixes": list(fmt.suffixes),
                         "kind": fmt.kind.value, "writable": fmt.writable, "lossy": fmt.lossy}
    writable = {f["name"] for f in listed if f["writable"]}
    schema = client.get("/openapi.json").json()
    clean = schema["paths"]["/v1/clean"]["post"]
    assert set(clean["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["output_format"]
               ["enum"]) == writable | {"same"}
    photos = {f["mime"] for f in listed if f["kind"] == "photo"}
    assert set(schema["paths"]["/v1/strip"]["post"]["responses"]["200"]["content"]) == photos


def test_form_defaults_and_ranges_are_the_librarys(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    props = schema["paths"]["/v1/clean"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"][
        "properties"]
    ranges = [r for r in map(obscure.strength_range, obscure.METHODS) if r is not None]
    assert (props["strength"]["minimum"], props["strength"]["maximum"]) == (1, obscure.MAX_CELLS)
    assert min(r.strongest for r in ranges) == 1 and max(r.weakest for r in ranges) == obscure.MAX_CELLS
    defaults = CleanOptions()
    for name in ("method", "face_scale", "face_shape", "quality", "background", "output_format", "keep_icc"):
        assert props[name]["default"] == getattr(defaults, name), name
    for name, low, high, step in (("quality", 1, 100, 1), ("face_scale", 1.0, 4.0, 0.01)):
        assert (props[name]["minimum"], props[name]["maximum"]) == (low, high)
        CleanOptions(**{name: props[name]["minimum"]})
        CleanOptions(**{name: props[name]["maximum"]})  # the ends are accepted by the library ...
        for outside in (props[name]["minimum"] - step, props[name]["maximum"] + step):
            with pytest.raises(OptionsError):  # ... and just past them refused, as the schema says
                CleanOptions(**{name: outside})
    for method in obscure.METHODS:
        bounds = obscure.strength_range(method)
        if bounds is not None:  # the service refuses what the library refuses, with 400
            r = post(client, "/v1/clean", photo(), method=method.value, strength=str(bounds.weakest + 1))
            assert r.status_code == 400 and error_code(r) == "invalid_options"


def test_serve_prints_its_address_once(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        command = [sys.executable, "-c", "from anonymizer.cli.main import run; run()", "serve", "--port", str(port)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                time.sleep(0.2)
            time.sleep(0.5)  # anything uvicorn logs on start-up is out by now
        finally:
            proc.terminate()
            proc.wait(20)
    lines = [line for line in log.read_text().splitlines() if f"127.0.0.1:{port}" in line]
    assert len(lines) == 1, log.read_text()[-2000:]


def test_review_is_detect_inspect_and_preview_of_one_upload() -> None:
    from anonymizer import review

    data = photo(size=(96, 64), orientation=6)
    found = review.review(data, FakeDetector(), with_preview=True)  # type: ignore[arg-type]
    assert (found.detected.width, found.detected.height) == (64, 96) and len(found.detected.faces) == 1
    assert found.metadata is not None and any(f.category.value == "location" for f in found.metadata.findings)
    assert found.preview is not None and decoded(found.preview.data).size == (64, 96)
    assert pipeline.inspect(found.preview.data).is_clean and found.preview.faces == ()
    assert review.review(data, FakeDetector()).preview is None  # type: ignore[arg-type]
    assert found.to_json()["metadata"]["clean"] is False and "preview" not in found.to_json()


def test_needs_detector_only_when_faces_are_neither_given_nor_off() -> None:
    from anonymizer import review

    assert review.needs_detector(CleanOptions())
    assert not review.needs_detector(CleanOptions(detect_faces=False))
    assert not review.needs_detector(CleanOptions(faces=()))
    assert not review.needs_detector(CleanOptions(faces=(Box(1, 1, 4, 4),)))
