"""`X-Global-Transaction-Id` on every HTTP response, as Watson sends (the SDK prints it with errors).

A pure ASGI middleware rather than `@app.middleware("http")`: it adds the header without buffering
responses or touching streamed bodies. The id is kept in the request state so the 500 handler, which
Starlette runs outside all middleware, can send the same id.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Global-Transaction-Id"


def transaction_id(request: Request) -> str | None:
    return getattr(request.state, "transaction_id", None)


class TransactionIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tid = uuid.uuid4().hex
        scope.setdefault("state", {})["transaction_id"] = tid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault(HEADER, tid)
            await send(message)

        await self.app(scope, receive, send_with_id)
