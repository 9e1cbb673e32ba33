"""`parlance models status` and `parlance endpoints ...`: the lifecycle, from the operator's side.

The operator sees every instance's models and endpoints; an endpoint is created for one instance
(`--instance`). Output is JSON, as `spx csr` prints it, after a one-line progress message on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from parlance.cli_common import DataDir, open_services, settings_from
from parlance.errors import NotFound, ParlanceError
from parlance.services.endpoints import ModelRef
from parlance.services.lifecycle import iso_date

endpoints_app = typer.Typer(help="Endpoints: stable deployments of a base or custom model.", no_args_is_help=True)
InstanceOpt = Annotated[str | None, typer.Option("--instance", help="Service instance id (owner).")]
ModelOpt = Annotated[str, typer.Option("--model", help="A base-model version or a custom model id.")]


def register(app: typer.Typer, models_app: typer.Typer) -> None:
    models_app.command("status")(models_status)
    app.add_typer(endpoints_app, name="endpoints")


def _open(data_dir: Path | None) -> Any:
    return open_services(settings_from(data_dir))


def _run(data_dir: Path | None, action: Any) -> None:
    """Run `action(services)` and print its JSON; user errors become a clean CLI error."""
    svc = _open(data_dir)
    try:
        typer.echo(json.dumps(action(svc), indent=2))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()


def _ref(svc: Any, model: str) -> ModelRef:
    try:
        svc.catalog.version(model)
        return ModelRef("base", model)
    except NotFound:
        return ModelRef("custom", model)


def model_status(svc: Any, model: str) -> dict[str, Any]:
    """A base model (its newest version), a base-model version or a custom model, with its dates."""
    from parlance.store.orm import CustomModel

    if model in svc.catalog.base_models():
        model = svc.catalog.newest(model).version
    try:
        version = svc.catalog.version(model)
    except NotFound:
        with svc.db.session() as s:
            row = s.get(CustomModel, model)
            if row is None:
                raise NotFound(f"No base model, base-model version or custom model named {model}") from None
            dates = svc.lifecycle.custom_dates(row.created)
            return {
                "model": row.id,
                "kind": "custom",
                "name": row.name,
                "status": row.status,
                "baseModel": row.base_model_name,
                "createdDateTime": iso_date(row.created),
                "deprecationDates": {"transcriptionDateTime": iso_date(dates.transcription)},
            }
    dates = svc.lifecycle.base_dates(version)
    return {
        "model": version.version,
        "kind": "base",
        "baseModel": version.base_model,
        "createdDateTime": iso_date(version.created),
        "deprecationDates": {
            "adaptationDateTime": iso_date(dates.adaptation),
            "transcriptionDateTime": iso_date(dates.transcription),
        },
    }


def models_status(
    model: Annotated[str, typer.Argument(help="Base model name, base-model version or custom model id.")],
    data_dir: DataDir = None,
) -> None:
    """Creation, adaptation and transcription dates of a model (`spx csr model status`)."""
    typer.echo(f"Getting status for model {model}... Done!", err=True)
    _run(data_dir, lambda svc: model_status(svc, model))


def _endpoint_view(svc: Any, row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance": row.owner,
        "displayName": row.display_name,
        "locale": row.locale,
        "model": {"kind": row.model_kind, "id": row.model_id},
        "createdDateTime": iso_date(row.created),
        "lastActionDateTime": iso_date(row.updated),
        "serving": svc.endpoints.recognition_model(row.owner, row.id).__dict__,
    }


def _owner_of(svc: Any, endpoint_id: str) -> str:
    from parlance.store.orm import Endpoint

    with svc.db.session() as s:
        row = s.get(Endpoint, endpoint_id)
        if row is None:
            raise NotFound(f"Endpoint {endpoint_id} does not exist")
        return str(row.owner)


@endpoints_app.command("create")
def endpoints_create(
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    model: ModelOpt,
    instance: InstanceOpt = None,
    locale: Annotated[str, typer.Option(help="Locale; must match the model's.")] = "en-US",
    data_dir: DataDir = None,
) -> None:
    """Create an endpoint for an instance (the custom model's owner by default)."""

    def create(svc: Any) -> dict[str, Any]:
        ref = _ref(svc, model)
        owner = instance or _custom_owner(svc, ref)
        return _endpoint_view(svc, svc.endpoints.create(owner, display_name=name, locale=locale, model=ref))

    _run(data_dir, create)


def _custom_owner(svc: Any, ref: ModelRef) -> str:
    from parlance.store.orm import CustomModel

    if ref.kind == "base":
        raise typer.BadParameter("--instance is required for an endpoint of a base model")
    with svc.db.session() as s:
        row = s.get(CustomModel, ref.id)
        if row is None:
            raise NotFound(f"No base-model version or custom model named {ref.id}")
        return str(row.owner)


@endpoints_app.command("list")
def endpoints_list(
    instance: InstanceOpt = None,
    data_dir: DataDir = None,
) -> None:
    """List endpoints (of every instance, or of one), with the model each serves right now."""
    from parlance.store.orm import Endpoint

    def listing(svc: Any) -> list[dict[str, Any]]:
        with svc.db.session() as s:
            query = select(Endpoint).order_by(Endpoint.created)
            rows = list(s.scalars(query.where(Endpoint.owner == instance) if instance else query))
            for row in rows:
                s.expunge(row)
        return [_endpoint_view(svc, row) for row in rows]

    _run(data_dir, listing)


@endpoints_app.command("update")
def endpoints_update(
    endpoint_id: str,
    model: Annotated[str | None, typer.Option("--model", help="Switch to this model.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Switch an endpoint's model (requests in flight finish on the old one) or rename it."""

    def update(svc: Any) -> dict[str, Any]:
        owner = _owner_of(svc, endpoint_id)
        ref = _ref(svc, model) if model else None
        return _endpoint_view(svc, svc.endpoints.update(owner, endpoint_id, model=ref, display_name=name))

    _run(data_dir, update)


@endpoints_app.command("delete")
def endpoints_delete(
    endpoint_id: str,
    data_dir: DataDir = None,
) -> None:
    """Delete an endpoint."""

    def delete(svc: Any) -> dict[str, str]:
        svc.endpoints.delete(_owner_of(svc, endpoint_id), endpoint_id)
        return {"deleted": endpoint_id}

    _run(data_dir, delete)
