"""The engine interface every recognizer implements, and the data it exchanges.

Audio enters engines as mono float32 PCM at 16 kHz (`SAMPLE_RATE`), already split into
utterances by the service layer; engines never see HTTP, files of unknown format or the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a base model: an engine plus a directory of checksummed files."""

    base_model: str  # e.g. "en-US_BroadbandModel"
    version: str  # e.g. "en-US_BroadbandModel.v2026-11-21"
    engine: str  # registry name: "pocketsphinx" | "whisper"
    language: str  # "en-US"
    rate: int  # minimum sampling rate the model is meant for
    description: str
    path: Path  # directory holding the files
    files: dict[str, str]  # relative path -> sha256
    created: datetime
    options: dict[str, Any] = field(default_factory=dict)  # engine-specific, from the manifest


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the utterance passed to the engine
    end: float
    confidence: float
    # Words the engine also considered for this stretch of audio, with their posterior probability
    # (this word included), most likely first; only when asked for (`DecodeOptions.word_alternatives`).
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Alternative:
    transcript: str  # words joined by single spaces, no trailing space
    confidence: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class CustomArtifact:
    """A trained custom language model as the engine sees it: its artifact directory."""

    path: Path
    weight: float  # customization_weight to apply (request value or the one saved at training)


@dataclass(frozen=True)
class DecodeOptions:
    max_alternatives: int = 1
    custom: CustomArtifact | None = None
    grammar: Path | None = None  # compiled grammar artifact (engine-specific format)
    prompt: str | None = None  # text the decoding is conditioned on (engines that take a prompt)
    word_alternatives: bool = False  # fill Word.alternatives (engines with lattices)
    acoustic: Path | None = None  # trained custom acoustic model artifact (`Capabilities.acoustic_adaptation`)
    low_latency: bool = False  # Watson's `low_latency`: results sooner, possibly less accurate (`Capabilities`)


@dataclass(frozen=True)
class TrainingInput:
    """Everything a custom language model is trained from, already validated by the service."""

    corpora: dict[str, str]  # corpus name -> text
    words: list[dict[str, Any]]  # Watson word objects: word, sounds_like, display_as, source, count
    weight: float
    word_type_to_add: str = "all"  # "all" | "user" (previous-generation only)


@dataclass(frozen=True)
class AdaptationUtterance:
    """A stretch of a stored 16 kHz mono 16-bit WAV file to adapt on, with its transcript when known."""

    audio: Path
    label: str  # for reports: "<resource>/<member>"
    start: float = 0.0
    end: float | None = None  # seconds; None: to the end of the file
    transcript: str | None = None  # normalized spoken-form words; None: the engine decodes it first
    # Without a transcript: the first-pass decoding of this stretch when the service already has it (times
    # from `start`), made by the same version with the same custom language model; None: decode it now.
    decoded: tuple[Word, ...] | None = None


@dataclass(frozen=True)
class AdaptationInput:
    """Everything a custom acoustic model is trained from, already validated by the service."""

    utterances: list[AdaptationUtterance]
    cache_dir: Path  # where per-version preparations of the base model may be kept between trainings
    language: CustomArtifact | None = None  # custom language model for the first-pass decoding


ProgressCallback = Callable[[int], None]  # percent 0..100

Generation = Literal["previous", "next"]


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; the services decide by these flags, never by the engine's name or type."""

    # "previous": lexicon, OOV words, sounds_like (Watson's previous-generation models);
    # "next": sequences learned from corpora, user words only (Watson's next-generation models)
    generation: Generation
    native_grammars: bool = False  # decodes with a compiled grammar itself; else n-best + selection
    word_lattices: bool = False  # fills Word.alternatives (word_alternatives_threshold)
    sentence_scoring: bool = False  # loaded models implement `SentenceScorer.score`
    acoustic_adaptation: bool = False  # custom acoustic models can be trained for it
    incremental_decoding: bool = False  # loaded models implement `IncrementalModel.open_utterance`
    low_latency: bool = False  # honours `DecodeOptions.low_latency` (Watson: next-generation models)


class LoadedModel(Protocol):
    """A base-model version loaded in memory; thread-safe for concurrent `transcribe` calls."""

    def transcribe(self, audio: np.ndarray, options: DecodeOptions, *, speech: int | None = None) -> list[Alternative]:
        """Recognize one utterance; best alternative first, at most `options.max_alternatives`. `speech`: for a
        segment that ends in padding without speech (`vad.Segment.speech`), the samples before the padding, which
        an engine may normalize by (PocketSphinx does); None: all of them."""
        ...


Channel = object  # what an incremental decoder learned of a stream's audio channel, opaque outside its engine


class UtteranceDecoder(Protocol):
    """One utterance decoded while its audio arrives: at its end only the last step of the search remains.

    Normalization can only use the audio heard so far, where `transcribe` sees the whole utterance; a decoder
    opened with the `channel` of the stream's previous utterance starts from what that one learned."""

    @property
    def fed(self) -> int:
        """Samples fed so far."""
        ...

    def feed(self, audio: np.ndarray) -> None:
        """The next samples of the utterance (mono float32, 16 kHz)."""
        ...

    def partial(self) -> Alternative | None:
        """The best hypothesis of the audio fed so far (cheap: no second pass), or None without words."""
        ...

    def finish(self) -> list[Alternative]:
        """The alternatives for all the audio fed (as `LoadedModel.transcribe` gives them); the decoder is done
        after it."""
        ...

    @property
    def channel(self) -> Channel | None:
        """After `finish`: the channel as known after this utterance, for the stream's next one."""
        ...

    def close(self) -> None:
        """Abandon the utterance (no-op once finished or closed); its resources go back to the model."""
        ...


class IncrementalModel(Protocol):
    """A loaded model that decodes as audio arrives (`Capabilities.incremental_decoding`)."""

    def open_utterance(self, options: DecodeOptions, channel: Channel | None = None) -> UtteranceDecoder: ...

    def channel_of(self, speech: np.ndarray, options: DecodeOptions) -> Channel:
        """The channel `transcribe` decodes a segment with, from its samples before `vad.TRAILING_PAD`: a decoder
        opened with it gives `transcribe`'s result for the segment."""
        ...


class ParallelDecoder(Protocol):
    """A loaded model whose `transcribe` calls run in parallel, up to `parallel_decodes` at once (each on a
    decoder of its own, so a call's result does not depend on what else runs). Models without this
    attribute are decoded one call at a time: parallel calls would only queue (PocketSphinx holds the GIL)."""

    parallel_decodes: int


def parallel_decodes(model: LoadedModel) -> int:
    """How many `transcribe` calls of `model` are worth running at once (1 unless it is a ParallelDecoder)."""
    return max(1, int(getattr(model, "parallel_decodes", 1)))


class SentenceScorer(Protocol):
    """A loaded model that scores given sentences against audio (`Capabilities.sentence_scoring`)."""

    def score(self, audio: np.ndarray, sentences: list[str], prompt: str | None = None) -> list[float]:
        """Mean log-probability per token of each sentence given the audio; higher is better."""
        ...


class Engine(Protocol):
    name: str
    capabilities: Capabilities

    def load(self, version: ModelVersion) -> LoadedModel:
        """Load a model version (callers cache the result)."""
        ...

    def in_vocabulary(self, version: ModelVersion, word: str) -> bool:
        """Whether the base model already knows `word` (previous-generation OOV detection)."""
        ...

    def train(self, version: ModelVersion, data: TrainingInput, out_dir: Path, progress: ProgressCallback) -> None:
        """Build a custom language model's artifacts for `version` into `out_dir`."""
        ...


class AcousticAdapter(Protocol):
    """An engine with `Capabilities.acoustic_adaptation`: trains custom acoustic models."""

    def adapt(
        self, version: ModelVersion, data: AdaptationInput, out_dir: Path, progress: ProgressCallback
    ) -> dict[str, Any]:
        """Build a custom acoustic model's artifacts for `version` into `out_dir`; returns a summary."""
        ...
