"""`parlance acoustic list|show|train|upgrade`: the operator's view of custom acoustic models."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from parlance.cli_common import DataDir, open_services, settings_from
from parlance.errors import ParlanceError

acoustic_app = typer.Typer(help="Custom acoustic models (operator view of every instance).", no_args_is_help=True)
Wait = Annotated[bool, typer.Option("--wait", help="Run the job here and show its progress until it ends.")]


def register(app: typer.Typer) -> None:
    app.add_typer(acoustic_app, name="acoustic")


def _owner(svc: Any, cid: str) -> str:
    from parlance.store.orm import CustomModel

    with svc.db.session() as s:
        row = s.get(CustomModel, cid)
        if row is None or row.kind != "acoustic":
            raise typer.BadParameter(f"No custom acoustic model {cid}")
        return str(row.owner)


def _follow(svc: Any, owner: str, cid: str, busy: str) -> dict[str, Any]:
    """Run jobs here and print progress while the model is `busy` (a server may take the job first)."""
    svc.start()
    shown = None
    while (model := svc.acoustic.get(owner, cid))["status"] == busy:
        if model["progress"] != shown:
            shown = model["progress"]
            typer.echo(f"{busy}: {shown}%", err=True)
        time.sleep(0.2)
    return dict(model)


def _run(data_dir: Path | None, action: Any) -> None:
    svc = open_services(settings_from(data_dir))
    try:
        typer.echo(json.dumps(action(svc), indent=2))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()


@acoustic_app.command("list")
def acoustic_list(data_dir: DataDir = None) -> None:
    """Every instance's custom acoustic models."""
    from sqlalchemy import select

    from parlance.store.orm import CustomModel

    def listing(svc: Any) -> list[dict[str, Any]]:
        with svc.db.session() as s:
            rows = s.scalars(select(CustomModel).where(CustomModel.kind == "acoustic").order_by(CustomModel.created))
            return [svc.acoustic.describe(r) for r in rows]

    _run(data_dir, listing)


@acoustic_app.command("show")
def acoustic_show(customization_id: str, data_dir: DataDir = None) -> None:
    """A custom acoustic model, its audio and what its training did."""

    def show(svc: Any) -> dict[str, Any]:
        owner = _owner(svc, customization_id)
        model = svc.acoustic.get(owner, customization_id)
        model["audio"] = svc.acoustic_audio.list(owner, customization_id)
        model["trained"] = {v: svc.acoustic.artifact_meta(customization_id, v) for v in model["versions"]}
        return dict(model)

    _run(data_dir, show)


@acoustic_app.command("train")
def acoustic_train(
    customization_id: str,
    custom_language_model_id: Annotated[str | None, typer.Option(help="Custom language model for decoding.")] = None,
    strict: bool = True,
    wait: Wait = False,
    data_dir: DataDir = None,
) -> None:
    """Train a custom acoustic model."""

    def train(svc: Any) -> dict[str, Any]:
        owner = _owner(svc, customization_id)
        out = svc.acoustic.train(owner, customization_id, custom_language_model_id, strict)
        model = _follow(svc, owner, customization_id, "training") if wait else svc.acoustic.get(owner, customization_id)
        return {**model, **out}

    _run(data_dir, train)


@acoustic_app.command("upgrade")
def acoustic_upgrade(
    customization_id: str,
    custom_language_model_id: Annotated[str | None, typer.Option(help="The upgraded custom language model.")] = None,
    force: bool = False,
    wait: Wait = False,
    data_dir: DataDir = None,
) -> None:
    """Upgrade a custom acoustic model to the newest version of its base model (seed 000)."""

    def upgrade(svc: Any) -> dict[str, Any]:
        owner = _owner(svc, customization_id)
        svc.acoustic.upgrade(owner, customization_id, custom_language_model_id, force)
        if wait:
            return _follow(svc, owner, customization_id, "upgrading")
        return dict(svc.acoustic.get(owner, customization_id))

    _run(data_dir, upgrade)
