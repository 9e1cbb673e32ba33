"""`create_app(settings)`: the FastAPI application, with services built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

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
    identity,
    models,
    recognitions,
    recognize,
    recognize_stream,
)
from parlance.api.schemas import Health
from parlance.api.transaction import TransactionIdMiddleware
from parlance.services.container import Services
from parlance.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or Services.build(settings)
        app.state.services = svc
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(title="Parlance", version=__version__, lifespan=lifespan)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(TransactionIdMiddleware)
    routers = (identity, models, recognize, recognize_stream, recognitions, customizations, acoustic_customizations)
    for module in routers:
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

    return app
