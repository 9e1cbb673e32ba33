"""The WebSocket `/v1/recognize`: Watson's streaming protocol over the same recognition pipeline.

`{"action": "start", ...options}` -> `{"state": "listening"}`; binary frames carry audio; `{"action":
"stop"}` (or an empty binary frame) -> the results, then `{"state": "listening"}` again for the next
request on the same connection. Errors are `{"error": ...}` followed by closing the socket.

While audio arrives, the stretch since the last speech is measured about once a second of audio; when
it reaches `inactivity_timeout`, the error "No speech detected for Ns." ends the connection, as in Watson
(a microphone left open).

Interim results (`interim_results: true`) are the pipeline run again over the audio received so far,
after at least `INTERIM_EVERY` seconds of new audio, and at least twice as much as the last run took
(so a slow engine is not kept busy decoding the same audio over and over), and only while the request
holds less than `INTERIM_UP_TO` seconds; all are `final: false`, and the results after `stop` are final.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from parlance.api.deps import owner_of
from parlance.errors import ParlanceError
from parlance.services.container import Services
from parlance.services.recognition import RecognizeParams

router = APIRouter(prefix="/v1", tags=["recognition"])

MAX_FRAME = 4 * 1024 * 1024  # Watson: larger frames close the socket with 1009
CONNECTION_PARAMS = ("model", "language_customization_id", "acoustic_customization_id", "base_model_version")
BYTES_PER_SECOND = 32000  # 16 kHz 16-bit mono: a rough clock for interim results whatever the format
INTERIM_EVERY = 1.0
INTERIM_UP_TO = 30.0


class _Closing(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.code = message, code


class _Request:
    """One start..stop request on a connection."""

    def __init__(self, options: dict[str, Any], connection: dict[str, str]) -> None:
        options = dict(options)
        self.content_type = options.pop("content-type", None) or options.pop("content_type", None)
        self.interim = options.pop("interim_results", False) is True
        self.params = {**options, **connection}
        self.checked, _ = RecognizeParams.parse(self.params)
        self.reset()

    def reset(self) -> None:
        """Ready for the next request's audio, with the same options."""
        self.audio = bytearray()
        self.interim_at = 0.0  # seconds of audio at the last interim result
        self.interim_cost = 0.0  # seconds the last interim run took
        self.inactivity_at = 0.0  # seconds of audio at the last inactivity check


@router.websocket("/recognize")
async def recognize_stream(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    try:
        owner = owner_of(svc, ws.headers, ws.query_params)
    except ParlanceError:
        await ws.close(code=1008, reason="Unauthorized")  # before accepting: the handshake fails
        return
    await ws.accept()
    connection = {k: v for k in CONNECTION_PARAMS if (v := ws.query_params.get(k))}
    request: _Request | None = None
    pending = bytearray()  # audio sent before a start message
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                chunk: bytes = message["bytes"]
                if len(chunk) > MAX_FRAME:
                    raise _Closing(f"A frame may hold at most {MAX_FRAME} bytes", 1009)
                if request is not None and not chunk:  # an empty binary frame ends the request, like stop
                    request = await _finish(ws, svc, owner, request)
                    continue
                buffer = pending if request is None else request.audio  # audio before start is kept
                buffer += chunk
                if len(buffer) > svc.settings.max_body_bytes:
                    raise _Closing(f"The audio is larger than the limit of {svc.settings.max_body_bytes} bytes", 1009)
                if request is not None:
                    await _check_inactivity(request, svc)
                    await _interim(ws, svc, owner, request)
                continue
            request, pending = await _control(ws, svc, owner, message.get("text") or "", request, connection, pending)
    except _Closing as closing:
        await ws.send_json({"error": closing.message})
        await ws.close(code=closing.code)
    except ParlanceError as exc:
        await ws.send_json({"error": exc.message})
        await ws.close(code=1011 if exc.status >= 500 else 1000)
    except WebSocketDisconnect:
        return


async def _control(
    ws: WebSocket,
    svc: Services,
    owner: str,
    text: str,
    request: _Request | None,
    connection: dict[str, str],
    pending: bytearray,
) -> tuple[_Request | None, bytearray]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        raise _Closing("A text frame must hold a JSON object", 1002) from None
    action = message.pop("action", None) if isinstance(message, dict) else None
    if action == "start":
        started = _Request(message, connection)
        svc.recognition.resolve(owner, started.checked)  # an unknown model or custom model fails now
        started.audio += pending
        await ws.send_json({"state": "listening"})
        return started, bytearray()
    if action == "stop":
        if request is None:
            raise _Closing("Send a start message before stop", 1002)
        return await _finish(ws, svc, owner, request), pending
    raise _Closing(f"Unknown action {action!r}: expected start or stop", 1002)


async def _finish(ws: WebSocket, svc: Services, owner: str, request: _Request) -> _Request:
    """Final results for the audio of the request, then listening again: the connection takes the
    next request's audio with the same options."""
    if len(request.audio) < svc.settings.min_body_bytes:
        result: dict[str, Any] = {"result_index": 0, "results": []}
    else:
        result = await svc.recognition.recognize(owner, [(bytes(request.audio), request.content_type)], request.params)
    await ws.send_json(result)
    await ws.send_json({"state": "listening"})
    request.reset()
    return request


async def _check_inactivity(request: _Request, svc: Services) -> None:
    timeout = request.checked.inactivity_timeout
    seconds = len(request.audio) / BYTES_PER_SECOND
    if timeout < 0 or seconds < timeout or seconds - request.inactivity_at < 1.0:
        return
    request.inactivity_at = seconds
    audio = bytes(request.audio)
    error = await run_in_threadpool(svc.recognition.inactivity_so_far, audio, request.content_type, request.checked)
    if error is not None:
        raise error


async def _interim(ws: WebSocket, svc: Services, owner: str, request: _Request) -> None:
    seconds = len(request.audio) / BYTES_PER_SECOND
    wait = max(INTERIM_EVERY, 2 * request.interim_cost)
    if not request.interim or seconds > INTERIM_UP_TO or seconds - request.interim_at < wait:
        return
    request.interim_at, started = seconds, time.perf_counter()
    try:
        result = await svc.recognition.recognize(
            owner, [(bytes(request.audio), request.content_type)], {**request.params, "inactivity_timeout": -1}
        )
    except ParlanceError:  # audio cut mid-frame may not decode yet; the final results will tell
        return
    finally:
        request.interim_cost = time.perf_counter() - started
    if result["results"]:
        for r in result["results"]:
            r["final"] = False
        await ws.send_json(result)
