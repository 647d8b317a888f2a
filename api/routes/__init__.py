"""One router per resource; `ROUTERS` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from . import clean, detect, formats, health, metadata, methods, page, preview

ROUTERS: tuple[APIRouter, ...] = (
    detect.router,
    clean.router,
    metadata.router,
    methods.router,
    formats.router,
    preview.router,
    health.router,
    page.router,
)
