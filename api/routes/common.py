"""What the image-returning endpoints share: summary headers (a view of anonymizer.Summary), their OpenAPI
description, the JSON form of a clean with its report, and form-field validation."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from anonymizer import CleanOptions, Limits, OptionsError, Regions, Report, Summary, parse
from anonymizer import formats as registry
from anonymizer import summary as views
from anonymizer.regions import parse_faces_choice, parse_regions_json

from ..errors import RequestError
from ..forms import Form, FormSpec
from ..schemas import ObscureForm
from ..settings import Settings

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
    "X-Video-Frames": "video: frames written",
    "X-Video-Duration": "video: seconds",
    "X-Face-Frames": "video: frames in which at least one face was obscured",
    "X-Audio-Kept": "video: true when the sound track went out with the video (a voice can identify)",
    "X-Rotation-Applied": "video: degrees the display rotation turned the frames upright (0 = none)",
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
    if view["video"] is not None:
        headers.update(_video_headers(view["video"]))
    if view["notes"]:
        headers["X-Notes"] = notes_header(view["notes"])
    return headers


def _video_headers(video: dict[str, Any]) -> dict[str, str]:
    return {
        "X-Video-Frames": str(video["frames"]),
        "X-Video-Duration": f"{video['duration']:g}",
        "X-Face-Frames": str(video["face_frames"]),
        "X-Audio-Kept": _flag(video["audio_kept"]),
        "X-Rotation-Applied": str(video["rotation_applied"]),
    }


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


def obscure_options(fields: ObscureForm, detector: str, limits: Limits, mask: bytes | None = None,
                    **more: Any) -> CleanOptions:
    """CleanOptions from the fields photos and videos share (and `more` CleanOptions fields); OptionsError (400)."""
    detect_faces, faces = parse_faces_choice(fields.faces)
    regions = parse_regions_json(fields.regions) if fields.regions else Regions()
    if mask is not None:
        regions = replace(regions, mask=mask)
    return CleanOptions(
        method=fields.method,
        strength=fields.strength,
        fill_color=parse.colour(fields.fill),
        detect_faces=detect_faces,
        faces=faces,
        face_scale=fields.face_scale,
        face_shape=fields.face_shape,
        detector=detector,
        regions=regions,
        background=fields.background,
        limits=limits,
        **more,
    )


def one_file_spec(settings: Settings, fields: dict[str, int]) -> FormSpec:
    """A form carrying one file, a photo or a video (part 'photo' or 'video'), each under its own limit."""
    return FormSpec(files={"photo": settings.max_bytes, "video": settings.max_video_bytes}, fields=fields,
                    required=frozenset(), one_file=True)  # fmt: skip


def one_upload(form: Form) -> bytes:
    """The file of a one_file_spec form."""
    parts = [data for name, data in form.files.items() if name in ("photo", "video")]
    if len(parts) != 1:
        raise RequestError("send one file, in a part named 'photo' or 'video'")
    return parts[0]
