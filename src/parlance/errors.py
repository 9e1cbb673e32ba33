"""One error family for the whole service; `api/errors.py` renders it as a Watson error body."""

from __future__ import annotations


class ParlanceError(Exception):
    status = 500
    description = "Internal Server Error"
    detail_code: str | None = None  # Azure's `innerError.code` (DetailedErrorCode), where one fits

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(ParlanceError):
    status, description = 400, "Bad Request"


class InvalidAudio(BadRequest):
    """Audio that is empty, truncated or cannot be decoded."""


class ModelExpired(BadRequest):
    """A model used past its adaptation or transcription date (lifecycle)."""

    detail_code = "ModelDeprecated"


class Unauthorized(ParlanceError):
    status, description = 401, "Unauthorized"


class NotFound(ParlanceError):
    status, description = 404, "Not Found"


class Conflict(ParlanceError):
    status, description = 409, "Conflict"


class ModelExists(Conflict):
    detail_code = "ModelExists"


class TooManyRequests(ParlanceError):
    status, description = 429, "Too Many Requests"


class PayloadTooLarge(ParlanceError):
    status, description = 413, "Payload Too Large"


class UnsupportedMediaType(ParlanceError):
    status, description = 415, "Unsupported Media Type"


class EngineBusy(ParlanceError):
    status, description = 503, "Service Unavailable"


class EngineUnavailable(ParlanceError):
    status, description = 503, "Service Unavailable"


class EngineFailure(ParlanceError):
    """An engine raised on input we accepted: a defect on our side, reported as 500."""
