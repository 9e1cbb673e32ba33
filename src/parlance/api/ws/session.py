"""One WebSocket recognition connection as a state machine over Watson's protocol.

    AWAITING_START --start--> LISTENING --stop / empty binary frame: results--> LISTENING
    (audio may come before start; it is kept)         (a new start may change the options between requests)
    any state --error, idle timeout or client gone--> CLOSED

A start message is prepared once (options checked, custom model resolved, grammar loaded); interim
results, the silence check and the final results all run that same preparation on engine workers (the
`EnginePool`), never on the event loop. Errors are `{"error": ...}` then a close frame: 1002 for frames
outside the protocol, 1008 for a start message that cannot be served or an idle connection, 1009 for too
much audio, 1013 when the service is full, 1000 after a request fails (as Watson's inactivity timeout),
1011 for a fault of the service.

Raw audio (l16, mu-law, A-law) and 16-bit PCM WAV are recognized as they arrive (`RecognitionStream`):
each frame's audio goes to an engine worker as soon as it comes (or, while the worker is still busy with
earlier audio, with whatever came meanwhile), which decodes it, finds phrase ends with the voice activity
detector and keeps the phrase in progress decoded. With `interim_results` each phrase's final result is
sent as soon as it is ready, with the next `result_index`, and interim results (`final: false`) cover only
the phrase in progress. Without them all final results come in one message after stop, as `recognize`
gives them. Frames keep being received while the worker runs (a task pumps the audio), so a slow step
never holds audio back from the next one. A session
lasts as long as audio keeps coming; "No speech detected for Ns." ends it once the audio since the last
speech reaches `inactivity_timeout`, as in Watson (a microphone left open).

Container formats (Ogg, WebM, FLAC, MP3) need their whole file to decode, so their audio is collected until
stop: the silence check and interim results (`INTERIM_EVERY`, up to `INTERIM_UP_TO` seconds) decode all of
the audio so far, about once a second of audio.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from starlette import status
from starlette.websockets import WebSocket, WebSocketDisconnect

from parlance.api.ws.limits import AudioBuffer, StreamLimits
from parlance.api.ws.protocol import CloseConnection, StartMessage, parse_text_frame
from parlance.errors import EngineBusy, ParlanceError
from parlance.services.container import Services
from parlance.services.recognition import Prepared
from parlance.services.recognition_stream import RecognitionStream

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_FRAME = 4 * 1024 * 1024  # Watson: larger frames close the socket with 1009
# Options fixed for the connection's lifetime, taken from its URL (they override the start message).
CONNECTION_PARAMS = (
    "model",
    "language_customization_id",
    "acoustic_customization_id",
    "base_model_version",
    "endpoint_id",  # Parlance: recognize through an endpoint (its model, or the fallback when it expired)
)
BYTES_PER_SECOND = 32000  # 16 kHz 16-bit mono: a rough clock for interim results whatever the format
INTERIM_EVERY = 1.0
INTERIM_UP_TO = 30.0
INACTIVITY_EVERY = 1.0


class SessionState(Enum):
    AWAITING_START = "awaiting start"
    LISTENING = "listening"
    CLOSED = "closed"


_ALLOWED = {
    SessionState.AWAITING_START: {SessionState.LISTENING, SessionState.CLOSED},
    SessionState.LISTENING: {SessionState.LISTENING, SessionState.CLOSED},
    SessionState.CLOSED: set(),
}


@dataclass
class _Request:
    """The options of the current start message, prepared, and the clocks of its streaming checks."""

    prepared: Prepared
    content_type: str | None
    interim: bool
    stream: RecognitionStream | None  # recognized as it arrives; None: collected, recognized at stop
    interim_at: float = 0.0  # seconds of audio at the last interim result
    interim_cost: float = 0.0  # seconds the last interim run took
    inactivity_at: float = 0.0  # seconds of audio at the last silence check
    interim_prepared: Prepared = field(init=False)  # the same, without the inactivity timeout

    def __post_init__(self) -> None:
        self.interim_prepared = self.prepared.without_inactivity_timeout()

    def restart(self, stream: RecognitionStream | None) -> None:
        """Ready for the next request's audio on the connection, with the same options."""
        self.interim_at = self.interim_cost = self.inactivity_at = 0.0
        self.stream = stream


def connection_params(query: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k in CONNECTION_PARAMS if (v := query.get(k))}


async def serve(ws: WebSocket, svc: Services, owner: str) -> None:
    """Accept the connection if the service has room for it, then run its session to the end."""
    limits = StreamLimits.of(ws.app.state, svc.settings)
    await ws.accept()
    try:
        limits.open()
    except CloseConnection as refused:
        await ws.send_json({"error": refused.message})
        await ws.close(code=refused.code)
        return
    try:
        await Session(ws, svc, owner, limits, connection_params(ws.query_params)).run()
    finally:
        limits.close()


class Session:
    def __init__(
        self, ws: WebSocket, svc: Services, owner: str, limits: StreamLimits, connection: dict[str, str]
    ) -> None:
        self.ws, self.svc, self.owner, self.connection = ws, svc, owner, connection
        self.state = SessionState.AWAITING_START
        self.audio = AudioBuffer(limits, svc.settings.max_body_bytes)
        self.request: _Request | None = None
        self.streamed = False  # the current request's stream has taken audio (else it may still be collected)
        self._pump: asyncio.Task[None] | None = None  # feeding the current request's stream

    def _move(self, to: SessionState) -> None:
        """Change state; an illegal transition is a defect of this module (as starlette's WebSocketState)."""
        if to not in _ALLOWED[self.state]:
            raise RuntimeError(f"WebSocket session cannot go from {self.state.value} to {to.value}")
        self.state = to

    async def run(self) -> None:
        """Serve frames until the client leaves or an error closes the connection."""
        try:
            while self.state is not SessionState.CLOSED:
                message = await self._receive()
                if message["type"] == "websocket.disconnect":
                    self._move(SessionState.CLOSED)
                elif message.get("bytes") is not None:
                    await self._on_audio(message["bytes"])
                else:
                    await self._on_text(message.get("text") or "")
        except CloseConnection as exc:
            await self._close(exc.message, exc.code)
        except ParlanceError as exc:  # the request failed: Watson reports it, then closes
            await self._close(exc.message, _close_code(exc))
        except WebSocketDisconnect:
            self.state = SessionState.CLOSED
        except Exception:
            log.exception("streaming recognition failed")
            await self._close("Internal error; the request was not completed.", status.WS_1011_INTERNAL_ERROR)
        finally:
            await self._stop_streaming()
            self.audio.clear()

    async def _receive(self) -> dict[str, Any]:
        """The next client message; meanwhile a failure of the audio being recognized (no speech for
        `inactivity_timeout`) ends the session at once, without waiting for another frame."""
        idle = self.svc.settings.ws_idle_timeout_seconds
        loop = asyncio.get_running_loop()
        deadline = loop.time() + idle
        receive = asyncio.ensure_future(self.ws.receive())
        try:
            while True:
                pump = self._pump
                waiting: set[asyncio.Future[Any]] = {receive} if pump is None else {receive, pump}
                left = max(0.0, deadline - loop.time())
                done, _ = await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                if receive in done:
                    return receive.result()
                if not done:
                    raise CloseConnection(
                        f"Session timed out: no data was received for {idle:g}s.", status.WS_1008_POLICY_VIOLATION
                    )
                if pump is not None and pump.done() and (pump.cancelled() or pump.exception() is not None):
                    await self._pumped()  # raises its error
        finally:
            if not receive.done():
                receive.cancel()

    async def _close(self, message: str, code: int) -> None:
        self._move(SessionState.CLOSED)
        try:
            await self.ws.send_json({"error": message})
            await self.ws.close(code=code)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client has gone already

    # -- client frames ------------------------------------------------------------------------------
    async def _on_text(self, text: str) -> None:
        message = parse_text_frame(text)
        if isinstance(message, StartMessage):
            await self._start(message)
        elif self.state is SessionState.AWAITING_START or self.request is None:
            raise CloseConnection("Send a start message before stop", status.WS_1002_PROTOCOL_ERROR)
        else:
            await self._finish(self.request)

    async def _on_audio(self, chunk: bytes) -> None:
        if len(chunk) > MAX_FRAME:
            raise CloseConnection(f"A frame may hold at most {MAX_FRAME} bytes", status.WS_1009_MESSAGE_TOO_BIG)
        if not chunk:  # an empty binary frame ends the request, like stop
            if self.request is not None:
                await self._finish(self.request)
            return
        self.audio.add(chunk)  # before a start message too: that audio belongs to the first request
        if self.request is not None and self.request.stream is not None:
            if self._pump is None:
                self._pump = asyncio.create_task(self._drain(self.request.stream))
        elif self.request is not None:
            await self._check_inactivity(self.request)
            await self._interim(self.request)

    async def _start(self, message: StartMessage) -> None:
        await self._pumped()
        if self.state is SessionState.LISTENING and (len(self.audio) or self.streamed):
            raise CloseConnection(
                "A start message cannot interrupt a request: send stop first", status.WS_1002_PROTOCOL_ERROR
            )
        params = {**message.options, **self.connection}
        try:  # database and grammar file reads: off the event loop
            prepared = await asyncio.to_thread(self.svc.recognition.prepare, self.owner, params)
        except ParlanceError as exc:
            code = _close_code(exc) if exc.status >= 500 else status.WS_1008_POLICY_VIOLATION
            raise CloseConnection(exc.message, code) from None
        try:
            stream = self._new_stream(prepared, message.content_type, message.interim_results)
        except ParlanceError as exc:  # a content type or its parameters refused
            raise CloseConnection(exc.message, status.WS_1008_POLICY_VIOLATION) from None
        self.request = _Request(prepared, message.content_type, message.interim_results, stream)
        self._move(SessionState.LISTENING)
        await self.ws.send_json({"state": "listening"})

    # -- recognition --------------------------------------------------------------------------------
    def _new_stream(self, prepared: Prepared, content_type: str | None, interim: bool) -> RecognitionStream | None:
        if not RecognitionStream.supports(content_type):
            return None
        return RecognitionStream(self.svc.recognition, prepared, content_type, per_phrase=interim)

    async def _finish(self, request: _Request) -> None:
        """Final results for the request's audio, then listening again for the next request."""
        await self._pumped()
        small = not self.streamed and len(self.audio) < self.svc.settings.min_body_bytes
        if request.stream is not None and not small:
            stream, audio = request.stream, self.audio.snapshot()
            messages = await self._on_engine(lambda: stream.feed(audio) + stream.finish())
            self.audio.drop(len(audio))
        else:
            with self.audio.taken() as audio:
                if len(audio) < self.svc.settings.min_body_bytes:
                    messages = [{"result_index": 0, "results": []}]
                else:
                    future = self.svc.recognition.submit(request.prepared, [(audio, request.content_type)])
                    messages = [await asyncio.wrap_future(future)]
        for message in messages:
            await self.ws.send_json(message)
        await self.ws.send_json({"state": "listening"})
        request.restart(self._new_stream(request.prepared, request.content_type, request.interim))
        self.streamed = False
        self._move(SessionState.LISTENING)

    async def _on_engine(self, work: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self.svc.recognition.pool.submit(work, wait=False))

    async def _drain(self, stream: RecognitionStream) -> None:
        """Recognize the audio received so far, then what came meanwhile, until none is left: send the final
        results of the phrases it ended and the interim results of the phrase in progress. On failure the
        task stays in `_pump`, done, for the session to raise."""
        while len(self.audio):
            audio = self.audio.snapshot()
            try:
                messages = await self._on_engine(functools.partial(stream.feed, audio))
            except EngineBusy:  # every engine worker is taken: the audio waits for the next frame
                break
            self.audio.drop(len(audio))
            self.streamed = True
            for message in messages:
                await self.ws.send_json(message)
        self._pump = None

    async def _pumped(self) -> None:
        """Wait for the audio being recognized; its failure is raised here."""
        pump = self._pump
        if pump is not None:
            try:
                await pump
            finally:
                self._pump = None

    async def _stop_streaming(self) -> None:
        """The session ends: stop feeding the stream and let go of its phrase in progress."""
        pump, self._pump = self._pump, None
        if pump is not None and not pump.done():
            pump.cancel()
        stream = self.request.stream if self.request is not None else None
        if stream is not None:
            stream.close()

    async def _check_inactivity(self, request: _Request) -> None:
        timeout = request.prepared.params.inactivity_timeout
        seconds = len(self.audio) / BYTES_PER_SECOND
        if timeout < 0 or seconds < timeout or seconds - request.inactivity_at < INACTIVITY_EVERY:
            return
        request.inactivity_at = seconds
        future = self.svc.recognition.submit_inactivity_check(
            request.prepared, self.audio.snapshot(), request.content_type
        )
        try:
            error = await asyncio.wrap_future(future)
        except EngineBusy:  # every engine worker is taken: check again after the next second of audio
            return
        if error is not None:
            raise error

    async def _interim(self, request: _Request) -> None:
        seconds = len(self.audio) / BYTES_PER_SECOND
        wait = max(INTERIM_EVERY, 2 * request.interim_cost)
        if not request.interim or seconds > INTERIM_UP_TO or seconds - request.interim_at < wait:
            return
        request.interim_at, started = seconds, time.perf_counter()
        try:
            future = self.svc.recognition.submit(
                request.interim_prepared, [(self.audio.snapshot(), request.content_type)]
            )
            result = await asyncio.wrap_future(future)
        except ParlanceError:  # busy, or audio cut mid-frame that does not decode yet: the final results tell
            return
        finally:
            request.interim_cost = time.perf_counter() - started
        if result["results"]:
            for r in result["results"]:
                r["final"] = False
            await self.ws.send_json(result)


def _close_code(exc: ParlanceError) -> int:
    if exc.status == 503:
        return status.WS_1013_TRY_AGAIN_LATER
    return status.WS_1011_INTERNAL_ERROR if exc.status >= 500 else status.WS_1000_NORMAL_CLOSURE
