"""POST /v1/preview: the photo upright as a plain JPEG, for frontends that cannot show the original (HEIC)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from anonymizer import pipeline
from anonymizer.options import CleanOptions, OutputFormat
from anonymizer.pipeline import CleanResult

from ..deps import PoolDep, SettingsDep, run_job
from ..forms import Form, FormSpec
from ..schemas import PHOTO, error_responses, multipart_body
from ..settings import Settings
from .common import IMAGE_RESPONSE

router = APIRouter(prefix="/v1", tags=["photos"])

PREVIEW_QUALITY = 85


def _preview(form: Form, settings: Settings) -> CleanResult:
    # The preview is the clean pipeline with nothing to obscure: decoded upright, re-encoded from pixels
    # and verified, so it is exactly the geometry /v1/detect and /v1/clean use, and carries no metadata.
    options = CleanOptions(
        detect_faces=False, output_format=OutputFormat.JPEG, quality=PREVIEW_QUALITY, limits=settings.limits
    )
    return pipeline.clean(form.files["photo"], options)


@router.post(
    "/preview",
    response_class=Response,
    summary="The photo upright, as JPEG",
    description="Decodes any supported format (HEIC, AVIF, TIFF ...) with its EXIF orientation applied and "
    "returns it as a metadata-free JPEG at full size, so a browser can show it and draw boxes and strokes "
    "in the same pixel coordinates the other endpoints use. Nothing is obscured: do not share a preview.",
    openapi_extra=multipart_body(PHOTO),
    responses={
        200: {**IMAGE_RESPONSE, "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(400, 413, 415, 422, 500, 503),
    },
)
async def preview(request: Request, settings: SettingsDep, pool: PoolDep) -> Response:
    spec = FormSpec(files={"photo": settings.max_bytes})
    result = await run_job(request, pool, spec, lambda form: _preview(form, settings))
    headers = {
        "X-Image-Width": str(result.width),
        "X-Image-Height": str(result.height),
        "X-Orientation-Applied": str(result.orientation_applied),
        "Content-Disposition": 'inline; filename="preview.jpg"',
    }
    return Response(result.data, media_type=result.format.mime, headers=headers)
