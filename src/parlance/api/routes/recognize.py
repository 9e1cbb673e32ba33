"""`POST /v1/recognize`: audio in the body (any §4 content type) or multipart `metadata` + `upload`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from parlance.api.deps import OwnerDep, ServicesDep, read_body
from parlance.errors import BadRequest, InvalidAudio, PayloadTooLarge

router = APIRouter(prefix="/v1", tags=["recognition"])


async def _multipart(request: Request, limit: int) -> tuple[list[tuple[bytes, str | None]], dict[str, Any]]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes")
    form = await request.form(max_part_size=limit)
    try:
        metadata = json.loads(form.get("metadata") or "{}")  # type: ignore[arg-type]
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The multipart 'metadata' part is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise BadRequest("The multipart 'metadata' part must be a JSON object")
    part_type = metadata.pop("part_content_type", None)
    metadata.pop("data_parts_count", None)
    uploads = [u for u in form.getlist("upload") if isinstance(u, UploadFile)]
    if not uploads:
        raise InvalidAudio("The multipart request has no 'upload' part with audio")
    parts = [(await u.read(), part_type or u.content_type) for u in uploads]
    return parts, metadata


@router.post("/recognize")
async def recognize(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    limit = svc.settings.max_body_bytes
    content_type = request.headers.get("content-type")
    params: dict[str, Any] = dict(request.query_params)
    if content_type and content_type.lower().startswith("multipart/form-data"):
        parts, metadata = await _multipart(request, limit)
        params.update(metadata)
    else:
        parts = [(await read_body(request, limit), content_type)]
    if sum(len(p) for p, _ in parts) < svc.settings.min_body_bytes:
        raise InvalidAudio(f"The audio is too short: at least {svc.settings.min_body_bytes} bytes are required")
    return await svc.recognition.recognize(owner, parts, params)
