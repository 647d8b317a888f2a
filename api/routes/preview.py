"""POST /v1/preview: the photo upright as a plain JPEG, for front-ends that cannot show the original (HEIC).

The page gets the same preview from /v1/detect (preview=true), with one upload; this endpoint stays for clients
that want the image alone."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from anonymizer import CleanResult, review

from ..deps import PoolDep, SettingsDep, run_job
from ..forms import FormSpec
from ..schemas import PHOTO, error_responses, multipart_body
from .common import IMAGE_RESPONSE

router = APIRouter(prefix="/v1", tags=["photos"])


def _headers(result: CleanResult) -> dict[str, str]:
    return {
        "X-Image-Width": str(result.width),
        "X-Image-Height": str(result.height),
        "X-Orientation-Applied": str(result.orientation_applied),
        "Content-Disposition": 'inline; filename="preview.jpg"',
    }


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
    result = await run_job(request, pool, spec, lambda form: review.preview(form.files["photo"], settings.limits))
    return Response(result.data, media_type=result.format.mime, headers=_headers(result))
