"""The one place errors become HTTP responses: Watson's `{"error", "code", "code_description"}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parlance.api.transaction import HEADER, transaction_id
from parlance.errors import ParlanceError

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1  # a 503 means every engine worker and queue slot is taken: that passes quickly


def error_body(status: int, message: str, description: str | None = None) -> dict[str, object]:
    return {
        "error": message,
        "code": status,
        "code_description": description or HTTPStatus(status).phrase,
    }


def error_response(
    status: int, message: str, description: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="parlance"'
    if status == 503:  # tells clients (and load balancers) when to try again
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse(error_body(status, message, description), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ParlanceError)
    async def _ours(_: Request, exc: ParlanceError) -> JSONResponse:
        if exc.status >= 500 and exc.status != 503:
            log.error("server error: %r", exc)
        return error_response(exc.status, exc.message, exc.description)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        return error_response(400, f"Invalid value for '{where}': {err.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)  # e.g. Allow on a 405

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        tid = transaction_id(request)  # Starlette runs this handler outside the middleware that adds it
        headers = {HEADER: tid} if tid else None
        return error_response(500, "Internal error; the request was not completed.", headers=headers)
