"""Pydantic models: the JSON the service returns, the form fields it reads, and their OpenAPI text.

The JSON shapes follow anonymizer.summary, so `anonymize ... --json` and the service agree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from anonymizer.options import Background, CleanOptions, FaceShape, Method, OutputFormat


class BoxOut(BaseModel):
    x: float
    y: float
    w: float
    h: float


class FaceOut(BaseModel):
    box: BoxOut = Field(description="pixels of the upright image: top-left corner, width, height")
    score: float = Field(ge=0, le=1)
    source: str = Field(description="detector that found it, or 'user' for boxes given in the request")


class FindingOut(BaseModel):
    where: str = Field(examples=["JPEG APP1 Exif > GPS"])
    what: str = Field(examples=["GPS position 50.85 N, 4.35 E"])
    category: str = Field(examples=["location"])
    risk: Literal["none", "low", "medium", "high"]
    size: int = Field(ge=0, description="bytes the item takes in the file")


class ReportOut(BaseModel):
    format: str = Field(examples=["jpeg"])
    clean: bool = Field(description="true when nothing but image structure was found")
    findings: list[FindingOut]


class DetectOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "width": 1200,
                    "height": 1600,
                    "orientation_applied": 6,
                    "faces": [{"box": {"x": 410.0, "y": 380.5, "w": 220.0, "h": 260.0}, "score": 0.93,
                               "source": "mediapipe-short"}],
                    "metadata": {"format": "jpeg", "clean": False, "findings": [
                        {"where": "JPEG APP1 Exif > GPS", "what": "GPS position 50.85 N, 4.35 E",
                         "category": "location", "risk": "high", "size": 120}]},
                }
            ]
        }
    )

    width: int = Field(description="width of the upright image (after EXIF orientation)")
    height: int = Field(description="height of the upright image")
    orientation_applied: int = Field(ge=1, le=8, description="EXIF orientation that was applied, 1 = none")
    faces: list[FaceOut]
    metadata: ReportOut | None = Field(description="what the file carries; null when it could not be read")


class StrengthOut(BaseModel):
    strongest: int = Field(ge=1, description="fewest cells across a region the method accepts")
    default: int = Field(ge=1, description="cells across a region when no strength is given")
    weakest: int = Field(ge=1, description="most cells across a region the method accepts")


class MethodOut(BaseModel):
    name: Method
    strength: StrengthOut | None = Field(
        description="what the `strength` field of /v1/clean accepts for this method: cells across a region, "
        "lower is stronger; null when the method has no strength"
    )


class HealthOut(BaseModel):
    status: Literal["loading", "ready", "failed"]
    ready: bool
    version: str
    detector: str | None = Field(description="name of the loaded face detector")
    message: str | None = None


class ErrorBody(BaseModel):
    code: str = Field(examples=["unsupported_format"])
    message: str = Field(examples=["not an image in a supported format (JPEG, PNG, WebP, HEIC, AVIF, TIFF, GIF)"])


class ErrorOut(BaseModel):
    error: ErrorBody


class CleanForm(BaseModel):
    """Text fields of POST /v1/clean; all optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field(Method.BLUR, description="how faces and regions are obscured")
    strength: float | None = Field(None, ge=0, le=1000, description="method-specific; empty for the default")
    fill: str = Field("#000000", description="fill colour for method=fill: #RRGGBB or R,G,B")
    faces: str = Field(
        "auto",
        description='"auto" (detect), "none", or a JSON list of boxes in upright pixels: [[x,y,w,h], ...] '
        'or [{"x":..,"y":..,"w":..,"h":..}] or the faces list returned by /v1/detect',
        examples=["auto", "[[410, 380, 220, 260]]"],
    )
    regions: str | None = Field(
        None,
        description='JSON of regions to obscure besides faces, in upright pixels: {"strokes": [{"points": '
        '[[x,y],...], "radius": 18}], "boxes": [[x,y,w,h]], "ellipses": [[cx,cy,rx,ry]], "polygons": '
        "[[[x,y],...]]}",
        examples=['{"strokes": [{"points": [[100, 120], [140, 160]], "radius": 18}]}'],
    )
    output_format: OutputFormat = Field(OutputFormat.SAME, description="same = the input's format if writable")
    quality: int = Field(92, ge=1, le=100, description="JPEG/WebP quality")
    face_scale: float = Field(
        CleanOptions.face_scale, ge=1.0, le=4.0, description="grow each face box by this factor"
    )
    face_shape: FaceShape = Field(
        CleanOptions.face_shape, description="the region over each face: the grown box, or the ellipse in it"
    )
    background: Background = Field(Background.KEEP, description="what happens to everything but people")
    keep_icc: bool = Field(False, description="keep the colour profile instead of converting colours to sRGB")


class StripForm(BaseModel):
    """Text fields of POST /v1/strip; all optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_icc: bool = Field(False, description="keep the colour profile, unchanged, instead of removing it")


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """A form field's schema with $refs inlined and `null` dropped: in a form, null is an absent field."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        options = [o for o in node.get("anyOf", ()) if o != {"type": "null"}]
        if len(options) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf" and not (k == "default" and v is None)}
            return _inline_refs({**options[0], **rest}, defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def multipart_body(files: dict[str, str], form: type[BaseModel] | None = None) -> dict[str, Any]:
    """OpenAPI requestBody for a multipart form: binary parts (the first one required) plus text fields."""
    properties: dict[str, Any] = {
        name: {"type": "string", "format": "binary", "description": text} for name, text in files.items()
    }
    if form is not None:
        schema = form.model_json_schema()
        properties.update(_inline_refs(schema["properties"], schema.get("$defs", {})))
    schema = {"type": "object", "required": [next(iter(files))], "properties": properties,
              "additionalProperties": False}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


PHOTO = {"photo": "the photo: JPEG, PNG, WebP, HEIC, AVIF, TIFF or GIF (recognised by content, not name)"}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an endpoint can return; all share one JSON shape."""
    text = {
        400: "bad options or a malformed request",
        413: "the photo or the request is over the size or pixel limit",
        415: "not an image in a supported format, or not multipart/form-data",
        421: "Host header is not an allowed name (DNS rebinding defence)",
        403: "Origin is not this service nor a configured origin",
        422: "the image is corrupt or truncated",
        500: "a model failed to load or the output failed verification",
        503: "all workers busy or models still loading; retry after the Retry-After header",
    }
    return {s: {"model": ErrorOut, "description": text[s]} for s in statuses}
