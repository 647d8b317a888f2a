"""POST /v1/detect: faces and metadata of a photo (and, if asked, its upright preview), as JSON, so a front-end
can show all of it from one upload before cleaning."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request

from anonymizer import Limits, review
from anonymizer.faces import Detector

from ..deps import ModelsDep, PoolDep, SettingsDep, run_job
from ..forms import FIELD_LIMIT, Form, FormSpec
from ..schemas import PHOTO, DetectForm, DetectOut, error_responses, multipart_body
from .common import form_fields

router = APIRouter(prefix="/v1", tags=["photos"])


def _detect(form: Form, detector: Detector, limits: Limits) -> dict[str, Any]:
    fields = form_fields(DetectForm, form)
    found = review.review(form.files["photo"], detector, limits, with_preview=fields.preview)
    body = found.to_json()
    if found.preview is not None:
        body["preview"] = {"mime": found.preview.format.mime, "data": base64.b64encode(found.preview.data).decode()}
    return body


@router.post(
    "/detect",
    response_model=DetectOut,
    response_model_exclude_none=False,
    summary="Find faces and list metadata",
    description="Decodes the photo upright (EXIF orientation applied) and returns the faces found, with "
    "boxes in upright pixels, and the metadata report. With preview=true it also returns the upright photo as "
    "a metadata-free JPEG (base64), so a page uploads a photo once to show it, its faces and its metadata. "
    "Nothing is kept after the response.",
    openapi_extra=multipart_body(PHOTO, DetectForm),
    responses=error_responses(400, 413, 415, 422, 500, 503),
)
async def detect(request: Request, settings: SettingsDep, pool: PoolDep, models: ModelsDep) -> dict[str, Any]:
    detector = models.require()
    spec = FormSpec(files={"photo": settings.max_bytes}, fields=dict.fromkeys(DetectForm.model_fields, FIELD_LIMIT))
    return await run_job(request, pool, spec, lambda form: _detect(form, detector, settings.limits))
