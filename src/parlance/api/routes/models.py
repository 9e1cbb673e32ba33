"""`/v1/models`: the base models, with Watson's SpeechModel fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from parlance.api.deps import OwnerDep, ServicesDep
from parlance.api.openapi import ERRORS
from parlance.api.schemas import SpeechModel, SpeechModels
from parlance.engines.base import Capabilities, ModelVersion
from parlance.services.lifecycle import DeprecationDates, watson_dates

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERRORS)


def speech_model(
    v: ModelVersion, base_url: str, capabilities: Capabilities, dates: DeprecationDates | None = None
) -> dict[str, Any]:
    features: dict[str, Any] = {
        "custom_language_model": True,
        "custom_acoustic_model": capabilities.generation == "previous",
        "speaker_labels": True,
    }
    if capabilities.generation == "next":  # Watson lists low_latency for next-generation models only
        features["low_latency"] = capabilities.low_latency
    out: dict[str, Any] = {
        "name": v.base_model,
        "language": v.language,
        "rate": v.rate,
        "url": f"{base_url}/v1/models/{v.base_model}",
        "description": v.description,
        "supported_features": features,
    }
    if dates is not None:  # Parlance's addition: the lifecycle of the newest version (Azure's deprecationDates)
        out["deprecation_dates"] = watson_dates(dates)
    return out


def _model(svc: ServicesDep, request: Request, name: str) -> dict[str, Any]:
    newest = svc.catalog.newest(svc.catalog.equivalent(name)[0])  # a retired name shows what serves it
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    dates = svc.lifecycle.base_dates(newest)
    return speech_model(newest, base, svc.pool.engine(newest).capabilities, dates)


@router.get("", response_model=SpeechModels, response_model_exclude_unset=True)
def list_models(request: Request, svc: ServicesDep, _: OwnerDep) -> dict[str, Any]:
    return {"models": [_model(svc, request, name) for name in svc.catalog.base_models()]}


@router.get("/{model_id}", response_model=SpeechModel, response_model_exclude_unset=True)
def get_model(model_id: str, request: Request, svc: ServicesDep, _: OwnerDep) -> dict[str, Any]:
    return _model(svc, request, model_id)
