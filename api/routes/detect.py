"""POST /v1/detect: faces and metadata of a photo or a video (and, if asked, its upright preview), as JSON, so a
front-end can show all of it from one upload before cleaning. For a video the faces and preview are those of its
poster frame, and `video` gives its timing."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request

from anonymizer import Limits, review
from anonymizer import formats as registry
from anonymizer.faces import Detector
from anonymizer.video.poster import poster_review

from ..deps import ModelsDep, PoolDep, SettingsDep, run_job
from ..forms import FIELD_LIMIT, Form
from ..schemas import PHOTO, VIDEO, DetectForm, DetectOut, error_responses, multipart_body
from ..settings import Settings
from .common import form_fields, one_file_spec, one_upload

router = APIRouter(prefix="/v1", tags=["photos"])


def _detect(form: Form, detector: Detector, settings: Settings) -> dict[str, Any]:
    fields = form_fields(DetectForm, form)
    data = one_upload(form)
    if registry.sniff(data[: registry.SNIFF_BYTES]).kind is registry.Kind.VIDEO:
        poster = poster_review(data, detector, settings.video_limits)
        found, body = poster.found, poster.to_json()
    else:
        limits: Limits = settings.limits
        found = review.review(data, detector, limits, with_preview=fields.preview)
        body = found.to_json()
    if found.preview is not None and (fields.preview or "video" in body):
        body["preview"] = {"mime": found.preview.format.mime, "data": base64.b64encode(found.preview.data).decode()}
    return body


@router.post(
    "/detect",
    response_model=DetectOut,
    response_model_exclude_none=False,
    summary="Find faces and list metadata (photo, or a video's poster frame)",
    description="Decodes the photo upright (EXIF orientation applied) and returns the faces found, with "
    "boxes in upright pixels, and the metadata report. With preview=true it also returns the upright photo as "
    "a metadata-free JPEG (base64), so a page uploads a photo once to show it, its faces and its metadata. "
    "A video (in a part named 'video', or 'photo') answers for its poster frame (the first frame at or after 1 s, "
    "upright): its faces and size, the frame as a JPEG preview (always), the video's metadata report, and "
    "`video`: duration, frame rate, frame count, rotation, the poster's time and whether it has sound. "
    "Nothing is kept after the response.",
    openapi_extra=multipart_body({**PHOTO, **VIDEO}, DetectForm),
    responses=error_responses(400, 413, 415, 422, 500, 503),
)
async def detect(request: Request, settings: SettingsDep, pool: PoolDep, models: ModelsDep) -> dict[str, Any]:
    detector = models.require()
    spec = one_file_spec(settings, dict.fromkeys(DetectForm.model_fields, FIELD_LIMIT))
    return await run_job(request, pool, spec, lambda form: _detect(form, detector, settings))
