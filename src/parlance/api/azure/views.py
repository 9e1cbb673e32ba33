"""Azure's entity shapes (models, endpoints, datasets) rendered from Parlance's store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parlance.api.azure.context import Azure
from parlance.engines.base import ModelVersion
from parlance.errors import BadRequest
from parlance.services.endpoints import ModelRef
from parlance.services.lifecycle import DeprecationDates, iso_date
from parlance.store.orm import CustomModel, Dataset, Endpoint

# Watson's custom-model statuses as Azure's (NotStarted | Running | Succeeded | Failed).
STATUS = {
    "pending": "NotStarted",
    "ready": "NotStarted",
    "training": "Running",
    "upgrading": "Running",
    "available": "Succeeded",
    "failed": "Failed",
}


def timestamp(when: datetime) -> str:
    return iso_date(when if when.tzinfo else when.replace(tzinfo=UTC)) or ""


def deprecation_dates(dates: DeprecationDates) -> dict[str, str]:
    """Only the dates the policy gives (`never` gives none)."""
    out = {"adaptationDateTime": iso_date(dates.adaptation), "transcriptionDateTime": iso_date(dates.transcription)}
    return {key: value for key, value in out.items() if value is not None}


def base_model(az: Azure, version: ModelVersion) -> dict[str, Any]:
    dates = az.svc.lifecycle.base_dates(version)
    created = timestamp(version.created)
    return {
        "self": az.url("models", "base", version.version),
        "links": {"manifest": az.url("models", "base", version.version, "manifest")},
        "properties": {
            "deprecationDates": deprecation_dates(dates),
            "features": {
                "supportsTranscriptions": True,
                "supportsEndpoints": True,
                "supportsTranscriptionsOnSpeechContainers": False,
                "supportsAdaptationsWith": ["Language"],
                "supportedOutputFormats": ["Display", "Lexical"],
            },
            "chargeForAdaptation": False,
        },
        "lastActionDateTime": created,
        "status": "Succeeded",
        "createdDateTime": created,
        "locale": version.language,
        "displayName": version.version,
        "description": version.description,
    }


def custom_model(az: Azure, row: CustomModel, datasets: list[str] | None = None) -> dict[str, Any]:
    dates = az.svc.lifecycle.custom_dates(row.created)
    properties: dict[str, Any] = {
        "deprecationDates": deprecation_dates(dates),
        "features": {
            "supportsTranscriptions": True,
            "supportsEndpoints": True,
            "supportsTranscriptionsOnSpeechContainers": False,
            "supportedOutputFormats": ["Display", "Lexical"],
        },
    }
    if row.customization_weight is not None:
        properties["customModelWeightPercent"] = max(1, round(row.customization_weight * 100))
    if row.status == "failed" and row.error:
        properties["error"] = {"code": "FailedDataset", "message": row.error}
    return {
        "self": az.url("models", row.id),
        "baseModel": {"self": az.url("models", "base", row.versions[-1])},
        "datasets": [{"self": az.url("datasets", d)} for d in datasets or []],
        "links": {"files": az.url("models", row.id, "files"), "manifest": az.url("models", row.id, "manifest")},
        "properties": properties,
        "lastActionDateTime": timestamp(row.updated),
        "status": STATUS.get(row.status, "Running"),
        "createdDateTime": timestamp(row.created),
        "locale": row.language,
        "displayName": row.name,
        "description": row.description,
        "customProperties": {},
    }


def model_url(az: Azure, ref: ModelRef) -> str:
    return az.url("models", "base", ref.id) if ref.kind == "base" else az.url("models", ref.id)


def model_ref(az: Azure, reference: Any, field: str = "model") -> ModelRef:
    """`{"self": ".../models/base/{id}"}` or `{"self": ".../models/{id}"}` (any host, any API version)."""
    url = reference.get("self") if isinstance(reference, dict) else None
    if not isinstance(url, str) or "/models/" not in url:
        raise BadRequest(f"The value of {field}.self does not reference an entity.")
    tail = url.split("?", 1)[0].rstrip("/").rsplit("/models/", 1)[1]
    if tail.startswith("base/") and tail.count("/") == 1:
        return ModelRef("base", tail.split("/", 1)[1])
    if tail and "/" not in tail:
        return ModelRef("custom", tail)
    raise BadRequest(f"The value of {field}.self does not reference an entity.")


def endpoint(az: Azure, row: Endpoint) -> dict[str, Any]:
    rest = f"{az.root}/speech/recognition/{{mode}}/cognitiveservices/v1?cid={row.id}"
    return {
        "self": az.url("endpoints", row.id),
        "model": {"self": model_url(az, ModelRef(row.model_kind, row.model_id))},  # type: ignore[arg-type]
        "links": {
            "restInteractive": rest.format(mode="interactive"),
            "restConversation": rest.format(mode="conversation"),
            "restDictation": rest.format(mode="dictation"),
        },
        "properties": {"loggingEnabled": False},
        "lastActionDateTime": timestamp(row.updated),
        "status": "Succeeded",  # deployment is immediate: the model loads on first use
        "createdDateTime": timestamp(row.created),
        "locale": row.locale,
        "displayName": row.display_name,
        "description": row.description,
        "customProperties": row.custom_properties,
    }


def dataset(az: Azure, row: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {
        "self": az.url("datasets", row.id),
        "kind": row.kind,
        "links": {"files": az.url("datasets", row.id, "files")},
        "properties": dict(row.properties),
        "lastActionDateTime": timestamp(row.updated),
        "status": row.status,
        "createdDateTime": timestamp(row.created),
        "locale": row.locale,
        "displayName": row.display_name,
        "description": row.description,
        "customProperties": row.custom_properties,
    }
    if row.error:
        out["properties"]["error"] = {"code": "InvalidDocument", "message": row.error}
    return out
