"""`POST /v1/detect_language`: spoken-language identification (the SDK's `detect_language`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from parlance.api.deps import OwnerDep, ServicesDep
from parlance.api.openapi import AUDIO_BODY, ERRORS
from parlance.api.routes.recognize import audio_request
from parlance.api.schemas import LanguageDetectionResults
from parlance.services.language_detection import LanguageDetection, parse_lid_confidence

router = APIRouter(prefix="/v1", tags=["recognition"], responses=ERRORS)


@router.post(
    "/detect_language",
    response_model=LanguageDetectionResults,
    openapi_extra={
        **AUDIO_BODY,
        "parameters": [
            {
                "name": "lid_confidence",
                "in": "query",
                "required": False,
                "description": "Answer once the best language reaches this confidence (default 0.99).",
                "schema": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.99},
            }
        ],
    },
)
async def detect_language(request: Request, svc: ServicesDep, _: OwnerDep) -> dict[str, Any]:
    parts, params = await audio_request(request, svc)
    lid_confidence = parse_lid_confidence(params.get("lid_confidence"))
    return await LanguageDetection(svc.catalog, svc.pool).detect(parts, lid_confidence)
