"""The one place errors become HTTP responses: Watson's `{"error", "code", "code_description"}`, or
Azure's `{"code", "message", "innerError"}` on the Azure paths (`/speechtotext/...`, `/speech/...`)."""

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
AZURE_PATHS = ("/speechtotext/", "/speech/")
# Azure's ErrorCode for an HTTP status (the swagger maps none; these follow its names).
AZURE_CODES = {
    400: "InvalidRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "NotAllowed",
    409: "Conflict",
    413: "InvalidRequest",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


def error_body(status: int, message: str, description: str | None = None) -> dict[str, object]:
    return {
        "error": message,
        "code": status,
        "code_description": description or HTTPStatus(status).phrase,
    }


def azure_error_body(status: int, message: str, detail_code: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"code": AZURE_CODES.get(status, "InternalServerError"), "message": message}
    if detail_code:
        body["innerError"] = {"code": detail_code, "message": message}
    return body


def error_response(
    status: int,
    message: str,
    description: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    request: Request | None = None,
    detail_code: str | None = None,
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="parlance"'
    if status == 503:  # tells clients (and load balancers) when to try again
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if request is not None and request.url.path.startswith(AZURE_PATHS):
        body = azure_error_body(status, message, detail_code)
    else:
        body = error_body(status, message, description)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ParlanceError)
    async def _ours(request: Request, exc: ParlanceError) -> JSONResponse:
        if exc.status >= 500 and exc.status != 503:
            log.error("server error: %r", exc)
        return error_response(exc.status, exc.message, exc.description, request=request, detail_code=exc.detail_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        message = f"Invalid value for '{where}': {err.get('msg')}"
        return error_response(400, message, request=request, detail_code="InvalidParameterValue")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # exc.headers carries e.g. Allow on a 405
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers, request=request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        tid = transaction_id(request)  # Starlette runs this handler outside the middleware that adds it
        headers = {HEADER: tid} if tid else None
        return error_response(500, "Internal error; the request was not completed.", headers=headers, request=request)
