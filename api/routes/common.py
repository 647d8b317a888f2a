"""What the image-returning endpoints share: summary headers and their OpenAPI description."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from anonymizer.errors import OptionsError
from anonymizer.metadata import Report

from ..forms import Form

FormModel = TypeVar("FormModel", bound=BaseModel)

SUMMARY_HEADERS: dict[str, str] = {
    "X-Faces-Obscured": "number of faces obscured (detected or given)",
    "X-Regions-Obscured": "true when strokes, boxes or a mask were obscured",
    "X-Metadata-Removed": "number of identifying metadata items the input carried and the output does not",
    "X-Metadata-Categories": "their categories, comma-separated (location, identity, device ...)",
    "X-Image-Width": "width of the upright output",
    "X-Image-Height": "height of the upright output",
    "X-Orientation-Applied": "EXIF orientation applied to the pixels (1 = none)",
    "X-Output-Format": "format of the output (jpeg, png, webp)",
    "X-Lossless": "strip only: true when the pixel data was kept byte for byte",
    "X-Notes": "anything worth knowing, e.g. that only the first frame was kept",
}

IMAGE_RESPONSE: dict[str, Any] = {
    "description": "the image, with summary headers",
    "content": {
        mime: {"schema": {"type": "string", "format": "binary"}}
        for mime in ("image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/heic", "image/avif")
    },
    "headers": {name: {"description": text, "schema": {"type": "string"}} for name, text in SUMMARY_HEADERS.items()},
}


def ascii_header(text: str) -> str:
    """A header value: printable ASCII only, one line, bounded."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:500]


def removed_headers(report: Report | None) -> dict[str, str]:
    if report is None:
        return {"X-Metadata-Removed": "unknown"}
    found = report.identifying
    categories = sorted({f.category.value for f in found})
    return {"X-Metadata-Removed": str(len(found)), "X-Metadata-Categories": ",".join(categories)}


def form_fields(model: type[FormModel], form: Form) -> FormModel:
    """The form's text fields as `model`; OptionsError (400) naming the first field that is off."""
    try:
        return model.model_validate(form.fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "form"
        raise OptionsError(f"{where}: {first.get('msg', 'invalid value')}") from exc
