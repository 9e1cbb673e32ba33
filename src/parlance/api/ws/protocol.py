"""The messages of Watson's WebSocket protocol, and how a bad one ends the connection.

Client text frames hold `{"action": "start", "content-type": ..., ...recognition options}` or
`{"action": "stop"}`; the service answers `{"state": "listening"}`, results, or `{"error": ...}`
followed by a close frame. Every text frame is parsed with a nesting limit and type-checked here, so a
malformed one gets an error message and a close code instead of an exception that drops the socket.
"""

from __future__ import annotations

import reprlib
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette import status

from parlance.errors import BadRequest
from parlance.jsonsafe import loads_limited

MAX_JSON_DEPTH = 64  # start messages are flat; this leaves room for any option value


class CloseConnection(Exception):
    """Send `{"error": message}` to the client, then close the socket with `code`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.code = message, code

    def __repr__(self) -> str:
        return f"CloseConnection({self.message!r}, {self.code})"


class StartMessage(BaseModel):
    """Starts a request. Recognition options ride along as extra keys, checked by the recognition service."""

    model_config = ConfigDict(extra="allow")

    action: Literal["start"]
    # The docs, Node and Swift SDKs send `content-type`; the Python SDK sends `content_type`.
    content_type: str | None = Field(None, validation_alias=AliasChoices("content-type", "content_type"))
    interim_results: bool = False

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StopMessage(BaseModel):
    """Ends the audio of a request; the results follow."""

    action: Literal["stop"]


ClientMessage = Annotated[StartMessage | StopMessage, Field(discriminator="action")]
_CLIENT_MESSAGE: TypeAdapter[StartMessage | StopMessage] = TypeAdapter(ClientMessage)
_UNKNOWN_ACTION = {"union_tag_invalid", "union_tag_not_found"}


def parse_text_frame(text: str) -> StartMessage | StopMessage:
    """A client text frame as a message; `CloseConnection` with 1002 when it is not a message of the
    protocol (not JSON, too deeply nested, not an object, unknown action) and 1008 when a field of a
    known message has the wrong type."""
    try:
        data = loads_limited(text, MAX_JSON_DEPTH)
    except BadRequest as exc:
        message = f"A text frame must hold a JSON object: {exc.message}"
        raise CloseConnection(message, status.WS_1002_PROTOCOL_ERROR) from None
    if not isinstance(data, dict):
        raise CloseConnection("A text frame must hold a JSON object", status.WS_1002_PROTOCOL_ERROR)
    try:
        return _CLIENT_MESSAGE.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] in _UNKNOWN_ACTION:
            action = reprlib.repr(data.get("action"))
            raise CloseConnection(
                f"Unknown action {action}: expected start or stop", status.WS_1002_PROTOCOL_ERROR
            ) from None
        where = ".".join(str(p) for p in err["loc"][1:])  # the first item is the action's tag
        raise CloseConnection(
            f"Invalid value for '{where}' in the {data['action']} message: {err['msg']}",
            status.WS_1008_POLICY_VIOLATION,
        ) from None
