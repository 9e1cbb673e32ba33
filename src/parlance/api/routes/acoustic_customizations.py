"""`/v1/acoustic_customizations`: custom acoustic models and their audio resources."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from parlance.api.deps import OwnerDep, ServicesDep, read_body
from parlance.api.openapi import ERRORS, raw_body
from parlance.api.openapi import json_body as json_request
from parlance.api.routes.customizations import json_body
from parlance.api.schemas import (
    AcousticModel,
    AcousticModels,
    AudioListing,
    AudioResources,
    CreateAcousticModel,
    CustomizationId,
    Empty,
    TrainingResponse,
)
from parlance.errors import BadRequest

router = APIRouter(prefix="/v1/acoustic_customizations", tags=["acoustic customizations"], responses=ERRORS)
AUDIO_BODY = raw_body("audio/wav", "audio/flac", "audio/mp3", "audio/ogg", "application/zip", "application/gzip")


@router.post("", status_code=201, response_model=CustomizationId, openapi_extra=json_request(CreateAcousticModel))
async def create(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, str]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return {"customization_id": svc.acoustic.create(owner, body)}


@router.get("", response_model=AcousticModels, response_model_exclude_unset=True)
def list_models(svc: ServicesDep, owner: OwnerDep, language: str | None = None) -> dict[str, Any]:
    return svc.acoustic.list(owner, language)


@router.get("/{cid}", response_model=AcousticModel, response_model_exclude_unset=True)
def get_model(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.acoustic.get(owner, cid)


@router.delete("/{cid}", response_model=Empty)
def delete_model(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.acoustic.delete(owner, cid)
    return {}


@router.post("/{cid}/train", response_model=TrainingResponse, response_model_exclude_unset=True)
def train(
    cid: str, svc: ServicesDep, owner: OwnerDep, custom_language_model_id: str | None = None, strict: bool = True
) -> dict[str, Any]:
    return svc.acoustic.train(owner, cid, custom_language_model_id, strict)


@router.post("/{cid}/reset", response_model=Empty)
def reset(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.acoustic.reset(owner, cid)
    return {}


@router.post("/{cid}/upgrade_model", response_model=Empty)
def upgrade_model(
    cid: str, svc: ServicesDep, owner: OwnerDep, custom_language_model_id: str | None = None, force: bool = False
) -> dict[str, Any]:
    svc.acoustic.upgrade(owner, cid, custom_language_model_id, force)
    return {}


# -- audio resources ----------------------------------------------------------------------------
@router.post("/{cid}/audio/{name}", status_code=201, response_model=Empty, openapi_extra=AUDIO_BODY)
async def add_audio(
    cid: str, name: str, request: Request, svc: ServicesDep, owner: OwnerDep, allow_overwrite: bool = False
) -> dict[str, Any]:
    data = await read_body(request, svc.settings.max_body_bytes)
    content_type = request.headers.get("content-type") or ""
    contained = request.headers.get("contained-content-type")
    svc.acoustic_audio.add(owner, cid, name, data, content_type, contained, allow_overwrite)
    return {}


@router.get("/{cid}/audio", response_model=AudioResources, response_model_exclude_unset=True)
def list_audio(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.acoustic_audio.list(owner, cid)


@router.get("/{cid}/audio/{name}", response_model=AudioListing, response_model_exclude_unset=True)
def get_audio(cid: str, name: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.acoustic_audio.get(owner, cid, name)


@router.delete("/{cid}/audio/{name}", response_model=Empty)
def delete_audio(cid: str, name: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.acoustic_audio.delete(owner, cid, name)
    return {}
