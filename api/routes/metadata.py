"""POST /v1/inspect (the metadata report as JSON) and POST /v1/strip (the photo or video without its metadata).

Both take one file, in a part named 'photo' or 'video' (a video may be larger: the service's video limit)."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Request, Response

from anonymizer import FORMATS, Kind, Limits, Summary, media
from anonymizer import summary as views

from ..deps import PoolDep, SettingsDep, run_job
from ..forms import FIELD_LIMIT, Form
from ..schemas import PHOTO, VIDEO, ReportOut, StripForm, error_responses, multipart_body
from ..settings import Settings
from .common import IMAGE_RESPONSE, form_fields, image_headers, one_file_spec, one_upload

router = APIRouter(prefix="/v1", tags=["metadata"])


@router.post(
    "/inspect",
    response_model=ReportOut,
    summary="List the metadata a photo or video carries",
    description="Every finding (EXIF, GPS, XMP, IPTC, thumbnails, embedded media, trailers, ICC ...) with "
    "where it is, what it says in plain words, its category and risk.",
    openapi_extra=multipart_body({**PHOTO, **VIDEO}),
    responses=error_responses(400, 413, 415, 422, 503),
)
async def inspect(request: Request, settings: SettingsDep, pool: PoolDep) -> dict[str, Any]:
    spec = one_file_spec(settings, {})
    return await run_job(request, pool, spec, lambda form: views.report(_inspect(form, settings)))


def _limits(src: io.BytesIO, settings: Settings) -> Limits:
    """A photo keeps the photo limits even when sent in the 'video' part."""
    return settings.video_limits if media.kind_of(src).kind is Kind.VIDEO else settings.limits


def _inspect(form: Form, settings: Settings) -> Any:
    src = io.BytesIO(one_upload(form))
    return media.inspect_stream(src, _limits(src, settings))


def _strip(form: Form, settings: Settings) -> tuple[bytes, Summary]:
    fields = form_fields(StripForm, form)
    src, sink = io.BytesIO(one_upload(form)), io.BytesIO()
    summary = media.strip_stream(src, sink, _limits(src, settings), fields.keep_icc)
    return sink.getvalue(), summary


@router.post(
    "/strip",
    response_class=Response,
    summary="Remove all metadata, keep the pixels",
    description="Rebuilds the file with only what decoding needs (lossless where the format allows) and "
    "verifies that no identifying metadata is left. Faces are not touched: use /v1/clean for that. With "
    "keep_icc=true the colour profile stays, unchanged. The X-* headers are the values of "
    "`anonymize strip --json`.",
    openapi_extra=multipart_body({**PHOTO, **VIDEO}, StripForm),
    responses={200: IMAGE_RESPONSE, **error_responses(400, 413, 415, 422, 500, 503)},
)
async def strip(request: Request, settings: SettingsDep, pool: PoolDep) -> Response:
    spec = one_file_spec(settings, dict.fromkeys(StripForm.model_fields, FIELD_LIMIT))
    data, summary = await run_job(request, pool, spec, lambda form: _strip(form, settings))
    return Response(data, media_type=FORMATS[summary.format].mime, headers=image_headers(summary, "stripped"))
