"""The base-model catalog: built-in versions from registry packages plus operator-installed versions.

An installed version is a directory under `settings.models_dir` holding the model files and a
`manifest.json` (see docs/models.md). Versions are immutable: installing never rewrites one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from parlance.checksums import sha256_file
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
        self._seen = self._stamp()
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

    def _stamp(self) -> float:
        d = self.settings.models_dir
        return d.stat().st_mtime if d.is_dir() else 0.0

    def _current(self) -> dict[str, list[ModelVersion]]:
        """Pick up versions another process (`parlance models install`) added since the last look."""
        if self._stamp() != self._seen:
            self.refresh()
        return self._by_model

    def base_models(self) -> list[str]:
        return sorted(self._current())

    def versions(self, base_model: str) -> list[ModelVersion]:
        """All versions of a base model, oldest first."""
        by_model = self._current()
        if base_model not in by_model:
            raise NotFound(f"Model {base_model} not found")
        return list(by_model[base_model])

    def newest(self, base_model: str) -> ModelVersion:
        return self.versions(base_model)[-1]

    def version(self, version: str) -> ModelVersion:
        for vs in self._current().values():
            for v in vs:
                if v.version == version:
                    return v
        raise NotFound(f"Base model version {version} not found")

    def install(self, source: Path) -> ModelVersion:
        """Copy a version directory into the catalog after checking its manifest and checksums."""
        candidate = read_manifest(source)
        if not VERSION_NAME.match(candidate.version) or not candidate.version.startswith(candidate.base_model + "."):
            raise BadRequest(f"Version names look like {candidate.base_model}.v2026-11-21; got {candidate.version}")
        if any(v.version == candidate.version for vs in self._current().values() for v in vs):
            raise BadRequest(f"Version {candidate.version} is already installed; versions are immutable")
        verify_files(source, candidate.files)
        self.settings.models_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".install-", dir=self.settings.models_dir))
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True, symlinks=False)
            os.replace(staging, self.settings.models_dir / candidate.version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.refresh()
        return self.version(candidate.version)


VERSION_NAME = re.compile(r"^[A-Za-z0-9_-]+\.v\d{4}-\d{2}-\d{2}(?:[._-][A-Za-z0-9]+)*$")


def verify_files(root: Path, files: dict[str, str]) -> None:
    if not files:
        raise BadRequest("The manifest lists no files")
    for rel, expected in files.items():
        parts = PurePosixPath(rel).parts
        if PurePosixPath(rel).is_absolute() or ".." in parts:
            raise BadRequest(f"Manifest file path {rel!r} must stay inside the version directory")
        path = root / rel
        if not path.is_file():
            raise BadRequest(f"Manifest lists {rel} but the file is missing")
        if sha256_file(path) != expected:
            raise BadRequest(f"Checksum mismatch for {rel}: the file is not the one the manifest describes")
