"""Azure's short-audio REST recognition, `POST /speech/recognition/{mode}/cognitiveservices/v1`: an
endpoint's own recognition URL (`?cid={endpoint}`), or the newest base model of `language` without one."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request

from parlance.api.azure.context import AzureDep
from parlance.api.azure.schemas import ERRORS, ShortAudioResult
from parlance.api.deps import read_body
from parlance.errors import BadRequest
from parlance.services import azure_results
from parlance.services.azure_results import ProfanityMode

router = APIRouter(tags=["azure: recognition"], responses=ERRORS)
PROFANITY: dict[str, ProfanityMode] = {"masked": "Masked", "removed": "Removed", "raw": "None"}


@router.post(
    "/speech/recognition/{mode}/cognitiveservices/v1",
    response_model=ShortAudioResult,
    response_model_exclude_unset=True,
)
async def recognize_short_audio(
    mode: Literal["interactive", "conversation", "dictation"],
    request: Request,
    az: AzureDep,
    cid: str | None = None,
    language: str = "en-US",
    format: Literal["simple", "detailed"] = "simple",  # noqa: A002 - Azure's parameter name
    profanity: Literal["masked", "removed", "raw"] = "masked",
) -> dict[str, Any]:
    if cid:
        chosen = az.svc.endpoints.recognition_model(az.owner, cid)
        params, warnings, locale = dict(chosen.params), chosen.warnings, az.svc.endpoints.get(az.owner, cid).locale
    else:
        params, warnings, locale = {"model": az.svc.azure_models.default_base(language)}, [], language
    body = await read_body(request, az.svc.settings.max_body_bytes)
    if not body:
        raise BadRequest("The request has no audio")
    result = await az.svc.recognition.recognize(
        az.owner, [(body, request.headers.get("content-type"))], {**params, **azure_results.WATSON_PARAMS}
    )
    phrases = [azure_results.recognized_phrase(r, locale, PROFANITY[profanity], True) for r in result["results"]]
    out: dict[str, Any] = _short_result(phrases, format)
    warnings = warnings + result.get("warnings", [])
    if warnings:
        out["Warnings"] = warnings  # not in Azure's shape: Parlance never changes a model silently
    return out


def _short_result(phrases: list[dict[str, Any]], fmt: str) -> dict[str, Any]:
    if not phrases:
        return {"RecognitionStatus": "NoMatch", "Offset": 0, "Duration": 0}
    combined = azure_results.combined_phrase(phrases)
    start = phrases[0]["offsetInTicks"]
    duration = phrases[-1]["offsetInTicks"] + phrases[-1]["durationInTicks"] - start
    out: dict[str, Any] = {"RecognitionStatus": "Success", "Offset": start, "Duration": duration}
    if fmt == "simple":
        out["DisplayText"] = combined["display"]
        return out
    confidence = sum(p["nBest"][0]["confidence"] for p in phrases) / len(phrases)
    out["DisplayText"] = combined["display"]
    out["NBest"] = [
        {
            "Confidence": round(confidence, 3),
            "Lexical": combined["lexical"],
            "ITN": combined["itn"],
            "MaskedITN": combined["maskedITN"],
            "Display": combined["display"],
        }
    ]
    return out
