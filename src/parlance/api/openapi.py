"""OpenAPI pieces for routes that read their request themselves (raw audio, text, multipart, JSON parsed
with a depth limit): the bodies and query parameters they accept, and the error responses every route
may give, so `/openapi.json` describes the real API (and a fuzzer can generate requests from it)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from parlance.api.schemas import ErrorBody, json_schema
from parlance.audio.decode import ACCEPTED_TYPES
from parlance.services.recognition import RecognizeParams

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (404, "Not Found"),
        (409, "Conflict: the custom model is busy or the name is taken"),
        (413, "Payload Too Large"),
        (415, "Unsupported Media Type"),
        (503, "Service Unavailable: every engine worker is busy (see Retry-After)"),
    )
}
BINARY = {"schema": {"type": "string", "format": "binary"}}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": json_schema(model)}}}}


def raw_body(*media_types: str, multipart: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {media: BINARY for media in media_types}
    if multipart is not None:
        content["multipart/form-data"] = {"schema": {"type": "object", "properties": multipart}}
    return {"requestBody": {"required": True, "content": content}}


def query(name: str, schema: dict[str, Any], required: bool = False, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def recognition_parameters() -> list[dict[str, Any]]:
    """The recognition options Parlance acts on, as query parameters (also accepted in the multipart
    `metadata`); `keywords` travels comma-separated in a query string."""
    props = RecognizeParams.model_json_schema()["properties"]
    out = []
    for name, field in RecognizeParams.model_fields.items():
        schema = {"type": "string"} if name == "keywords" else _not_null(props[name])
        out.append(query(name, schema, description=field.description or ""))
    return out


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is never JSON null: `anyOf: [X, null]` becomes X."""
    schema = {k: v for k, v in schema.items() if k != "title"}
    options = [s for s in schema.pop("anyOf", []) if s.get("type") != "null"]
    return {**options[0], **schema} if len(options) == 1 else schema


AUDIO_BODY = raw_body(
    *ACCEPTED_TYPES,
    multipart={
        "metadata": {"type": "string", "description": "JSON: recognition options and part_content_type"},
        "upload": {"type": "string", "format": "binary"},
    },
)


def install(app: FastAPI) -> None:
    """Validation errors are rendered as Watson's 400 (`api/errors.py`), not FastAPI's 422 shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
