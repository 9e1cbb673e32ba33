"""The Whisper engine: what it can do, loading versions and training custom models (biasing)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from parlance.customization.languages import rules_for
from parlance.engines.base import Capabilities, ModelVersion, ProgressCallback, TrainingInput
from parlance.engines.whisper.bias import train_bias
from parlance.engines.whisper.model import WhisperModel, backend_key, load_backend, tokenizer_file
from parlance.errors import EngineFailure


class WhisperEngine:
    name = "whisper"
    capabilities = Capabilities(generation="next", sentence_scoring=True, low_latency=True)

    def __init__(self, cpu_threads: int | None = None, num_workers: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.num_workers = num_workers or max(1, min(2, cores))
        self.cpu_threads = cpu_threads or max(1, cores // self.num_workers)
        self._tokenizers: dict[Path, Any] = {}
        self._backends: dict[tuple[Any, ...], Any] = {}  # loaded weights, shared by versions (languages)
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def load(self, version: ModelVersion) -> WhisperModel:
        key = backend_key(version, self.cpu_threads, self.num_workers)
        try:
            with self._load_lock:
                backend = self._backends.get(key)
                if backend is None:
                    backend = self._backends[key] = load_backend(version, self.cpu_threads, self.num_workers)
            return WhisperModel(version, backend)
        except (RuntimeError, ValueError, OSError) as exc:
            raise EngineFailure(f"Cannot load Whisper model {version.version}: {exc}") from exc

    def in_vocabulary(self, version: ModelVersion, word: str) -> bool:
        """Always True: next-generation models have no lexicon and report no OOV words (Watson NG
        corpora always show `out_of_vocabulary_words: 0`); Whisper's BPE can spell any word."""
        return True

    def train(self, version: ModelVersion, data: TrainingInput, out_dir: Path, progress: ProgressCallback) -> None:
        """Write the biasing prompt, corpus LM and rewrite rules (see `engines.whisper.bias`).
        `word_type_to_add` does not apply to next-generation models and is ignored, as in Watson."""
        encode = self._encoder(version)
        rules = rules_for(str(version.options.get("language", "en")))
        bias = train_bias(data.corpora, data.words, data.weight, encode, progress, rules=rules)
        bias.save(out_dir)
        progress(100)

    def _encoder(self, version: ModelVersion) -> Any:
        """The version's tokenizer (text → ids), without loading the model weights."""
        with self._lock:
            path = tokenizer_file(version)
            tok = self._tokenizers.get(path)
            if tok is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(path))
                self._tokenizers[path] = tok
        return lambda text: tok.encode(text, add_special_tokens=False).ids
