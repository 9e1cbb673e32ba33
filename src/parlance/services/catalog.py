"""The base-model catalog: built-in versions from registry packages plus operator-installed versions.

An installed version is a directory under `settings.models_dir` holding the model files and a
`manifest.json` (see docs/models.md). Versions are immutable: installing never rewrites one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from parlance.engines.base import ModelVersion
from parlance.errors import BadRequest, NotFound
from parlance.settings import Settings

MANIFEST = "manifest.json"


def _builtin_versions() -> list[ModelVersion]:
    from parlance.engines import pocketsphinx, whisper

    return [pocketsphinx.builtin_version(), whisper.builtin_version()]


def read_manifest(directory: Path) -> ModelVersion:
    try:
        raw = json.loads((directory / MANIFEST).read_text())
        return ModelVersion(
            base_model=raw["base_model"],
            version=raw["version"],
            engine=raw["engine"],
            language=raw["language"],
            rate=int(raw.get("rate", 16000)),
            description=raw.get("description", ""),
            path=directory,
            files=dict(raw.get("files", {})),
            created=datetime.fromisoformat(raw["created"]),
            options=dict(raw.get("options", {})),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"Invalid model manifest in {directory}: {exc}") from None


class Catalog:
    def __init__(self, settings: Settings, builtins: list[ModelVersion] | None = None) -> None:
        self.settings = settings
        self._builtins = builtins if builtins is not None else _builtin_versions()
        self.refresh()

    def refresh(self) -> None:
        versions = list(self._builtins)
        if self.settings.models_dir.is_dir():
            for d in sorted(self.settings.models_dir.iterdir()):
                if (d / MANIFEST).is_file():
                    versions.append(read_manifest(d))
        by_model: dict[str, list[ModelVersion]] = {}
        for v in versions:
            by_model.setdefault(v.base_model, []).append(v)
        for vs in by_model.values():
            vs.sort(key=lambda v: (v.created, v.version))
        self._by_model = by_model

    def base_models(self) -> list[str]:
        return sorted(self._by_model)

    def versions(self, base_model: str) -> list[ModelVersion]:
        """All versions of a base model, oldest first."""
        if base_model not in self._by_model:
            raise NotFound(f"Model {base_model} not found")
        return list(self._by_model[base_model])

    def newest(self, base_model: str) -> ModelVersion:
        return self.versions(base_model)[-1]

    def version(self, version: str) -> ModelVersion:
        for vs in self._by_model.values():
            for v in vs:
                if v.version == version:
                    return v
        raise NotFound(f"Base model version {version} not found")
