"""The PocketSphinx engine: what it can do, loading versions, OOV checks and training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parlance.engines.base import AdaptationInput, Capabilities, ModelVersion, ProgressCallback, TrainingInput
from parlance.engines.pocketsphinx.adaptation import adapt
from parlance.engines.pocketsphinx.dictionary import word_key
from parlance.engines.pocketsphinx.model import PocketSphinxModel
from parlance.engines.pocketsphinx.training import train_custom_model
from parlance.engines.pocketsphinx.version import vocabulary


class PocketSphinxEngine:
    name = "pocketsphinx"
    capabilities = Capabilities(
        generation="previous",
        native_grammars=True,
        word_lattices=True,
        acoustic_adaptation=True,
        incremental_decoding=True,
    )

    def load(self, version: ModelVersion) -> PocketSphinxModel:
        return PocketSphinxModel(version)

    def in_vocabulary(self, version: ModelVersion, word: str) -> bool:
        return word_key(word) in vocabulary(version)

    def train(self, version: ModelVersion, data: TrainingInput, out_dir: Path, progress: ProgressCallback) -> None:
        train_custom_model(version, data, out_dir, progress)

    def adapt(
        self, version: ModelVersion, data: AdaptationInput, out_dir: Path, progress: ProgressCallback
    ) -> dict[str, Any]:
        return adapt(version, data, out_dir, progress)
