"""The web page at / (api/static/index.html when installed) and the API docs, both served offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parents[1] / "static"
DOCS_ASSETS = "/docs-assets"

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Photo anonymizer</title></head>
<body><h1>Photo anonymizer</h1><p>The web page is not installed. The API is documented at
<a href="/docs">/docs</a>.</p></body></html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> Response:
    index = STATIC / "index.html"
    if index.is_file():
        return FileResponse(index, media_type="text/html")
    return HTMLResponse(PLACEHOLDER)


def docs_assets() -> Path | None:
    """Swagger UI files bundled by fastapi-offline, so /docs loads nothing from the network."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Photo anonymizer API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
    )


def mount_files(app: FastAPI) -> None:
    """/static for the page's own files, /docs with its assets when they are installed (never a CDN)."""
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    assets = docs_assets()
    if assets is not None:
        app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")
        app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
