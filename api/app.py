"""create_app(): the FastAPI application, its guards, routers, worker pool and model loading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import anonymizer
from anonymizer.faces import Detector, get_detector

from .errors import install_error_handlers
from .jobs import JobStore
from .readiness import Models
from .routes import ROUTERS
from .routes.common import SUMMARY_HEADERS
from .routes.page import mount_files
from .security import Guard
from .settings import Settings
from .workers import WorkerPool

DESCRIPTION = """Local photo and video anonymisation over HTTP: find faces, obscure them and any brushed region
irreversibly, and strip every piece of metadata. Photos stay in memory, are never written to disk or logged,
and nothing is kept between requests; a video is a job held in memory until it is downloaded or expires.
Only loopback Host names are served; cross-origin browser requests are refused unless their origin is
configured."""


SWEEP_SECONDS = 1.0


async def _sweep(jobs: JobStore) -> None:
    """Expire jobs even when no request comes in (jobs.sweep also runs on every job request)."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        jobs.sweep()


def create_app(settings: Settings | None = None, *, detector: Callable[[], Detector] | None = None) -> FastAPI:
    """The service. `detector` builds the face detector at start-up (default: the bundled model, once)."""
    settings = settings or Settings()
    models = Models(detector or (lambda: get_detector(settings.detector)))
    pool = WorkerPool(settings.workers, settings.queue)
    jobs = JobStore(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load in the background: the server answers /healthz ("loading") while the model is built.
        loading = asyncio.create_task(models.load())
        sweeping = asyncio.create_task(_sweep(jobs))
        try:
            yield
        finally:
            loading.cancel()
            sweeping.cancel()
            jobs.shutdown()
            pool.shutdown()

    app = FastAPI(
        title="Photo anonymizer",
        version=anonymizer.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings, app.state.models, app.state.pool, app.state.jobs = settings, models, pool, jobs
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    mount_files(app)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type"],
            expose_headers=list(SUMMARY_HEADERS),
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(Guard, settings=settings)
    return app
