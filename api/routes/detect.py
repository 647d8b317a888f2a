"""POST /v1/detect: faces and metadata of a photo, as JSON, so a frontend can show both before cleaning."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from anonymizer import pipeline, summary
from anonymizer.errors import InputError
from anonymizer.faces import Detector
from anonymizer.options import Limits

from ..deps import ModelsDep, PoolDep, SettingsDep, run_job
from ..forms import Form, FormSpec
from ..schemas import PHOTO, DetectOut, error_responses, multipart_body

router = APIRouter(prefix="/v1", tags=["photos"])


def _report(data: bytes, limits: Limits) -> dict[str, Any] | None:
    try:
        return summary.report(pipeline.inspect(data, limits))
    except InputError:
        return None  # the pixels decoded; a container the metadata readers cannot walk is shown as unknown


def _detect(form: Form, detector: Detector, limits: Limits) -> dict[str, Any]:
    data = form.files["photo"]
    found = pipeline.detect(data, detector, limits)
    return {**summary.detect_result(found), "metadata": _report(data, limits)}


@router.post(
    "/detect",
    response_model=DetectOut,
    summary="Find faces and list metadata",
    description="Decodes the photo upright (EXIF orientation applied) and returns the faces found, with "
    "boxes in upright pixels, and the metadata report. Nothing is kept after the response.",
    openapi_extra=multipart_body(PHOTO),
    responses=error_responses(400, 413, 415, 422, 500, 503),
)
async def detect(request: Request, settings: SettingsDep, pool: PoolDep, models: ModelsDep) -> dict[str, Any]:
    detector = models.require()
    spec = FormSpec(files={"photo": settings.max_bytes})
    return await run_job(request, pool, spec, lambda form: _detect(form, detector, settings.limits))
