"""Per-request dependencies, as Annotated aliases; tests override them through app.state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from .forms import Form, FormSpec, read_form
from .readiness import Models
from .settings import Settings
from .workers import WorkerPool

T = TypeVar("T")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> WorkerPool:
    pool: WorkerPool = request.app.state.pool
    return pool


def get_models(request: Request) -> Models:
    models: Models = request.app.state.models
    return models


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[WorkerPool, Depends(get_pool)]
ModelsDep = Annotated[Models, Depends(get_models)]


async def run_job(request: Request, pool: WorkerPool, spec: FormSpec, job: Callable[[Form], T]) -> T:
    """Admit the request (or 503), read its form in memory (or 413), run `job` on a worker thread."""
    async with pool.admit() as ticket:
        form = await read_form(request, spec, get_settings(request).read_timeout)
        return await ticket.run(job, form)
