"""IAM-compatible token endpoint, so the SDKs' `IAMAuthenticator(apikey, url=...)` works."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request

from parlance.api.deps import ServicesDep, read_body
from parlance.api.openapi import ERRORS
from parlance.api.schemas import IamToken
from parlance.errors import BadRequest

router = APIRouter(tags=["identity"], responses=ERRORS)
APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
TOKEN_FORM = {
    "schema": {
        "type": "object",
        "required": ["grant_type", "apikey"],
        "properties": {"grant_type": {"type": "string", "enum": [APIKEY_GRANT]}, "apikey": {"type": "string"}},
    }
}


@router.post(
    "/identity/token",
    response_model=IamToken,
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": TOKEN_FORM}}},
)
async def token(request: Request, svc: ServicesDep) -> dict[str, Any]:
    form = parse_qs((await read_body(request, 64 * 1024)).decode("utf-8", "replace"))
    grant = form.get("grant_type", [""])[0]
    if grant != APIKEY_GRANT:
        raise BadRequest(f"Unsupported grant_type '{grant}'; use {APIKEY_GRANT}")
    apikey = form.get("apikey", [""])[0]
    if not apikey:
        raise BadRequest("Missing form field 'apikey'")
    return svc.auth.issue_token(apikey)
