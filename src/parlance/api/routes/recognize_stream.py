"""The WebSocket `/v1/recognize`: Watson's streaming protocol (see `parlance.api.ws.session`)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from parlance.api.deps import owner_of
from parlance.api.ws import session
from parlance.errors import ParlanceError
from parlance.services.container import Services

router = APIRouter(prefix="/v1", tags=["recognition"])


@router.websocket("/recognize")
async def recognize_stream(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    try:
        owner = owner_of(svc, ws.headers, ws.query_params)
    except ParlanceError:
        await ws.close(code=1008, reason="Unauthorized")  # before accepting: the handshake fails
        return
    await session.serve(ws, svc, owner)
