"""Asynchronous recognition: `/v1/recognitions` jobs and the callback URLs that hear about them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from parlance.api.deps import OwnerDep, ServicesDep
from parlance.api.openapi import AUDIO_BODY, ERRORS, query, recognition_parameters
from parlance.api.routes.recognize import audio_request
from parlance.api.schemas import RecognitionJob, RecognitionJobs, RegisterStatus
from parlance.errors import BadRequest

router = APIRouter(prefix="/v1", tags=["asynchronous recognition"], responses=ERRORS)
JOB_PARAMS = ("callback_url", "events", "user_token", "results_ttl")


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise BadRequest(f"Missing required query parameter '{name}'")
    return value


CALLBACK_URL = query("callback_url", {"type": "string", "format": "uri"}, required=True)
JOB_QUERY = [
    query("callback_url", {"type": "string", "format": "uri"}, description="A registered callback URL"),
    query("events", {"type": "string"}, description="Comma-separated recognitions.* events"),
    query("user_token", {"type": "string", "maxLength": 256}),
    query("results_ttl", {"type": "integer", "minimum": 1}, description="Minutes the results are kept"),
]


@router.post(
    "/register_callback",
    response_model=RegisterStatus,
    responses={201: {"model": RegisterStatus, "description": "Registered"}},
    openapi_extra={"parameters": [CALLBACK_URL, query("user_secret", {"type": "string"})]},
)
def register_callback(request: Request, response: Response, svc: ServicesDep, owner: OwnerDep) -> dict[str, str]:
    url = _required(request, "callback_url")
    body, created = svc.callbacks.register(owner, url, request.query_params.get("user_secret"))
    response.status_code = 201 if created else 200  # 200: it was registered already
    return body


@router.post(
    "/unregister_callback",
    response_class=Response,
    responses={200: {"description": "Unregistered (empty body)"}},
    openapi_extra={"parameters": [CALLBACK_URL]},
)
def unregister_callback(request: Request, svc: ServicesDep, owner: OwnerDep) -> Response:
    svc.callbacks.unregister(owner, _required(request, "callback_url"))
    return Response(status_code=200)


@router.post(
    "/recognitions",
    status_code=201,
    response_model=RecognitionJob,
    response_model_exclude_unset=True,
    openapi_extra={**AUDIO_BODY, "parameters": recognition_parameters() + JOB_QUERY},
)
async def create_job(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    parts, params = await audio_request(request, svc)
    for name in JOB_PARAMS:  # query values are strings; multipart metadata values may be anything
        if params.get(name) is not None and not isinstance(params[name], str):
            raise BadRequest(f"Invalid value for parameter '{name}': a string is required")
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    return await run_in_threadpool(svc.recognition_jobs.create, owner, parts, params, base)  # writes the audio


@router.get("/recognitions", response_model=RecognitionJobs, response_model_exclude_unset=True)
def check_jobs(svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.recognition_jobs.list(owner)


@router.get("/recognitions/{job_id}", response_model=RecognitionJob, response_model_exclude_unset=True)
def check_job(job_id: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.recognition_jobs.get(owner, job_id)


@router.delete("/recognitions/{job_id}", status_code=204, response_class=Response)
def delete_job(job_id: str, svc: ServicesDep, owner: OwnerDep) -> Response:
    svc.recognition_jobs.delete(owner, job_id)
    return Response(status_code=204)
