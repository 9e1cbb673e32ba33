"""The built-in `en-US_BroadbandModel` version and what a version's files hold.

A version directory holds an acoustic model directory, a pronunciation dictionary and a binary
trigram LM; manifest `options` may name them (`hmm`, `dict`, `lm`, relative to the version path).
The built-in version is the model inside the `pocketsphinx` wheel (`builtin_version()`).
"""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from parlance.checksums import sha256_file
from parlance.engines.base import SAMPLE_RATE, ModelVersion
from parlance.engines.pocketsphinx import trigram_lm
from parlance.engines.pocketsphinx.dictionary import read_dictionary, word_key

BASE_MODEL = "en-US_BroadbandModel"
# The en-us model files ship unchanged inside the wheel; a version is named after the release of
# the wheel it comes from (fixed per release, so the name is deterministic).
_RELEASE_DATES = {"5.0.4": "2025-01-10", "5.1.1": "2026-06-06"}
_DEFAULT_RELEASE_DATE = "2026-06-06"
DEFAULT_FILES = {"hmm": "en-us", "dict": "cmudict-en-us.dict", "lm": "en-us.lm.bin"}


def _package_version() -> str:
    try:
        return importlib.metadata.version("pocketsphinx")
    except importlib.metadata.PackageNotFoundError:
        return "0"


@lru_cache(maxsize=1)
def builtin_version() -> ModelVersion:
    """`en-US_BroadbandModel` from the files inside the installed `pocketsphinx` wheel."""
    import pocketsphinx

    root = Path(pocketsphinx.get_model_path()) / "en-us"
    date = _RELEASE_DATES.get(_package_version(), _DEFAULT_RELEASE_DATE)
    files = {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted((root / DEFAULT_FILES["hmm"]).iterdir())
        if p.is_file() and p.name != "README"
    }
    for key in ("dict", "lm"):
        files[DEFAULT_FILES[key]] = sha256_file(root / DEFAULT_FILES[key])
    return ModelVersion(
        base_model=BASE_MODEL,
        version=f"{BASE_MODEL}.v{date}",
        engine="pocketsphinx",
        language="en-US",
        rate=SAMPLE_RATE,
        description=f"US English broadband model (16 kHz), PocketSphinx {_package_version()}",
        path=root,
        files=files,
        created=datetime.fromisoformat(date).replace(tzinfo=UTC),
        options=dict(DEFAULT_FILES),
    )


def model_files(version: ModelVersion) -> dict[str, Path]:
    """Paths of the acoustic model directory, dictionary and LM of a version."""
    return {k: version.path / str(version.options.get(k, v)) for k, v in DEFAULT_FILES.items()}


@lru_cache(maxsize=8)
def _vocabulary(dict_path: str, lm_path: str) -> frozenset[str]:
    words = set(read_dictionary(Path(dict_path)))
    return frozenset(words & set(trigram_lm.read_trie_words(Path(lm_path))))


def vocabulary(version: ModelVersion) -> frozenset[str]:
    """Words the version can recognize: in its dictionary and in its language model."""
    files = model_files(version)
    return _vocabulary(str(files["dict"]), str(files["lm"]))


def oov_words(version: ModelVersion, counts: dict[str, int]) -> dict[str, int]:
    """The out-of-vocabulary words of a corpus word count, most frequent first."""
    vocab = vocabulary(version)
    return {w: c for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if word_key(w) not in vocab}
