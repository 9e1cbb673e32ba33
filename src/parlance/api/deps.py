"""Request dependencies: the service container, the caller's instance, bounded bodies."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from parlance.errors import PayloadTooLarge, Unauthorized
from parlance.services.container import Services


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


def owner_of(svc: Services, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The service instance the credentials belong to: it owns what the request creates."""
    if not svc.settings.auth:
        return svc.auth.ensure_dev_instance()
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, key = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Unauthorized: malformed Basic credentials") from None
        if user != "apikey":
            raise Unauthorized("Unauthorized: use the user name 'apikey' with your API key as password")
        return svc.auth.instance_for_key(key)
    if scheme.lower() == "bearer" and value:
        return svc.auth.instance_for_token(value.strip())
    token = query.get("access_token")
    if token:
        return svc.auth.instance_for_token(token)
    raise Unauthorized("Unauthorized: send Basic apikey:{key} or a Bearer token")


def owner(request: Request, svc: ServicesDep) -> str:
    return owner_of(svc, request.headers, request.query_params)


OwnerDep = Annotated[str, Depends(owner)]


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it with 413 as soon as it passes `limit` (not after buffering it all)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
