"""POST /v1/clean: obscure faces and regions, drop all metadata, return the clean photo."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response

from anonymizer import parse, pipeline
from anonymizer.errors import OptionsError
from anonymizer.options import CleanOptions
from anonymizer.pipeline import CleanResult
from anonymizer.regions import parse_regions_json
from anonymizer.types import Box, Regions

from ..deps import ModelsDep, PoolDep, SettingsDep, run_job
from ..forms import FIELD_LIMIT, Form, FormSpec
from ..readiness import Models
from ..schemas import PHOTO, CleanForm, error_responses, multipart_body
from ..settings import Settings
from .common import IMAGE_RESPONSE, ascii_header, form_fields, removed_headers

router = APIRouter(prefix="/v1", tags=["photos"])

MAX_FACES = 1000
MASK_LIMIT = 16 * 1024 * 1024
FIELD_LIMITS = {"regions": 16 * 1024 * 1024, "faces": 256 * 1024}  # long brush sessions; 1000 boxes
FILES = {**PHOTO, "mask": "optional mask image (PNG), same size as the upright photo; white = obscure"}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise OptionsError("face boxes need four finite numbers: x, y, w, h")
    return float(value)


def _box(item: Any) -> Box:
    if isinstance(item, dict) and isinstance(item.get("box"), dict):
        item = item["box"]  # a face as /v1/detect returns it
    if isinstance(item, dict):
        item = [item.get(k) for k in ("x", "y", "w", "h")]
    if not isinstance(item, list) or len(item) != 4:
        raise OptionsError("each face is [x, y, w, h] or {\"x\":..,\"y\":..,\"w\":..,\"h\":..}")
    x, y, w, h = (_number(v) for v in item)
    if w <= 0 or h <= 0:
        raise OptionsError("face boxes must have a positive width and height")
    return Box(x, y, w, h)


def parse_faces(text: str) -> tuple[bool, tuple[Box, ...] | None]:
    """(detect automatically?, boxes given) from "auto", "none" or a JSON list of boxes."""
    word = text.strip().lower()
    if word in ("", "auto"):
        return True, None
    if word == "none":
        return False, None
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise OptionsError('faces must be "auto", "none" or a JSON list of boxes') from exc
    if not isinstance(items, list) or len(items) > MAX_FACES:
        raise OptionsError(f'faces must be "auto", "none" or a JSON list of at most {MAX_FACES} boxes')
    return False, tuple(_box(item) for item in items)


def clean_options(form: Form, settings: Settings) -> CleanOptions:
    """CleanOptions from the form's fields and mask part; OptionsError (400) when anything is off."""
    fields = form_fields(CleanForm, form)
    detect_faces, faces = parse_faces(fields.faces)
    regions = parse_regions_json(fields.regions) if fields.regions else Regions()
    if "mask" in form.files:
        regions = replace(regions, mask=form.files["mask"])
    return CleanOptions(
        method=fields.method,
        strength=fields.strength,
        fill_color=parse.colour(fields.fill),
        detect_faces=detect_faces,
        faces=faces,
        face_scale=fields.face_scale,
        face_shape=fields.face_shape,
        detector=settings.detector,
        regions=regions,
        background=fields.background,
        output_format=fields.output_format,
        quality=fields.quality,
        keep_icc=fields.keep_icc,
        limits=settings.limits,
    )


def clean_headers(result: CleanResult, options: CleanOptions) -> dict[str, str]:
    regions = result.regions_obscured and not options.regions.is_empty()
    headers = {
        "X-Faces-Obscured": str(len(result.faces)),
        "X-Regions-Obscured": "true" if regions else "false",
        **removed_headers(result.removed),
        "X-Image-Width": str(result.width),
        "X-Image-Height": str(result.height),
        "X-Orientation-Applied": str(result.orientation_applied),
        "X-Output-Format": result.format.name,
        "Content-Disposition": f'inline; filename="clean{result.format.extension}"',
    }
    if result.notes:
        headers["X-Notes"] = ascii_header("; ".join(result.notes))
    return headers


def _clean(form: Form, settings: Settings, models: Models) -> tuple[CleanResult, CleanOptions]:
    options = clean_options(form, settings)
    detecting = options.detect_faces and options.faces is None
    return pipeline.clean(form.files["photo"], options, models.require() if detecting else None), options


@router.post(
    "/clean",
    response_class=Response,
    summary="Obscure faces and regions, strip all metadata",
    description="Faces are detected (faces=auto), skipped (none) or taken as given (a JSON list, e.g. the "
    "faces from /v1/detect after the user removed or added some). Regions (brush strokes, boxes, ellipses, "
    "polygons, a mask image) are obscured too. The output is re-encoded from pixels, verified to carry no "
    "metadata, and summarised in X-* headers.",
    openapi_extra=multipart_body(FILES, CleanForm),
    responses={200: IMAGE_RESPONSE, **error_responses(400, 413, 415, 422, 500, 503)},
)
async def clean(request: Request, settings: SettingsDep, pool: PoolDep, models: ModelsDep) -> Response:
    spec = FormSpec(
        files={"photo": settings.max_bytes, "mask": min(settings.max_bytes, MASK_LIMIT)},
        fields={name: FIELD_LIMITS.get(name, FIELD_LIMIT) for name in CleanForm.model_fields},
    )
    result, options = await run_job(request, pool, spec, lambda form: _clean(form, settings, models))
    return Response(result.data, media_type=result.format.mime, headers=clean_headers(result, options))
