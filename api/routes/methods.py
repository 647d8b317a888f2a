"""GET /v1/methods: the obscuring methods and the strengths each accepts, so a frontend need not hard-code them."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from anonymizer import obscure

from ..schemas import MethodOut, StrengthOut

router = APIRouter(prefix="/v1", tags=["options"])


@router.get("/methods", response_model=list[MethodOut], summary="Obscuring methods and their strengths")
async def methods() -> list[MethodOut]:
    out = []
    for method in obscure.METHODS:
        strength = obscure.strength_range(method)
        out.append(MethodOut(name=method, strength=None if strength is None else StrengthOut(**asdict(strength))))
    return out
