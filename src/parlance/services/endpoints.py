"""Endpoints: named, stable deployments of a base-model version or a custom model.

Every request through an endpoint reads the endpoint's model when it starts, so switching the model (PATCH)
takes effect for the next request while requests in flight finish on the model they started with: no
downtime, nothing to drain. When the model has expired (its transcription date passed) or was deleted, the
endpoint keeps serving on the newest version of the same base model (same locale, same engine family as the
model the user chose) and every result says so in a warning: Azure falls back the same way, but silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from parlance.errors import BadRequest, ModelExpired, NotFound
from parlance.services.catalog import Catalog
from parlance.services.lifecycle import Lifecycle, iso_date
from parlance.services.owned import get_owned, list_owned
from parlance.store.db import Database
from parlance.store.orm import CustomModel, Endpoint

MAX_NAME = 256
MODEL_PARAMS = frozenset({"model", "language_customization_id", "customization_id", "base_model_version"})


@dataclass(frozen=True)
class ModelRef:
    """A model as Azure's API names it: a base-model version or a custom model."""

    kind: Literal["base", "custom"]
    id: str


@dataclass(frozen=True)
class EndpointModel:
    """What a request through an endpoint recognizes with: Watson recognition parameters and warnings."""

    params: dict[str, str]
    warnings: list[str]


class Endpoints:
    def __init__(self, db: Database, catalog: Catalog, lifecycle: Lifecycle) -> None:
        self.db = db
        self.catalog = catalog
        self.lifecycle = lifecycle

    # -- the models endpoints point at ---------------------------------------------------------
    def locale_of(self, owner: str, ref: ModelRef) -> str:
        """The model's locale; 400 when it does not exist (or is another instance's)."""
        if ref.kind == "base":
            try:
                return self.catalog.version(ref.id).language
            except NotFound:
                raise BadRequest(f"The base model {ref.id} does not exist") from None
        with self.db.session() as s:
            row = s.get(CustomModel, ref.id)
            if row is None or row.owner != owner:
                raise BadRequest(f"The custom model {ref.id} does not exist")
            return row.language

    def check_usable(self, owner: str, ref: ModelRef) -> None:
        """400 for a model past its transcription date: a new deployment of it would only fall back."""
        date = self._transcription_date(owner, ref)
        if self.lifecycle.passed(date):
            raise ModelExpired(f"The model {ref.id} expired on {iso_date(date)} and cannot be deployed")

    def _transcription_date(self, owner: str, ref: ModelRef) -> Any:
        if ref.kind == "base":
            return self.lifecycle.base_dates(self.catalog.version(ref.id)).transcription
        with self.db.session() as s:
            row = s.get(CustomModel, ref.id)
            return None if row is None else self.lifecycle.custom_dates(row.created).transcription

    # -- create / read / update / delete ---------------------------------------------------------
    def create(
        self,
        owner: str,
        *,
        display_name: str,
        locale: str,
        model: ModelRef,
        description: str = "",
        custom_properties: dict[str, Any] | None = None,
    ) -> Endpoint:
        _check_name(display_name)
        actual = self.locale_of(owner, model)
        if actual.lower() != locale.lower():
            raise BadRequest(f"The endpoint's locale {locale} does not match the model's locale {actual}")
        self.check_usable(owner, model)
        with self.db.session() as s:
            row = Endpoint(
                owner=owner,
                display_name=display_name,
                description=description,
                locale=actual,
                model_kind=model.kind,
                model_id=model.id,
                custom_properties=custom_properties or {},
            )
            s.add(row)
            s.flush()
            s.expunge(row)
            return row

    def get(self, owner: str, endpoint_id: str) -> Endpoint:
        with self.db.session() as s:
            row = get_owned(s, Endpoint, owner, endpoint_id, "Endpoint")
            s.expunge(row)
            return row

    def list(self, owner: str, skip: int = 0, top: int = 100) -> tuple[list[Endpoint], int]:
        with self.db.session() as s:
            return list_owned(s, Endpoint, owner, skip, top)

    def update(
        self,
        owner: str,
        endpoint_id: str,
        *,
        model: ModelRef | None = None,
        display_name: str | None = None,
        description: str | None = None,
        custom_properties: dict[str, Any] | None = None,
    ) -> Endpoint:
        """Change what was given; a new model must have the endpoint's locale (as in Azure)."""
        if display_name is not None:
            _check_name(display_name)
        current = self.get(owner, endpoint_id)
        if model is not None:
            locale = self.locale_of(owner, model)
            if locale.lower() != current.locale.lower():
                raise BadRequest(f"The model's locale {locale} does not match the endpoint's locale {current.locale}")
            self.check_usable(owner, model)
        with self.db.session() as s:
            row = get_owned(s, Endpoint, owner, endpoint_id, "Endpoint")
            if model is not None:
                row.model_kind, row.model_id = model.kind, model.id
            if display_name is not None:
                row.display_name = display_name
            if description is not None:
                row.description = description
            if custom_properties is not None:
                row.custom_properties = custom_properties
            row.updated = self.lifecycle.now()
            s.flush()
            s.expunge(row)
            return row

    def delete(self, owner: str, endpoint_id: str) -> None:
        with self.db.session() as s:
            s.delete(get_owned(s, Endpoint, owner, endpoint_id, "Endpoint"))

    # -- recognition through an endpoint ---------------------------------------------------------
    def expand(self, owner: str, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Watson recognition parameters with `endpoint_id` replaced by the endpoint's model, and the
        endpoint's warnings. The model parameters cannot be given beside an endpoint."""
        params = dict(raw)
        endpoint_id = params.pop("endpoint_id", None)
        if endpoint_id is None:
            return params, []
        if not isinstance(endpoint_id, str):
            raise BadRequest("endpoint_id must be a string")
        clash = sorted(MODEL_PARAMS & params.keys())
        if clash:
            raise BadRequest(f"endpoint_id cannot be combined with {', '.join(clash)}: the endpoint chooses the model")
        chosen = self.recognition_model(owner, endpoint_id)
        return {**params, **chosen.params}, chosen.warnings

    def recognition_model(self, owner: str, endpoint_id: str) -> EndpointModel:
        """The endpoint's model as Watson parameters, or the fallback when it expired or was deleted."""
        endpoint = self.get(owner, endpoint_id)
        if endpoint.model_kind == "custom":
            return self._custom(endpoint)
        return self._base(endpoint)

    def _custom(self, endpoint: Endpoint) -> EndpointModel:
        with self.db.session() as s:
            row = s.get(CustomModel, endpoint.model_id)
            if row is not None:
                s.expunge(row)
        if row is None:
            return self._fallback(endpoint, None, f"custom model {endpoint.model_id} was deleted")
        date = self.lifecycle.custom_dates(row.created).transcription
        if self.lifecycle.passed(date):
            return self._fallback(endpoint, row.base_model_name, f"custom model {row.id} expired on {iso_date(date)}")
        warning = self.lifecycle.expiry_warning(f"Custom model {row.id} (endpoint {endpoint.id})", date)
        return EndpointModel(
            {"model": row.base_model_name, "language_customization_id": row.id}, [warning] if warning else []
        )

    def _base(self, endpoint: Endpoint) -> EndpointModel:
        try:
            version = self.catalog.version(endpoint.model_id)
        except NotFound:
            return self._fallback(endpoint, None, f"base model {endpoint.model_id} is no longer installed")
        date = self.lifecycle.base_dates(version).transcription
        if self.lifecycle.passed(date):
            return self._fallback(
                endpoint, version.base_model, f"base model {version.version} expired on {iso_date(date)}"
            )
        warning = self.lifecycle.expiry_warning(f"Base model {version.version} (endpoint {endpoint.id})", date)
        return EndpointModel(
            {"model": version.base_model, "base_model_version": version.version}, [warning] if warning else []
        )

    def _fallback(self, endpoint: Endpoint, base_model: str | None, why: str) -> EndpointModel:
        """The newest base-model version of the locale, preferring the family of the endpoint's model."""
        candidates = [base_model] if base_model and base_model in self.catalog.base_models() else []
        candidates += [b for b in self.catalog.base_models() if self.catalog.newest(b).language == endpoint.locale]
        if not candidates:
            raise ModelExpired(f"Endpoint {endpoint.id}: {why}, and no base model of {endpoint.locale} is installed")
        newest = self.catalog.newest(candidates[0])
        warning = (
            f"Endpoint {endpoint.id}: {why}; this request was recognized with the base model {newest.base_model} "
            f"({newest.version}) instead. Switch the endpoint to a model that has not expired."
        )
        return EndpointModel({"model": newest.base_model}, [warning])


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise BadRequest(f"displayName is required: a non-empty string of at most {MAX_NAME} characters")
