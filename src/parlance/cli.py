"""The `parlance` command: serve, recognize, models, keys, db."""

from __future__ import annotations

import asyncio
import json
import mimetypes
from pathlib import Path
from typing import Annotated

import typer

from parlance.cli_common import DataDir, open_services, settings_from
from parlance.errors import ParlanceError

app = typer.Typer(help="Parlance: self-hosted speech to text with custom models.", no_args_is_help=True)
models_app = typer.Typer(help="Base models and their versions.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of service instances.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
custom_app = typer.Typer(help="Custom language models (operator view of every instance).", no_args_is_help=True)
app.add_typer(custom_app, name="customizations")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Development mode: no API keys.")] = False,
    ssl_certfile: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="TLS certificate.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="TLS key.")] = None,
) -> None:
    """Run the HTTP server (SQLite, local files and in-process jobs by default); HTTPS and WSS with a
    certificate and key."""
    import uvicorn

    from parlance.api.app import create_app
    from parlance.services.container import Services

    settings = settings_from(data_dir, host=host, port=port, auth=False if no_auth else None)
    services = Services.build(settings)
    if settings.auth and not services.auth.has_keys():
        key = services.auth.create_key(instance_name="default")
        typer.echo(f"First start: created service instance {key.instance_id} with API key {key.apikey}", err=True)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("--ssl-certfile and --ssl-keyfile go together")
    uvicorn.run(
        create_app(settings, services),
        host=settings.host,
        port=settings.port,
        log_level="info",
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )


@app.command()
def recognize(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Audio file.")],
    model: Annotated[str, typer.Option(help="Base model name.")] = "en-US_BroadbandModel",
    content_type: Annotated[str | None, typer.Option(help="Content type; sniffed by default.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Recognize one file locally (no server) and print Watson JSON results."""
    svc = open_services(settings_from(data_dir))
    ctype = content_type or mimetypes.guess_type(str(file))[0]
    try:
        owner = svc.auth.ensure_dev_instance()
        result = asyncio.run(svc.recognition.recognize(owner, [(file.read_bytes(), ctype)], {"model": model}))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()
    typer.echo(json.dumps(result, indent=2))


@models_app.command("list")
def models_list(data_dir: DataDir = None) -> None:
    """List base models with their newest version."""
    from parlance.services.catalog import Catalog

    catalog = Catalog(settings_from(data_dir))
    for name in catalog.base_models():
        v = catalog.newest(name)
        typer.echo(f"{name}\t{v.language}\t{v.engine}\t{v.version}")


@models_app.command("versions")
def models_versions(
    model: Annotated[str | None, typer.Argument(help="Only this base model.")] = None, data_dir: DataDir = None
) -> None:
    """List every installed version of each base model (newest last; the newest is the default)."""
    from parlance.services.catalog import Catalog

    catalog = Catalog(settings_from(data_dir))
    for name in [model] if model else catalog.base_models():
        for v in catalog.versions(name):
            typer.echo(f"{name}\t{v.version}\t{v.engine}\t{v.created.date().isoformat()}\t{v.path}")


@models_app.command("install")
def models_install(
    path: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Directory with manifest.json.")],
    data_dir: DataDir = None,
) -> None:
    """Install a new base-model version from a directory with a manifest (see docs/models.md)."""
    from parlance.services.catalog import Catalog

    try:
        version = Catalog(settings_from(data_dir)).install(path)
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    typer.echo(f"installed {version.version} ({version.engine}); it is now the default for {version.base_model}")


@keys_app.command("create")
def keys_create(
    instance: Annotated[str | None, typer.Option(help="Add the key to this existing instance id.")] = None,
    name: Annotated[str, typer.Option(help="Name for a new service instance.")] = "default",
    data_dir: DataDir = None,
) -> None:
    """Create an API key (for a new service instance unless --instance is given)."""
    from parlance.services.auth import AuthService
    from parlance.store.db import Database

    settings = settings_from(data_dir)
    db = Database(settings)
    db.migrate()
    key = AuthService(settings, db).create_key(instance_name=name, instance_id=instance)
    typer.echo(json.dumps({"instance_id": key.instance_id, "apikey": key.apikey}))


@custom_app.command("upgrade")
def customizations_upgrade(
    customization_id: str,
    wait: Annotated[bool, typer.Option("--wait", help="Run the upgrade here and wait until it ends.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Upgrade a custom language model to the newest version of its base model."""
    import time

    from parlance.store.orm import CustomModel

    svc = open_services(settings_from(data_dir))
    try:
        with svc.db.session() as s:
            row = s.get(CustomModel, customization_id)
            if row is None:
                raise typer.BadParameter(f"No custom model {customization_id}")
            owner = row.owner
        svc.customizations.upgrade(owner, customization_id)
        if wait:
            svc.start()  # a running server may pick the job up first; claiming is atomic either way
            while svc.customizations.get(owner, customization_id)["status"] == "upgrading":
                time.sleep(0.2)
        typer.echo(json.dumps(svc.customizations.get(owner, customization_id), indent=2))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()


@app.command()
def worker(
    data_dir: DataDir = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once (env PARLANCE_JOB_WORKERS).")] = None,
) -> None:
    """Run background jobs from the Celery broker (PARLANCE_JOB_BROKER_URL) until stopped."""
    from parlance.jobs.celery_queue import CeleryJobs

    settings = settings_from(data_dir, job_workers=concurrency)
    if not settings.job_broker_url:
        raise typer.BadParameter(
            "set PARLANCE_JOB_BROKER_URL (redis://... or amqp://...); without it `parlance serve` runs the jobs itself"
        )
    svc = open_services(settings)
    assert isinstance(svc.jobs, CeleryJobs)
    try:
        svc.jobs.run_worker(settings.job_workers)
    finally:
        svc.close()


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply database migrations."""
    from parlance.store.db import Database

    Database(settings_from(data_dir)).migrate()
    typer.echo("database is up to date")


# -- batch transcriptions ------------------------------------------------------------------------
transcriptions_app = typer.Typer(
    help="Batch transcriptions (Azure's /transcriptions; operator view of every instance).", no_args_is_help=True
)
app.add_typer(transcriptions_app, name="transcriptions")
ContentRoot = Annotated[
    Path | None, typer.Option(help="Folder file:// inputs may name (env PARLANCE_CONTENT_ROOT).", file_okay=False)
]
Wait = Annotated[bool, typer.Option("--wait", help="Run the job here and wait until it ends, showing progress.")]
POLL_SECONDS = 0.5  # as `spx ... --wait`


def _model_ref(svc, model: str):  # type: ignore[no-untyped-def]
    """A base model (its newest version), a base-model version, or a custom model id."""
    from parlance.errors import NotFound
    from parlance.services.endpoints import ModelRef

    if model in svc.catalog.base_models():
        return ModelRef("base", svc.catalog.newest(model).version)
    try:
        return ModelRef("base", svc.catalog.version(model).version)
    except NotFound:
        return ModelRef("custom", model)


def _transcription_json(svc, row) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out: dict[str, object] = {
        "id": row.id,
        "displayName": row.display_name,
        "status": row.status,
        "locale": row.locale,
        "model": {"kind": row.model_kind, "id": row.model_id},
        "createdDateTime": _utc(row.created),
        "lastActionDateTime": _utc(row.updated),
        "properties": row.properties,
        "files": [f.name for f in svc.transcriptions.files(row.owner, row.id)],
    }
    if row.error:
        out["error"] = row.error
    return out


def _utc(when) -> str:  # type: ignore[no-untyped-def]
    from datetime import UTC

    from parlance.services.lifecycle import iso_date

    return iso_date(when if when.tzinfo else when.replace(tzinfo=UTC)) or ""


def _await_transcription(svc, owner: str, transcription_id: str) -> None:  # type: ignore[no-untyped-def]
    """`spx`-style progress: the status when it changes, a dot per poll, then Done! or Failed!"""
    import time

    svc.start()  # a running server may claim the job first; claiming is atomic either way
    typer.echo(f"Awaiting transcription {transcription_id} success or failure ", nl=False, err=True)
    last = None
    while True:
        status = svc.transcriptions.get(owner, transcription_id).status
        if status != last:
            typer.echo(f"{status} ", nl=False, err=True)
            last = status
        if status in ("Succeeded", "Failed"):
            typer.echo("Done!" if status == "Succeeded" else "Failed!", err=True)
            return
        typer.echo(".", nl=False, err=True)
        time.sleep(POLL_SECONDS)


@transcriptions_app.command("create")
def transcriptions_create(
    urls: Annotated[list[str], typer.Argument(help="http(s) URLs, file:// URLs or paths under the content root.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    locale: Annotated[str, typer.Option("--locale", help="Locale, e.g. en-US.")],
    model: Annotated[
        str | None, typer.Option(help="Base model, base-model version or custom model id; default: the newest.")
    ] = None,
    instance: Annotated[str | None, typer.Option(help="Owning instance id; default: the development one.")] = None,
    wait: Wait = False,
    content_root: ContentRoot = None,
    data_dir: DataDir = None,
) -> None:
    """Create a batch transcription; a running server (or --wait) runs it."""
    from parlance.services.transcriptions import TranscriptionSpec

    svc = open_services(settings_from(data_dir, content_root=content_root))
    try:
        owner = instance or svc.auth.ensure_dev_instance()
        inputs = [u if "://" in u else Path(u).resolve().as_uri() for u in urls]  # paths as file:// URLs
        spec = TranscriptionSpec(
            display_name=name,
            locale=locale,
            model=_model_ref(svc, model) if model else None,
            content_urls=inputs,
        )
        row = svc.transcriptions.create(owner, spec)
        if wait:
            _await_transcription(svc, owner, row.id)
            row = svc.transcriptions.get(owner, row.id)
        typer.echo(json.dumps(_transcription_json(svc, row), indent=2))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()


@transcriptions_app.command("list")
def transcriptions_list(data_dir: DataDir = None) -> None:
    """List every instance's transcriptions: id, status, created, name."""
    from sqlalchemy import select

    from parlance.store.orm import Transcription

    svc = open_services(settings_from(data_dir))
    try:
        svc.transcriptions.sweep()
        with svc.db.session() as s:
            for row in s.scalars(select(Transcription).order_by(Transcription.created, Transcription.id)):
                typer.echo(f"{row.id}\t{row.status}\t{_utc(row.created)}\t{row.display_name}")
    finally:
        svc.close()


@transcriptions_app.command("show")
def transcriptions_show(
    transcription_id: str, wait: Wait = False, content_root: ContentRoot = None, data_dir: DataDir = None
) -> None:
    """Show a transcription (with --wait: run it here if needed and wait until it ends)."""
    svc = open_services(settings_from(data_dir, content_root=content_root))
    try:
        owner = svc.transcriptions.owner_of(transcription_id)
        if wait:
            _await_transcription(svc, owner, transcription_id)
        typer.echo(json.dumps(_transcription_json(svc, svc.transcriptions.get(owner, transcription_id)), indent=2))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()


@transcriptions_app.command("download")
def transcriptions_download(
    transcription_id: str,
    out: Annotated[Path | None, typer.Option(help="Folder to write the files to; default ./{id}.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy a transcription's result files (contenturl_N.json, report.json) to a folder."""
    import shutil

    svc = open_services(settings_from(data_dir))
    try:
        owner = svc.transcriptions.owner_of(transcription_id)
        target = out or Path(transcription_id)
        target.mkdir(parents=True, exist_ok=True)
        for item in svc.transcriptions.files(owner, transcription_id):
            shutil.copyfile(item.path, target / item.name)
            typer.echo(str(target / item.name))
    except ParlanceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        svc.close()


def _register_lifecycle() -> None:
    from parlance import cli_lifecycle

    cli_lifecycle.register(app, models_app)
    from parlance import cli_acoustic

    cli_acoustic.register(app)


_register_lifecycle()
