"""Limits shared by every WebSocket connection of one application: how many may be open, and how much
audio they may hold together (each may hold up to `max_body_bytes` until its stop message).

All counting happens on the event loop's thread between awaits, so no lock is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette import status
from starlette.datastructures import State

from parlance.api.ws.protocol import CloseConnection
from parlance.settings import Settings

BUSY = "The service is busy: too many streaming recognition connections are open. Retry later."
FULL = "The service is busy: streaming connections hold too much audio. Retry later."


class StreamLimits:
    def __init__(self, settings: Settings) -> None:
        self.max_connections = settings.ws_max_connections
        self.max_buffered = settings.ws_max_buffered_bytes
        self.connections = 0
        self.buffered = 0

    @classmethod
    def of(cls, state: State, settings: Settings) -> StreamLimits:
        """The application's limits (one per app, made on its first WebSocket connection)."""
        limits: StreamLimits | None = getattr(state, "stream_limits", None)
        if limits is None:
            limits = state.stream_limits = cls(settings)
        return limits

    def open(self) -> None:
        """Count a new connection, or refuse it (1013: try again later) when the limit is reached."""
        if self.connections >= self.max_connections:
            raise CloseConnection(BUSY, status.WS_1013_TRY_AGAIN_LATER)
        self.connections += 1

    def close(self) -> None:
        self.connections -= 1

    def reserve(self, size: int) -> None:
        if self.buffered + size > self.max_buffered:
            raise CloseConnection(FULL, status.WS_1013_TRY_AGAIN_LATER)
        self.buffered += size

    def release(self, size: int) -> None:
        self.buffered -= size


class AudioBuffer:
    """One connection's audio awaiting recognition, counted against its own and the shared limit."""

    def __init__(self, limits: StreamLimits, max_bytes: int) -> None:
        self._limits = limits
        self._max_bytes = max_bytes
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    def add(self, chunk: bytes) -> None:
        if len(self._data) + len(chunk) > self._max_bytes:
            raise CloseConnection(
                f"The audio is larger than the limit of {self._max_bytes} bytes", status.WS_1009_MESSAGE_TOO_BIG
            )
        self._limits.reserve(len(chunk))
        self._data += chunk

    def snapshot(self) -> bytes:
        return bytes(self._data)

    def drop(self, size: int) -> None:
        """Forget the first `size` bytes (recognized already)."""
        del self._data[:size]
        self._limits.release(size)

    @contextmanager
    def taken(self) -> Iterator[bytes]:
        """The audio, leaving the buffer empty; it stays counted against the shared limit until the
        block ends (while it is being recognized)."""
        data, self._data = bytes(self._data), bytearray()
        try:
            yield data
        finally:
            self._limits.release(len(data))

    def clear(self) -> None:
        self._limits.release(len(self._data))
        self._data = bytearray()
