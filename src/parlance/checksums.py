"""sha256 of model files: version manifests record them and installs verify them."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def tree_checksums(directory: Path) -> dict[str, str]:
    """{relative posix path: sha256} of every file under `directory`."""
    return {p.relative_to(directory).as_posix(): sha256_file(p) for p in sorted(directory.rglob("*")) if p.is_file()}
