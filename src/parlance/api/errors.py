"""The one place errors become HTTP responses: Watson's `{"error", "code", "code_description"}`."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parlance.errors import ParlanceError

log = logging.getLogger(__name__)


def error_body(status: int, message: str, description: str | None = None) -> dict[str, object]:
    return {
        "error": message,
        "code": status,
        "code_description": description or HTTPStatus(status).phrase,
    }


def error_response(status: int, message: str, description: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="parlance"'} if status == 401 else None
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
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "Internal error; the request was not completed.")
