"""Spoken-language identification (`POST /v1/detect_language`) with Whisper's language token.

Watson listens until its confidence in one language passes `lid_confidence` (0.99 by default) and answers
with that language and the time it was reached. Here the speech (silence and noise cut out by the VAD)
is judged on a growing prefix, 3, 10 then 30 s (Whisper's window; each check is one encoder pass over a
padded 30 s window, about 1.5 s on one core); the first prefix whose best language passes the threshold
answers. As Watson identifies only languages it has models for, the candidates are the languages of the
catalog's base models, their probabilities renormalized among themselves.
When none does, the answer is the judgement on all the speech heard (up to 30 s), with its lower
confidence: a language that is probably right is more use to a caller than no answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol, cast

import numpy as np

from parlance.audio.decode import decode_parts
from parlance.audio.vad import split_utterances
from parlance.engines.base import SAMPLE_RATE, ModelVersion
from parlance.errors import BadRequest, EngineUnavailable
from parlance.services.catalog import Catalog
from parlance.services.engine_pool import EnginePool

PREFIX_SECONDS = (3, 10, 30)
DEFAULT_LID_CONFIDENCE = 0.99


AudioParts = list[tuple[bytes, str | None]]


class LanguageIdentifier(Protocol):
    def language_probabilities(self, audio: np.ndarray) -> list[tuple[str, float]]: ...


def parse_lid_confidence(raw: str | None) -> float:
    if raw is None or raw == "":
        return DEFAULT_LID_CONFIDENCE
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"lid_confidence must be a number between 0 and 1; got '{raw[:40]}'") from None
    if not 0 <= value <= 1:
        raise BadRequest(f"lid_confidence must be a number between 0 and 1; got {value}")
    return value


class LanguageDetection:
    def __init__(self, catalog: Catalog, pool: EnginePool) -> None:
        self.catalog = catalog
        self.pool = pool

    def identifier(self) -> ModelVersion:
        """The newest version that identifies languages (the Whisper base models share one)."""
        for name in self.catalog.base_models():
            version = self.catalog.newest(name)
            if version.options.get("language_identification"):
                return version
        # Not a passing condition (503) but what this server supports, as Watson answers unsupported features: 400
        raise BadRequest("No installed model can identify spoken languages; install a multilingual base model")

    def locales(self) -> dict[str, str]:
        """Whisper's code to Watson's locale for the languages the catalog serves ("ja" → "ja-JP")."""
        out: dict[str, str] = {}
        for name in self.catalog.base_models():
            locale = self.catalog.newest(name).language
            out.setdefault(locale.split("-", 1)[0].lower(), locale)
        return out

    async def detect(self, audio: AudioParts, lid_confidence: float) -> dict[str, Any]:
        version = self.identifier()
        future = self.pool.submit(lambda: self.run(version, audio, lid_confidence), wait=False)
        return await asyncio.wrap_future(future)

    def run(self, version: ModelVersion, audio: AudioParts, lid_confidence: float) -> dict[str, Any]:
        """Blocking (an engine thread): Watson's `LanguageDetectionResults`."""
        samples = decode_parts(audio)
        speech = [seg.samples for seg in split_utterances(samples)]
        if not speech:
            return {"results": [], "result_index": 0}
        joined = np.concatenate(speech)
        model = cast(LanguageIdentifier, self.pool.model(version))
        locales = self.locales()
        heard = len(joined) / SAMPLE_RATE
        for seconds in PREFIX_SECONDS:
            probabilities = model.language_probabilities(joined[: seconds * SAMPLE_RATE])
            language, confidence = served_best(probabilities, locales.keys())
            reached = min(float(seconds), heard)
            if confidence >= lid_confidence or seconds >= heard:
                break
        info = {
            "language": locales[language],
            "confidence": round(confidence, 4),
            "timestamp": round(reached, 2),
        }
        return {"results": [{"language_info": [info]}], "result_index": 0}


def served_best(probabilities: list[tuple[str, float]], served: Iterable[str]) -> tuple[str, float]:
    """The most likely of the served languages, with its probability among them."""
    wanted = set(served)
    kept = [(code, p) for code, p in probabilities if code in wanted]
    if not kept:
        raise EngineUnavailable("No installed model is for a language the identifier knows")
    total = sum(p for _, p in kept) or 1.0
    code, p = max(kept, key=lambda x: x[1])
    return code, p / total
