"""Installing base-model versions: manifests are checked before anything is copied."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from parlance.errors import BadRequest
from parlance.services.catalog import Catalog
from parlance.settings import Settings
from tests.fakes import fake_version

BASE = "en-US_BroadbandModel"


def version_dir(tmp_path: Path, name: str = f"{BASE}.v2026-03-01", **changes: object) -> Path:
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    (d / "lm.bin").write_bytes(b"lm")
    manifest = {
        "base_model": BASE,
        "version": name,
        "engine": "fake-previous",
        "language": "en-US",
        "created": "2026-03-01T00:00:00+00:00",
        "files": {"lm.bin": hashlib.sha256(b"lm").hexdigest()},
    }
    manifest.update(changes)
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def catalog(tmp_path: Path) -> Catalog:
    return Catalog(Settings(data_dir=tmp_path / "data"), [fake_version(BASE, "fake-previous")])


def test_install_makes_the_newest_version_the_default(tmp_path: Path) -> None:
    c = catalog(tmp_path)
    c.install(version_dir(tmp_path))
    assert [v.version for v in c.versions(BASE)] == [f"{BASE}.v2026-01-01", f"{BASE}.v2026-03-01"]
    assert c.newest(BASE).version == f"{BASE}.v2026-03-01"
    assert catalog(tmp_path).newest(BASE).version == f"{BASE}.v2026-03-01"  # a new process sees it too


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"files": {"lm.bin": "0" * 64}}, "Checksum mismatch"),
        ({"files": {"../../etc/passwd": "0" * 64}}, "inside the version directory"),  # outside-path: test input
        ({"files": {"/etc/passwd": "0" * 64}}, "inside the version directory"),
        ({"files": {"missing.bin": "0" * 64}}, "missing"),
        ({"files": {}}, "no files"),
        ({"version": "v2"}, "Version names look like"),
        ({"created": "yesterday"}, "Invalid model manifest"),
    ],
)
def test_bad_versions_are_refused(tmp_path: Path, changes: dict, needle: str) -> None:
    c = catalog(tmp_path)
    with pytest.raises(BadRequest, match=needle):
        c.install(version_dir(tmp_path, **changes))
    assert [v.version for v in c.versions(BASE)] == [f"{BASE}.v2026-01-01"]


def test_versions_are_immutable(tmp_path: Path) -> None:
    c = catalog(tmp_path)
    with pytest.raises(BadRequest, match="already installed"):
        c.install(version_dir(tmp_path, name=f"{BASE}.v2026-01-01"))
