"""Asynchronous recognition: `/v1/recognitions` jobs and the callback URLs that hear about them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from parlance.api.deps import OwnerDep, ServicesDep
from parlance.api.routes.recognize import audio_request
from parlance.errors import BadRequest

router = APIRouter(prefix="/v1", tags=["asynchronous recognition"])
JOB_PARAMS = ("callback_url", "events", "user_token", "results_ttl")


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise BadRequest(f"Missing required query parameter '{name}'")
    return value


@router.post("/register_callback")
def register_callback(request: Request, svc: ServicesDep, owner: OwnerDep) -> JSONResponse:
    url = _required(request, "callback_url")
    body, created = svc.callbacks.register(owner, url, request.query_params.get("user_secret"))
    return JSONResponse(body, status_code=201 if created else 200)


@router.post("/unregister_callback")
def unregister_callback(request: Request, svc: ServicesDep, owner: OwnerDep) -> Response:
    svc.callbacks.unregister(owner, _required(request, "callback_url"))
    return Response(status_code=200)


@router.post("/recognitions", status_code=201)
async def create_job(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    parts, params = await audio_request(request, svc)
    for name in JOB_PARAMS:  # query values are strings; multipart metadata values may be anything
        if params.get(name) is not None and not isinstance(params[name], str):
            raise BadRequest(f"Invalid value for parameter '{name}': a string is required")
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    return await run_in_threadpool(svc.recognition_jobs.create, owner, parts, params, base)  # writes the audio


@router.get("/recognitions")
def check_jobs(svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.recognition_jobs.list(owner)


@router.get("/recognitions/{job_id}")
def check_job(job_id: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.recognition_jobs.get(owner, job_id)


@router.delete("/recognitions/{job_id}", status_code=204)
def delete_job(job_id: str, svc: ServicesDep, owner: OwnerDep) -> Response:
    svc.recognition_jobs.delete(owner, job_id)
    return Response(status_code=204)
