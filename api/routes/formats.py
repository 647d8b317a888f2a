"""GET /v1/formats: the formats the service reads and writes, from the library's registry, so a front-end takes
its accepted types, output choices and download suffixes from here instead of writing them again."""

from __future__ import annotations

from fastapi import APIRouter

from anonymizer import FORMATS

from ..schemas import FormatOut

router = APIRouter(prefix="/v1", tags=["options"])


@router.get("/formats", response_model=list[FormatOut], summary="Photo and video formats, from the registry")
async def formats() -> list[FormatOut]:
    return [
        FormatOut(name=f.name, label=f.label, mime=f.mime, suffixes=list(f.suffixes), kind=f.kind.value,
                  writable=f.writable, lossy=f.lossy)
        for f in FORMATS.values()
    ]
