"""POST /v1/inspect (the metadata report as JSON) and POST /v1/strip (the photo without its metadata)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

import anonymizer
from anonymizer import FORMATS, StripResult, strip_summary
from anonymizer import summary as views

from ..deps import PoolDep, SettingsDep, run_job
from ..forms import FIELD_LIMIT, Form, FormSpec
from ..schemas import PHOTO, ReportOut, StripForm, error_responses, multipart_body
from ..settings import Settings
from .common import IMAGE_RESPONSE, form_fields, image_headers

router = APIRouter(prefix="/v1", tags=["metadata"])


@router.post(
    "/inspect",
    response_model=ReportOut,
    summary="List the metadata a photo carries",
    description="Every finding (EXIF, GPS, XMP, IPTC, thumbnails, embedded media, trailers, ICC ...) with "
    "where it is, what it says in plain words, its category and risk.",
    openapi_extra=multipart_body(PHOTO),
    responses=error_responses(400, 413, 415, 422, 503),
)
async def inspect(request: Request, settings: SettingsDep, pool: PoolDep) -> dict[str, Any]:
    spec = FormSpec(files={"photo": settings.max_bytes})
    return await run_job(
        request, pool, spec, lambda form: views.report(anonymizer.inspect(form.files["photo"], settings.limits))
    )


def _strip(form: Form, settings: Settings) -> StripResult:
    fields = form_fields(StripForm, form)
    return anonymizer.strip(form.files["photo"], settings.limits, fields.keep_icc)


@router.post(
    "/strip",
    response_class=Response,
    summary="Remove all metadata, keep the pixels",
    description="Rebuilds the file with only what decoding needs (lossless where the format allows) and "
    "verifies that no identifying metadata is left. Faces are not touched: use /v1/clean for that. With "
    "keep_icc=true the colour profile stays, unchanged. The X-* headers are the values of "
    "`anonymize strip --json`.",
    openapi_extra=multipart_body(PHOTO, StripForm),
    responses={200: IMAGE_RESPONSE, **error_responses(400, 413, 415, 422, 500, 503)},
)
async def strip(request: Request, settings: SettingsDep, pool: PoolDep) -> Response:
    spec = FormSpec(files={"photo": settings.max_bytes}, fields=dict.fromkeys(StripForm.model_fields, FIELD_LIMIT))
    result = await run_job(request, pool, spec, lambda form: _strip(form, settings))
    return Response(result.data, media_type=FORMATS[result.format].mime,
                    headers=image_headers(strip_summary(result), "stripped"))
