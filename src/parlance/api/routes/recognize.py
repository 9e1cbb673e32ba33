"""`POST /v1/recognize`: audio in the body (any §4 content type) or multipart `metadata` + `upload`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from parlance.api import multipart
from parlance.api.deps import OwnerDep, ServicesDep, read_body
from parlance.api.openapi import AUDIO_BODY, ERRORS, recognition_parameters
from parlance.api.schemas import SpeechRecognitionResults
from parlance.audio.decode import ACCEPTED_TYPES, parse_content_type
from parlance.errors import BadRequest, InvalidAudio, UnsupportedMediaType
from parlance.jsonsafe import loads_limited
from parlance.services.container import Services

router = APIRouter(prefix="/v1", tags=["recognition"], responses=ERRORS)


def _multipart(body: bytes, content_type: str) -> tuple[list[tuple[bytes, str | None]], dict[str, Any]]:
    parts = multipart.parse(body, content_type)
    try:
        metadata = loads_limited(parts.get("metadata", [(b"{}", None)])[0][0])
    except BadRequest as exc:
        raise BadRequest(f"The multipart 'metadata' part: {exc.message}") from None
    if not isinstance(metadata, dict):
        raise BadRequest("The multipart 'metadata' part must be a JSON object")
    part_type = metadata.pop("part_content_type", None)
    if part_type is not None and not isinstance(part_type, str):
        raise BadRequest("The metadata 'part_content_type' must be a string such as 'audio/l16;rate=16000'")
    count = metadata.pop("data_parts_count", None)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise BadRequest("The metadata 'data_parts_count' must be a positive integer")
    uploads = parts.get("upload", [])
    if not uploads:
        raise InvalidAudio("The multipart request has no 'upload' part with audio")
    return [(data, part_type or ctype) for data, ctype in uploads], metadata


def _refuse_non_audio(content_type: str | None) -> bool:
    """415 for a Content-Type that cannot hold audio; True for multipart. Audio subtypes are checked
    in detail when the audio is decoded."""
    mime = parse_content_type(content_type).mime
    if mime == "multipart/form-data":
        return True
    if mime in ("", "application/octet-stream") or mime.startswith("audio/"):
        return False
    raise UnsupportedMediaType(f"Content type '{mime}' is not supported. Accepted types: {', '.join(ACCEPTED_TYPES)}")


async def audio_request(request: Request, svc: Services) -> tuple[list[tuple[bytes, str | None]], dict[str, Any]]:
    """The audio parts and the parameters (query, and multipart `metadata`) of a recognition request."""
    content_type = request.headers.get("content-type")
    is_multipart = _refuse_non_audio(content_type)  # before the body is read: a wrong type is not worth reading
    params: dict[str, Any] = dict(request.query_params)
    body = await read_body(request, svc.settings.max_body_bytes)
    if is_multipart:
        parts, metadata = _multipart(body, content_type or "")
        params.update(metadata)
    else:
        parts = [(body, content_type)]
    if sum(len(p) for p, _ in parts) < svc.settings.min_body_bytes:
        raise InvalidAudio(f"The audio is too short: at least {svc.settings.min_body_bytes} bytes are required")
    return parts, params


@router.post(
    "/recognize",
    response_model=SpeechRecognitionResults,
    response_model_exclude_unset=True,
    openapi_extra={**AUDIO_BODY, "parameters": recognition_parameters()},
)
async def recognize(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    parts, params = await audio_request(request, svc)
    return await svc.recognition.recognize(owner, parts, params)
