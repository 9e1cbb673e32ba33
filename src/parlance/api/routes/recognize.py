"""`POST /v1/recognize`: audio in the body (any §4 content type) or multipart `metadata` + `upload`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from parlance.api import multipart
from parlance.api.deps import OwnerDep, ServicesDep, read_body
from parlance.errors import BadRequest, InvalidAudio
from parlance.services.container import Services

router = APIRouter(prefix="/v1", tags=["recognition"])


def _multipart(body: bytes, content_type: str) -> tuple[list[tuple[bytes, str | None]], dict[str, Any]]:
    parts = multipart.parse(body, content_type)
    raw_metadata = parts.get("metadata", [(b"{}", None)])[0][0]
    try:
        metadata = json.loads(raw_metadata)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The multipart 'metadata' part is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise BadRequest("The multipart 'metadata' part must be a JSON object")
    part_type = metadata.pop("part_content_type", None)
    metadata.pop("data_parts_count", None)
    uploads = parts.get("upload", [])
    if not uploads:
        raise InvalidAudio("The multipart request has no 'upload' part with audio")
    return [(data, part_type or ctype) for data, ctype in uploads], metadata


async def audio_request(request: Request, svc: Services) -> tuple[list[tuple[bytes, str | None]], dict[str, Any]]:
    """The audio parts and the parameters (query, and multipart `metadata`) of a recognition request."""
    content_type = request.headers.get("content-type")
    params: dict[str, Any] = dict(request.query_params)
    body = await read_body(request, svc.settings.max_body_bytes)
    if content_type and content_type.lower().startswith("multipart/form-data"):
        parts, metadata = _multipart(body, content_type)
        params.update(metadata)
    else:
        parts = [(body, content_type)]
    if sum(len(p) for p, _ in parts) < svc.settings.min_body_bytes:
        raise InvalidAudio(f"The audio is too short: at least {svc.settings.min_body_bytes} bytes are required")
    return parts, params


@router.post("/recognize")
async def recognize(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    parts, params = await audio_request(request, svc)
    return await svc.recognition.recognize(owner, parts, params)
