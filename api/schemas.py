"""Pydantic models: the JSON the service returns, the form fields it reads, and their OpenAPI text.

The JSON shapes follow anonymizer.summary, so `anonymize ... --json` and the service agree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from anonymizer import Background, CleanOptions, FaceShape, Method, OutputFormat, VideoSettings, obscure
from anonymizer import formats as registry
from anonymizer.options import FACE_SCALE_RANGE, QUALITY_RANGE


def _strength_bounds() -> tuple[int, int]:
    """The strongest and weakest strength any method accepts (cells across a region), from the methods registry."""
    ranges = [r for r in map(obscure.strength_range, obscure.METHODS) if r is not None]
    return min(r.strongest for r in ranges), max(r.weakest for r in ranges)


STRENGTH_BOUNDS = _strength_bounds()
#: what CleanOptions accepts, from the library (tests/test_api_schema.py checks them against it)
QUALITY_BOUNDS = QUALITY_RANGE
FACE_SCALE_BOUNDS = FACE_SCALE_RANGE
_DEFAULTS = CleanOptions()
_VIDEO = VideoSettings()
#: x264's CRF range, as anonymizer.video.clean.VideoCleanOptions checks it
VIDEO_QUALITY_BOUNDS = (0, 51)


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
    preview: PreviewOut | None = Field(None, description="with preview=true: the upright photo (a video's poster "
                                       "frame) to draw on")
    video: VideoInfoOut | None = Field(None, description="for a video: its timing; faces and size are its poster "
                                       "frame's, upright")


class VideoInfoOut(BaseModel):
    format: str = Field(examples=["mp4"], description="container, a name from GET /v1/formats")
    duration: float = Field(ge=0, description="seconds")
    frame_rate: float = Field(ge=0, description="frames per second (average)")
    frames: int = Field(ge=0, description="frames the container announces; 0 when it does not say")
    rotation: int = Field(description="degrees the display rotation turns the frames to show them upright")
    poster_time: float = Field(ge=0, description="seconds into the clip of the poster frame")
    audio: bool = Field(description="whether the file has a sound track")


class PreviewOut(BaseModel):
    mime: str = Field(examples=["image/jpeg"])
    data: str = Field(description="the upright photo as a metadata-free JPEG, base64; nothing is obscured in it")


class FormatOut(BaseModel):
    name: str = Field(examples=["jpeg"], description="as in output_format and X-Output-Format")
    label: str = Field(examples=["JPEG"])
    mime: str = Field(examples=["image/jpeg"])
    suffixes: list[str] = Field(examples=[[".jpg", ".jpeg"]], description="lower case; the first is the one written")
    kind: Literal["photo", "video"]
    writable: bool = Field(description="whether a clean copy can be written in this format")
    lossy: bool


class CleanReportOut(BaseModel):
    """POST /v1/clean with report=true."""

    summary: dict[str, Any] = Field(description="what was done: the same object as `anonymize clean --json` gives")
    output_report: ReportOut = Field(description="the metadata report of the clean copy itself")
    mime: str = Field(examples=["image/jpeg"])
    filename: str = Field(examples=["clean.jpg"], description="a neutral name with the format's suffix")
    image: str = Field(description="the clean copy, base64")


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


class JobUrlsOut(BaseModel):
    status: str = Field(examples=["/v1/jobs/Xf3...Q"], description="GET: state and progress; DELETE: cancel")
    events: str = Field(examples=["/v1/jobs/Xf3...Q/events"], description="GET: progress as Server-Sent Events")
    result: str = Field(examples=["/v1/jobs/Xf3...Q/result"], description="GET: the clean video once done")


class JobOut(BaseModel):
    """A video job: GET /v1/jobs/{id}, each Server-Sent Event of /events, and the 202 answer of POST /v1/jobs."""

    id: str = Field(description="unguessable; whoever holds it can fetch the result")
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    frames_done: int = Field(ge=0)
    frames_total: int = Field(ge=0, description="0 until known (and for containers that do not say)")
    progress: float | None = Field(ge=0, le=1, description="frames_done / frames_total, null while unknown")
    elapsed: float = Field(ge=0, description="seconds since the job started running (0 while queued)")
    eta: float | None = Field(ge=0, description="seconds left, estimated from the pace so far; null while unknown")
    expires_in: float = Field(
        ge=0, description="seconds until the job is dropped: after it finished, or while nobody asks about it"
    )
    error: ErrorBody | None = Field(description="why it failed (the code and message /v1/clean would give)")
    summary: dict[str, Any] | None = Field(description="when done: what was done, as `anonymize clean --json`")
    urls: JobUrlsOut


class HealthOut(BaseModel):
    status: Literal["loading", "ready", "failed"]
    ready: bool
    version: str
    detector: str | None = Field(description="name of the loaded face detector")
    message: str | None = None


class ErrorBody(BaseModel):
    code: str = Field(examples=["unsupported_format"])
    message: str = Field(examples=["not an image or video in a supported format (JPEG, PNG, ...)"])


class ErrorOut(BaseModel):
    error: ErrorBody


class ObscureForm(BaseModel):
    """What photos and videos share: how faces and regions are obscured. Defaults and ranges are the library's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field(_DEFAULTS.method, description="how faces and regions are obscured (GET /v1/methods)")
    strength: float | None = Field(
        None, ge=STRENGTH_BOUNDS[0], le=STRENGTH_BOUNDS[1],
        description="cells across a region, lower is stronger; each method's range is in GET /v1/methods; empty "
        "for the method's default; ignored by fill and mask",
    )
    fill: str = Field("#{:02x}{:02x}{:02x}".format(*_DEFAULTS.fill_color),
                      description="fill colour for method=fill: #RRGGBB or R,G,B")
    faces: str = Field(
        "auto",
        description='"auto" (detect), "none", or a face list in upright pixels: [[x,y,w,h], ...], '
        '[{"x":..,"y":..,"w":..,"h":..}], the faces list /v1/detect returns, or its whole answer',
        examples=["auto", "[[410, 380, 220, 260]]"],
    )
    regions: str | None = Field(
        None,
        description='JSON of regions to obscure besides faces, in upright pixels: {"strokes": [{"points": '
        '[[x,y],...], "radius": 18}], "boxes": [[x,y,w,h]], "ellipses": [[cx,cy,rx,ry]], "polygons": '
        '[[[x,y],...]]}; a stroke with "erase": true takes back what earlier shapes and strokes covered (never a '
        "face); strokes apply in order, after the other shapes",
        examples=['{"strokes": [{"points": [[100, 120], [140, 160]], "radius": 18}]}'],
    )
    face_scale: float = Field(
        _DEFAULTS.face_scale, ge=FACE_SCALE_BOUNDS[0], le=FACE_SCALE_BOUNDS[1],
        description="grow each face box by this factor",
    )
    face_shape: FaceShape = Field(
        _DEFAULTS.face_shape, description="the region over each face: the grown box, or the ellipse in it"
    )
    background: Background = Field(_DEFAULTS.background, description="what happens to everything but people")


class CleanForm(ObscureForm):
    """Text fields of POST /v1/clean; all optional. Defaults and ranges are the library's."""

    output_format: OutputFormat = Field(
        _DEFAULTS.output_format, description="same = the input's format if writable (GET /v1/formats)"
    )
    quality: int = Field(_DEFAULTS.quality, ge=QUALITY_BOUNDS[0], le=QUALITY_BOUNDS[1], description="JPEG/WebP quality")
    keep_icc: bool = Field(_DEFAULTS.keep_icc, description="keep the colour profile instead of converting to sRGB")
    report: bool = Field(
        False,
        description="true: answer with JSON (the summary, the clean copy's own metadata report and the image in "
        "base64) instead of the image, so a page need not send the result back to /v1/inspect",
    )


class JobForm(ObscureForm):
    """Text fields of POST /v1/jobs (a video); all optional. The output is always an MP4 (H.264)."""

    audio: Literal["keep", "drop"] = Field(
        "keep" if _VIDEO.keep_audio else "drop",
        description="keep: the sound track is copied bit-exact (a voice can identify someone); drop: left out",
    )
    video_quality: int = Field(
        _VIDEO.quality, ge=VIDEO_QUALITY_BOUNDS[0], le=VIDEO_QUALITY_BOUNDS[1],
        description="x264 constant rate factor: 0 best (largest) to 51 worst",
    )


class DetectForm(BaseModel):
    """Text fields of POST /v1/detect; all optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preview: bool = Field(False, description="true: also return the upright photo as a JPEG (base64) to draw on")


class StripForm(BaseModel):
    """Text fields of POST /v1/strip; all optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_icc: bool = Field(False, description="keep the colour profile, unchanged, instead of removing it")


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """A form field's schema with $refs inlined and `null` dropped: in a form, null is an absent field."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):  # the field's own default and description stay
            siblings = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"}
            return {**_inline_refs(defs[ref.removeprefix("#/$defs/")], defs), **siblings}
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


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI `content` entry for a JSON body of `model`, its references inlined."""
    schema = model.model_json_schema()
    return {"application/json": {"schema": _inline_refs(schema, schema.get("$defs", {}))}}


VIDEO = {
    "video": f"the video: {', '.join(f.label for f in registry.videos())} (recognised by content, not name)"
}

PHOTO = {
    "photo": f"the photo: {', '.join(f.label for f in registry.photos())} (recognised by content, not name; "
    "GET /v1/formats)"
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an endpoint can return; all share one JSON shape."""
    text = {
        400: "bad options or a malformed request",
        404: "no such job (never created, downloaded, discarded, cancelled or expired)",
        409: "the job has not finished yet",
        413: "the photo or the request is over the size or pixel limit",
        415: "not an image in a supported format, or not multipart/form-data",
        421: "Host header is not an allowed name (DNS rebinding defence)",
        403: "Origin is not this service nor a configured origin",
        422: "the image is corrupt or truncated",
        500: "a model failed to load or the output failed verification",
        503: "all workers busy or models still loading; retry after the Retry-After header",
    }
    return {s: {"model": ErrorOut, "description": text[s]} for s in statuses}
