"""Request bodies of the Azure routes (pydantic; Azure's camelCase keys, unknown keys ignored as Azure does)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EntityReference(_Body):
    self: str = Field(max_length=4096)


class ModelProperties(_Body):
    customModelWeightPercent: int | None = Field(None, ge=1, le=100)


class ModelCreate(_Body):
    displayName: str = Field(min_length=1, max_length=256)
    locale: str = Field(min_length=2, max_length=16)
    description: str = Field("", max_length=1024)
    baseModel: EntityReference | None = None
    datasets: list[EntityReference] = Field(default_factory=list, max_length=100)
    properties: ModelProperties = Field(default_factory=ModelProperties)
    customProperties: dict[str, str] = Field(default_factory=dict, max_length=10)


class EndpointCreate(_Body):
    displayName: str = Field(min_length=1, max_length=256)
    locale: str = Field(min_length=2, max_length=16)
    model: EntityReference
    description: str = Field("", max_length=1024)
    customProperties: dict[str, str] = Field(default_factory=dict, max_length=10)


class EndpointUpdate(_Body):
    model: EntityReference | None = None
    displayName: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=1024)
    customProperties: dict[str, str] | None = Field(None, max_length=10)


class DatasetCreate(_Body):
    kind: str = Field(max_length=32)
    displayName: str = Field(min_length=1, max_length=256)
    locale: str = Field(min_length=2, max_length=16)
    contentUrl: str = Field(max_length=4096)
    description: str = Field("", max_length=1024)
    customProperties: dict[str, str] = Field(default_factory=dict, max_length=10)
