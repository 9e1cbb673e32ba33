"""`create_app(settings)`: the FastAPI application, with services built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from parlance import __version__
from parlance.api import errors, openapi
from parlance.api.azure import datasets as azure_datasets
from parlance.api.azure import endpoints as azure_endpoints
from parlance.api.azure import models as azure_models
from parlance.api.azure import speech as azure_speech
from parlance.api.azure import transcriptions as azure_transcriptions
from parlance.api.azure.context import API_VERSIONS
from parlance.api.routes import (
    acoustic_customizations,
    customizations,
    detect_language,
    identity,
    models,
    recognitions,
    recognize,
    recognize_stream,
)
from parlance.api.schemas import Health, WireModel
from parlance.api.transaction import TransactionIdMiddleware
from parlance.services.container import Services
from parlance.services.health import Metrics, readiness
from parlance.settings import Settings

log = logging.getLogger(__name__)


class Readiness(WireModel):
    status: str  # ready | not ready
    checks: dict[str, str]  # database, broker, models -> "ok..." or what is wrong


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or Services.build(settings)
        app.state.services = svc
        metrics.watch(svc)
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(title="Parlance", version=__version__, lifespan=lifespan)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(TransactionIdMiddleware)
    metrics = Metrics()
    app.middleware("http")(metrics.middleware)
    watson = (identity, models, recognize, recognize_stream, recognitions, detect_language, customizations)
    for module in (*watson, acoustic_customizations):
        app.include_router(module.router)
    for version in API_VERSIONS:  # the Azure API, v3.1 and v3.2 paths alike
        for azure in (azure_models, azure_endpoints, azure_datasets, azure_transcriptions):
            # one version in the OpenAPI document: the paths are the same, and operation ids must be unique
            documented = version == API_VERSIONS[0]
            app.include_router(azure.router, prefix=f"/speechtotext/{version}", include_in_schema=documented)
    app.include_router(azure_speech.router)

    @app.get("/health", tags=["health"], response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/healthz", tags=["health"], response_model=Health)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency is not reachable"}},
    )
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the database, the job broker (if any) and the models are reachable; 503 says which not."""
        checks = readiness(request.app.state.services)
        ready = all(v.startswith("ok") for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)

    # Prometheus' text format, not JSON: left out of the OpenAPI document (an operations endpoint)
    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse, include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Prometheus metrics: requests, latency, engine queue depth and utilisation, jobs by state."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
