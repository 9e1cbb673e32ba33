"""What every `parlance` command shares: the data-directory option, settings, and the service container."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from parlance.settings import Settings

if TYPE_CHECKING:
    from parlance.services.container import Services

DataDir = Annotated[Path | None, typer.Option(help="Data directory (env PARLANCE_DATA_DIR).")]


def settings_from(data_dir: Path | None, **overrides: object) -> Settings:
    """Settings from the environment, with the options a command was given (None: not given)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


def open_services(settings: Settings) -> Services:
    from parlance.services.container import Services  # loaded only by the commands that need it

    return Services.build(settings)
