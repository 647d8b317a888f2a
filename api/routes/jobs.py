"""Video jobs: POST /v1/jobs starts one, GET follows it (or /events, as Server-Sent Events), /result downloads
the clean video (and drops the job), DELETE cancels or discards it. See api/jobs.py for the store's rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from anonymizer import UnsupportedFormatError, review
from anonymizer import formats as registry

from ..deps import ModelsDep, SettingsDep
from ..errors import JobNotFinishedError
from ..forms import FIELD_LIMIT, Form, FormSpec, read_form
from ..jobs import FINISHED, JobRequest, JobStore, urls
from ..schemas import VIDEO, JobForm, JobOut, error_responses, multipart_body
from ..settings import Settings
from .common import SUMMARY_HEADERS, form_fields, image_headers, obscure_options

router = APIRouter(prefix="/v1", tags=["videos"])

FIELD_LIMITS = {"regions": 16 * 1024 * 1024, "faces": 256 * 1024}
STEM = "clean"
#: how often an event stream looks at its job, and the longest silence before a keep-alive comment
EVENT_INTERVAL = 0.25
KEEP_ALIVE = 5.0

VIDEO_RESPONSE: dict[str, Any] = {
    "description": "the clean video, with summary headers",
    "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {name: {"description": text, "schema": {"type": "string"}} for name, text in SUMMARY_HEADERS.items()},
}


def get_jobs(request: Request) -> JobStore:
    jobs: JobStore = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobStore, Depends(get_jobs)]


def job_request(form: Form, settings: Settings) -> JobRequest:
    """The job's options from the form; OptionsError (400) when anything is off, 415 when it is not a video."""
    fields = form_fields(JobForm, form)
    options = obscure_options(fields, settings.detector, settings.video_limits)
    upload = form.files["video"]
    found = registry.sniff(upload[: registry.SNIFF_BYTES])  # UnsupportedFormatError (415) when unknown
    if found.kind is not registry.Kind.VIDEO:
        raise UnsupportedFormatError(f"this is a {found.label} photo: send photos to /v1/clean")
    return JobRequest(options, keep_audio=fields.audio == "keep", quality=fields.video_quality)


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobOut,
    summary="Start cleaning a video",
    description="The video (kept in memory, never on disk) is cleaned on a worker thread: faces tracked and "
    "obscured in every frame, regions obscured (shapes may carry \"from\"/\"to\" seconds), metadata dropped, the "
    "sound track copied or dropped (audio), the output an MP4 verified before it is offered. Answers 202 at once "
    "with the job (its id is the only key to it) and its URLs; 503 with Retry-After when the service already "
    "holds its maximum of jobs. A job nobody asks about (status, events) is cancelled after a while.",
    openapi_extra=multipart_body(VIDEO, JobForm),
    responses=error_responses(400, 413, 415, 500, 503),
)
async def create_job(request: Request, settings: SettingsDep, models: ModelsDep, jobs: JobsDep) -> JSONResponse:
    spec = FormSpec(
        files={"video": settings.max_video_bytes},
        fields={name: FIELD_LIMITS.get(name, FIELD_LIMIT) for name in JobForm.model_fields},
        required=frozenset({"video"}),
    )
    async with jobs.reserve() as slot:
        form = await read_form(request, spec, settings.read_timeout)
        planned = job_request(form, settings)
        if review.needs_detector(planned.options):
            models.require()  # 503 while the model loads, 500 if it failed
        job = slot.start(form.files.pop("video"), planned)
    return JSONResponse(jobs.view(job), status_code=202, headers={"Location": urls(job.id)["status"]})


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's state, progress and ETA",
            responses=error_responses(404))
async def job_status(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    return jobs.view(jobs.get(job_id))


@router.delete("/jobs/{job_id}", status_code=204, summary="Cancel a job, or discard a finished one",
               responses=error_responses(404))
async def delete_job(job_id: str, jobs: JobsDep) -> Response:
    jobs.drop(jobs.get(job_id))
    return Response(status_code=204)


@router.get(
    "/jobs/{job_id}/result",
    response_class=Response,
    summary="The clean video",
    description="Once the job is done: the MP4 with the summary as X-* headers (as /v1/clean). The job is dropped "
    "once the video has been sent. A failed job answers with its error (and is dropped); 409 while it runs.",
    responses={200: VIDEO_RESPONSE, **error_responses(404, 409, 413, 415, 422, 500)},
)
async def job_result(job_id: str, jobs: JobsDep) -> Response:
    job = jobs.get(job_id)
    if job.state == "failed" and job.error is not None:
        jobs.drop(job)
        raise job.error
    if job.state != "done" or job.summary is None:
        raise JobNotFinishedError(f"the job is {job.state}; its result is ready when its state is done")
    fmt = registry.FORMATS.get(job.summary.format)
    return Response(
        job.result(),
        media_type=fmt.mime if fmt is not None else "video/mp4",
        headers=image_headers(job.summary, STEM),
        background=BackgroundTask(jobs.drop, job),
    )


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    summary="Progress as Server-Sent Events",
    description="`event: status` with the job (as GET /v1/jobs/{id}) whenever its state or frame count changes, "
    "a keep-alive comment otherwise, and the stream ends once the job is done, failed or cancelled. While a "
    "stream is open the job counts as watched; a client that goes away leaves it to expire.",
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}, **error_responses(404)},
)
async def job_events(job_id: str, request: Request, jobs: JobsDep) -> StreamingResponse:
    job = jobs.get(job_id)

    async def stream() -> AsyncIterator[str]:
        last: tuple[Any, ...] | None = None
        quiet_since = jobs.clock()
        while not await request.is_disconnected():
            job.seen = jobs.clock()
            view = jobs.view(job)
            key = (view["state"], view["frames_done"], view["frames_total"])
            if key != last:
                last, quiet_since = key, job.seen
                yield f"event: status\ndata: {json.dumps(view)}\n\n"
            elif job.seen - quiet_since >= KEEP_ALIVE:
                quiet_since = job.seen
                yield ": keep-alive\n\n"
            if view["state"] in FINISHED:
                return
            await asyncio.sleep(EVENT_INTERVAL)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
