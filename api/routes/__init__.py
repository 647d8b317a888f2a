"""One router per resource; `ROUTERS` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from . import clean, detect, formats, health, jobs, metadata, methods, page, preview

ROUTERS: tuple[APIRouter, ...] = (
    detect.router,
    clean.router,
    jobs.router,
    metadata.router,
    methods.router,
    formats.router,
    preview.router,
    health.router,
    page.router,
)
