"""A small fake engine for fast API-shape tests. Never used for recognition-quality checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from parlance.engines.base import (
    SAMPLE_RATE,
    Alternative,
    Capabilities,
    DecodeOptions,
    Generation,
    ModelVersion,
    TrainingInput,
    Word,
)


def fake_version(base: str, engine: str, day: int = 1, tmp: Path | None = None) -> ModelVersion:
    return ModelVersion(
        base_model=base,
        version=f"{base}.v2026-01-{day:02d}",
        engine=engine,
        language="en-US",
        rate=16000,
        description=f"fake {base}",
        path=tmp or Path("."),
        files={},
        created=datetime(2026, 1, day, tzinfo=UTC),
    )


class _Loaded:
    def transcribe(self, audio: np.ndarray, options: DecodeOptions, *, speech: int | None = None) -> list[Alternative]:
        seconds = len(audio) / SAMPLE_RATE
        words = ["hello", "world"]
        if options.custom is not None:
            words += json.loads((options.custom.path / "words.json").read_text())
        step = seconds / len(words)
        timed = tuple(Word(w, i * step, (i + 1) * step, 0.9) for i, w in enumerate(words))
        alts = [Alternative(" ".join(words), 0.9, timed), Alternative("hollow world", 0.5)]
        return alts[: options.max_alternatives]


class FakeEngine:
    def __init__(self, name: str, generation: Generation) -> None:
        self.name = name
        self.capabilities = Capabilities(generation=generation, low_latency=generation == "next")

    def load(self, version: ModelVersion) -> _Loaded:
        return _Loaded()

    def in_vocabulary(self, version: ModelVersion, word: str) -> bool:
        return not word.startswith("zz")

    def train(self, version: ModelVersion, data: TrainingInput, out_dir: Path, progress) -> None:  # type: ignore[no-untyped-def]
        if any("failtraining" in text for text in data.corpora.values()):
            raise RuntimeError("asked to fail")
        if any("slowtraining" in text for text in data.corpora.values()):
            import time

            time.sleep(2)
        progress(50)
        (out_dir / "words.json").write_text(json.dumps([w["word"] for w in data.words]))
