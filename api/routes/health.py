"""GET /healthz: 200 once the models are loaded, 503 before (or if they failed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

import anonymizer

from ..deps import ModelsDep
from ..errors import RETRY_AFTER_SECONDS
from ..schemas import HealthOut

router = APIRouter(tags=["service"])


@router.get(
    "/healthz",
    response_model=HealthOut,
    summary="Readiness and version",
    responses={503: {"model": HealthOut, "description": "models still loading, or failed to load"}},
)
async def healthz(models: ModelsDep) -> JSONResponse:
    body = HealthOut(
        status=models.status,
        ready=models.status == "ready",
        version=anonymizer.__version__,
        detector=models.detector.name if models.detector is not None else None,
        message=models.message,
    )
    if body.ready:
        return JSONResponse(body.model_dump())
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
