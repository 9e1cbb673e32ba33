"""`create_app(settings)`: the FastAPI application, with services built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from parlance import __version__
from parlance.api import errors, openapi
from parlance.api.routes import customizations, identity, models, recognitions, recognize, recognize_stream
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
    for module in (identity, models, recognize, recognize_stream, recognitions, customizations):
        app.include_router(module.router)

    @app.get("/health", tags=["health"], response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
