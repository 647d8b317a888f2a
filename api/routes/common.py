"""What the image-returning endpoints share: summary headers (a view of anonymizer.Summary), their OpenAPI
description, the JSON form of a clean with its report, and form-field validation."""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from anonymizer import OptionsError, Report, Summary
from anonymizer import formats as registry
from anonymizer import summary as views

from ..forms import Form

FormModel = TypeVar("FormModel", bound=BaseModel)
NOTE_LIMIT = 500

SUMMARY_HEADERS: dict[str, str] = {
    "X-Faces-Obscured": "clean: number of faces obscured (detected or given)",
    "X-Regions-Obscured": "clean: true when the user's strokes, boxes, ellipses, polygons or mask covered something",
    "X-Metadata-Removed": "number of identifying metadata items the input carried and the output does not "
    "('unknown' when the input's container could not be read)",
    "X-Metadata-Categories": "their categories, comma-separated (location, identity, device ...)",
    "X-Image-Width": "width of the upright output",
    "X-Image-Height": "height of the upright output",
    "X-Orientation-Applied": "EXIF orientation applied to the pixels (1 = none)",
    "X-Output-Format": "format of the output (a name from GET /v1/formats)",
    "X-Lossless": "true when the compressed pixel data was kept byte for byte (strip only; a clean re-encodes)",
    "X-Notes": "anything worth knowing, e.g. that only the first frame was kept: a JSON array of strings in "
    "ASCII (\\u escapes), as `notes` in the JSON",
}

IMAGE_RESPONSE: dict[str, Any] = {
    "description": "the image, with summary headers",
    "content": {f.mime: {"schema": {"type": "string", "format": "binary"}} for f in registry.photos()},
    "headers": {name: {"description": text, "schema": {"type": "string"}} for name, text in SUMMARY_HEADERS.items()},
}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def summary_headers(summary: Summary) -> dict[str, str]:
    """The X-* headers: the same values as the summary's JSON (and `anonymize clean/strip --json`)."""
    view = summary.to_json()
    removed = view["metadata_removed"]
    headers = {
        "X-Metadata-Removed": "unknown" if removed is None else str(removed),
        "X-Metadata-Categories": ",".join(view["metadata_categories"]),
        "X-Image-Width": str(view["width"]),
        "X-Image-Height": str(view["height"]),
        "X-Orientation-Applied": str(view["orientation_applied"]),
        "X-Output-Format": view["format"],
        "X-Lossless": _flag(view["lossless"]),
    }
    if summary.operation == "clean":
        headers["X-Faces-Obscured"] = str(view["faces_obscured"])
        headers["X-Regions-Obscured"] = _flag(view["regions_obscured"])
    if view["notes"]:
        headers["X-Notes"] = notes_header(view["notes"])
    return headers


def notes_header(notes: list[str]) -> str:
    """The notes as one header value: a JSON array, ASCII only (non-ASCII as \\u escapes), each note bounded."""
    return json.dumps([note[:NOTE_LIMIT] for note in notes], ensure_ascii=True)


def download_name(stem: str, format_name: str) -> str:
    """A neutral file name for the output, its suffix the one the registry writes for its format."""
    fmt = registry.FORMATS.get(format_name)
    return f"{stem}{fmt.extension if fmt is not None else ''}"


def image_headers(summary: Summary, stem: str) -> dict[str, str]:
    return {
        **summary_headers(summary),
        "Content-Disposition": f'inline; filename="{download_name(stem, summary.format)}"',
    }


def with_report(summary: Summary, data: bytes, mime: str, report: Report, stem: str) -> dict[str, Any]:
    """The JSON answer for report=true: the summary, the output's own metadata report, the image in base64."""
    return {
        "summary": summary.to_json(),
        "output_report": views.report(report),
        "mime": mime,
        "filename": download_name(stem, summary.format),
        "image": base64.b64encode(data).decode("ascii"),
    }


def form_fields(model: type[FormModel], form: Form) -> FormModel:
    """The form's text fields as `model`; OptionsError (400) naming the first field that is off."""
    try:
        return model.model_validate(form.fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "form"
        raise OptionsError(f"{where}: {first.get('msg', 'invalid value')}") from exc
