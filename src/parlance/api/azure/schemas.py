"""Azure's wire shapes (azure-api.md §2-§4) as the `response_model`s of the Azure routes.

As in `api/schemas.py`, keys Azure leaves out stay out (`response_model_exclude_unset`), and extra keys are
allowed so that what a view adds reaches the client.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AzureModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class InnerError(AzureModel):
    code: str
    message: str


class AzureError(AzureModel):
    """Every Azure error: `{"code", "message", "innerError"?}`."""

    code: str
    message: str
    innerError: InnerError | None = None  # noqa: N815 - Azure's key


class EntityReference(AzureModel):
    self: str


class Entity(AzureModel):
    """What every Azure entity carries."""

    self: str
    links: dict[str, str] = {}
    properties: dict[str, Any] = {}
    status: str | None = None
    createdDateTime: str | None = None  # noqa: N815
    lastActionDateTime: str | None = None  # noqa: N815
    locale: str | None = None
    displayName: str | None = None  # noqa: N815
    description: str | None = None
    customProperties: dict[str, str] | None = None  # noqa: N815


class DeprecationDates(AzureModel):
    adaptationDateTime: str | None = None  # noqa: N815 - base models only
    transcriptionDateTime: str | None = None  # noqa: N815


class ModelProperties(AzureModel):
    deprecationDates: DeprecationDates  # noqa: N815
    features: dict[str, Any] = {}


class BaseModelEntity(Entity):
    properties: ModelProperties  # type: ignore[assignment]


class CustomModelEntity(Entity):
    properties: ModelProperties  # type: ignore[assignment]
    baseModel: EntityReference  # noqa: N815
    datasets: list[EntityReference] = []


class EndpointEntity(Entity):
    model: EntityReference


class DatasetEntity(Entity):
    kind: str


class TranscriptionEntity(Entity):
    model: EntityReference | None = None


class FileEntity(AzureModel):
    self: str
    name: str
    kind: str
    properties: dict[str, Any] = {}
    createdDateTime: str | None = None  # noqa: N815
    links: dict[str, str] = {}


class _Page(AzureModel):
    nextLink: str | None = Field(alias="@nextLink")  # noqa: N815


class BaseModels(_Page):
    values: list[BaseModelEntity]


class CustomModels(_Page):
    values: list[CustomModelEntity]


class Endpoints(_Page):
    values: list[EndpointEntity]


class Datasets(_Page):
    values: list[DatasetEntity]


class Transcriptions(_Page):
    values: list[TranscriptionEntity]


class Files(_Page):
    values: list[FileEntity]


class NBestEntry(AzureModel):
    Confidence: float
    Lexical: str
    ITN: str
    MaskedITN: str
    Display: str


class ShortAudioResult(AzureModel):
    """The short-audio REST result, `simple` (DisplayText) or `detailed` (NBest)."""

    RecognitionStatus: str
    Offset: int
    Duration: int
    DisplayText: str | None = None
    NBest: list[NBestEntry] | None = None
    Warnings: list[str] | None = None  # Parlance's addition: a fallback or an expiry is never silent


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": AzureError, "description": description}
    for status, description in (
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (404, "Not Found"),
        (409, "Conflict"),
        (413, "Payload Too Large"),
        (503, "Service Unavailable"),
    )
}
