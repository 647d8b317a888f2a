"""POST /v1/clean: obscure faces and regions, drop all metadata, return the clean photo (or JSON with its report)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

import anonymizer
from anonymizer import CleanOptions, CleanResult, Report, review

from ..deps import ModelsDep, PoolDep, SettingsDep, run_job
from ..forms import FIELD_LIMIT, Form, FormSpec
from ..readiness import Models
from ..schemas import PHOTO, CleanForm, CleanReportOut, error_responses, json_content, multipart_body
from ..settings import Settings
from .common import IMAGE_RESPONSE, form_fields, image_headers, obscure_options, with_report

router = APIRouter(prefix="/v1", tags=["photos"])

MASK_LIMIT = 16 * 1024 * 1024
FIELD_LIMITS = {"regions": 16 * 1024 * 1024, "faces": 256 * 1024}  # long brush sessions; 1000 boxes
FILES = {**PHOTO, "mask": "optional mask image (PNG), same size as the upright photo; white = obscure"}
STEM = "clean"


@dataclass(frozen=True)
class Cleaned:
    result: CleanResult
    report: Report | None  # the clean copy's own metadata report, when the request asked for it


def clean_options(form: Form, settings: Settings) -> tuple[CleanOptions, bool]:
    """CleanOptions from the form's fields and mask part, and whether a report was asked for; OptionsError (400)
    when anything is off."""
    fields = form_fields(CleanForm, form)
    options = obscure_options(
        fields, settings.detector, settings.limits, form.files.get("mask"),
        output_format=fields.output_format, quality=fields.quality, keep_icc=fields.keep_icc,
    )  # fmt: skip
    return options, fields.report


def _clean(form: Form, settings: Settings, models: Models) -> Cleaned:
    options, report = clean_options(form, settings)
    detector = models.require() if review.needs_detector(options) else None
    result = anonymizer.clean(form.files["photo"], options, detector)
    return Cleaned(result, anonymizer.inspect(result.data, settings.limits) if report else None)


def _response(cleaned: Cleaned) -> Response:
    result, summary = cleaned.result, cleaned.result.summary()
    if cleaned.report is not None:
        return JSONResponse(with_report(summary, result.data, result.format.mime, cleaned.report, STEM))
    return Response(result.data, media_type=result.format.mime, headers=image_headers(summary, STEM))


@router.post(
    "/clean",
    response_class=Response,
    summary="Obscure faces and regions, strip all metadata",
    description="Faces are detected (faces=auto), skipped (none) or taken as given (a face list, e.g. the "
    "faces from /v1/detect after the user removed or added some). Regions (brush strokes, erasing strokes, "
    "boxes, ellipses, polygons, a mask image) are obscured too. The output is re-encoded from pixels, verified "
    "to carry no metadata, and summarised in X-* headers (the values of `anonymize clean --json`). With "
    "report=true the answer is JSON instead: {summary, output_report, mime, filename, image (base64)}, the "
    "output_report being the clean copy's own metadata report, so nothing need be uploaded again to /v1/inspect.",
    openapi_extra=multipart_body(FILES, CleanForm),
    responses={
        200: {**IMAGE_RESPONSE, "content": {**IMAGE_RESPONSE["content"], **json_content(CleanReportOut)}},
        **error_responses(400, 413, 415, 422, 500, 503),
    },
)
async def clean(request: Request, settings: SettingsDep, pool: PoolDep, models: ModelsDep) -> Response:
    spec = FormSpec(
        files={"photo": settings.max_bytes, "mask": min(settings.max_bytes, MASK_LIMIT)},
        fields={name: FIELD_LIMITS.get(name, FIELD_LIMIT) for name in CleanForm.model_fields},
    )
    return _response(await run_job(request, pool, spec, lambda form: _clean(form, settings, models)))
