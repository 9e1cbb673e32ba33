"""The base-model catalog: built-in versions from registry packages plus operator-installed versions.

An installed version is a directory under `settings.models_dir` holding the model files and a
`manifest.json` (see docs/models.md). Versions are immutable: installing never rewrites one.

An install copies into a staging folder (`.install-*`) inside the models directory and publishes it
with one rename, holding a lock for its whole run. A killed install leaves only a staging folder: the
catalog never lists one and removes it when it next gets the lock (at start-up or the next install).
The catalog lists only installed versions whose files match their manifest's checksums.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath

from parlance.checksums import sha256_file
from parlance.engines.base import ModelVersion
from parlance.errors import BadRequest, NotFound
from parlance.settings import Settings

MANIFEST = "manifest.json"
STAGING = ".install-"  # prefix of staging folders; no version name starts with a dot
INSTALL_LOCK = ".install.lock"
log = logging.getLogger(__name__)


# Watson's previous-generation names for the languages served only by a next-generation model. IBM retired
# them in 2023 and maps requests for them to the equivalent model; so does Parlance, with a warning.
PREVIOUS_GENERATION = {
    **{
        f"{locale}_{band}Model": f"{locale}_Multimedia"
        for locale in ("ja-JP", "ko-KR", "pt-BR")
        for band in ("Broadband", "Narrowband")
    },
    "en-US_NarrowbandModel": "en-US_Telephony",  # en-US_BroadbandModel is still served (PocketSphinx)
}


def _builtin_versions() -> list[ModelVersion]:
    from parlance.engines import pocketsphinx, whisper
    from parlance.engines.whisper.multilingual import multilingual_versions

    return [
        pocketsphinx.builtin_version(),
        whisper.builtin_version(),
        whisper.telephony_version(),
        *multilingual_versions(),
    ]


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
        self._verified: dict[Path, tuple[object, ...]] = {}  # directory -> file stats when its checksums matched
        with _install_lock(settings.models_dir, wait=False) as locked:
            if locked:  # no install is running, so every staging folder is a killed one
                _remove_staging(settings.models_dir)
        self.refresh()

    def refresh(self) -> None:
        self._seen = self._stamp()
        versions = list(self._builtins)
        if self.settings.models_dir.is_dir():
            for d in sorted(self.settings.models_dir.iterdir()):
                if not d.name.startswith(".") and (d / MANIFEST).is_file():
                    installed = self._installed(d)
                    if installed is not None:
                        versions.append(installed)
        by_model: dict[str, list[ModelVersion]] = {}
        for v in versions:
            by_model.setdefault(v.base_model, []).append(v)
        for vs in by_model.values():
            vs.sort(key=lambda v: (v.created, v.version))
        self._by_model = by_model

    def _installed(self, directory: Path) -> ModelVersion | None:
        """The version in `directory`, or None (logged) when its manifest or files are broken. Checksums are
        computed again only when a file's size or modification time changed since they last matched."""
        try:
            version = read_manifest(directory)
            stats = _file_stats(directory, version.files)
            if self._verified.get(directory) != stats:
                verify_files(directory, version.files)
                self._verified[directory] = stats
        except BadRequest as exc:
            self._verified.pop(directory, None)
            log.warning("ignoring base-model version in %s: %s", directory, exc.message)
            return None
        return version

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

    def equivalent(self, name: str) -> tuple[str, str | None]:
        """The model a name is served by, and a warning when that is another model: a retired
        previous-generation name maps to its next-generation equivalent when no model has the name."""
        by_model = self._current()
        target = PREVIOUS_GENERATION.get(name)
        if name in by_model or target is None or target not in by_model:
            return name, None
        return target, (
            f"Model {name} is a previous-generation model that is no longer available; "
            f"the request was served by its next-generation equivalent {target}."
        )

    def newest(self, base_model: str) -> ModelVersion:
        return self.versions(base_model)[-1]

    def version(self, version: str) -> ModelVersion:
        for vs in self._current().values():
            for v in vs:
                if v.version == version:
                    return v
        raise NotFound(f"Base model version {version} not found")

    def install(self, source: Path) -> ModelVersion:
        """Copy a version directory into the catalog after checking its manifest and the copy's checksums."""
        candidate = read_manifest(source)
        if not VERSION_NAME.match(candidate.version) or not candidate.version.startswith(candidate.base_model + "."):
            raise BadRequest(f"Version names look like {candidate.base_model}.v2026-11-21; got {candidate.version}")
        models_dir = self.settings.models_dir
        models_dir.mkdir(parents=True, exist_ok=True)
        with _install_lock(models_dir, wait=True):
            _remove_staging(models_dir)  # left by a killed install
            self.refresh()
            if any(v.version == candidate.version for vs in self._by_model.values() for v in vs):
                raise BadRequest(f"Version {candidate.version} is already installed; versions are immutable")
            staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=models_dir))
            try:
                shutil.copytree(source, staging, dirs_exist_ok=True, symlinks=False)
                copied = read_manifest(staging)
                if copied.version != candidate.version:
                    raise BadRequest(f"The manifest in {source} changed while it was being installed")
                verify_files(staging, copied.files)  # what is published is what was checked
                target = models_dir / candidate.version
                if target.exists():  # files of a broken version (not listed above): set aside, then dropped
                    os.replace(target, Path(tempfile.mkdtemp(prefix=STAGING, dir=models_dir)) / "broken")
                os.replace(staging, target)  # the one step that publishes the version
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                _remove_staging(models_dir)
        self.refresh()
        return self.version(candidate.version)


@contextmanager
def _install_lock(models_dir: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock on the models directory, held by an install for its whole run (across processes:
    `parlance models install` runs beside the server). Yields whether it was taken; the kernel drops it
    when its holder dies, so a killed install never leaves the directory locked."""
    if not models_dir.is_dir():
        yield True
        return
    with open(models_dir / INSTALL_LOCK, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _remove_staging(models_dir: Path) -> None:
    """Remove staging folders; call only with the install lock held."""
    if models_dir.is_dir():
        for d in models_dir.iterdir():
            if d.name.startswith(STAGING) and d.is_dir():
                log.info("removing %s, left by an interrupted install", d)
                shutil.rmtree(d, ignore_errors=True)


def _file_stats(root: Path, files: dict[str, str]) -> tuple[object, ...]:
    """(name, size, mtime) of the manifest and each listed file; None for one that cannot be read."""

    def stat(rel: str) -> tuple[object, ...]:
        try:
            st = (root / rel).stat()
        except (OSError, ValueError):
            return (rel, None)
        return (rel, st.st_size, st.st_mtime_ns)

    return tuple(stat(rel) for rel in [MANIFEST, *sorted(files)])


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
