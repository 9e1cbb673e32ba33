"""Recognition: `prepare` (options → what to decode with), then `run` (decode → split at pauses → engine
per utterance → Watson results) on an engine worker."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from parlance.audio.decode import decode_parts, decoded_chunks
from parlance.audio.utterances import UtteranceSplitter, loudest_speech
from parlance.audio.vad import PAD_SECONDS, Segment, split_utterances
from parlance.customization.grammar_fsa import Grammar
from parlance.engines import grammar_select
from parlance.engines.base import (
    SAMPLE_RATE,
    Alternative,
    Capabilities,
    CustomArtifact,
    DecodeOptions,
    LoadedModel,
    ModelVersion,
    SentenceScorer,
    parallel_decodes,
)
from parlance.errors import BadRequest, ModelExpired, ParlanceError
from parlance.services.catalog import Catalog
from parlance.services.engine_pool import EnginePool
from parlance.services.formatting import format_transcript, format_words, spot_keywords, word_alternatives
from parlance.services.lifecycle import Lifecycle, iso_date
from parlance.services.piece_decoding import decoded_in_order

DEFAULT_MODEL = "en-US_BroadbandModel"
# Accepted for compatibility but not implemented: reported in `warnings`, never an error.
IGNORED = frozenset(
    {
        "speaker_labels",
        "audio_metrics",
        "processing_metrics",
        "processing_metrics_interval",
        "character_insertion_bias",
        "smart_formatting_version",
        "speech_begin_event",
        "x-watson-learning-opt-out",
        "x-watson-metadata",
    }
)


# Watson documents no upper bound for these integers; its service takes 32-bit ones, so larger values
# (10**20) are refused with 400 here rather than overflowing an engine's C integer later.
INT32_MAX = 2**31 - 1


class RecognizeParams(BaseModel):
    """The `/v1/recognize` query (or multipart `metadata`) options Parlance acts on, each to Watson's range.
    Accepted-but-ignored numeric options are range-checked too, so a bad value is reported the same way."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    model: str = DEFAULT_MODEL
    language_customization_id: str | None = None
    customization_id: str | None = None  # deprecated alias
    acoustic_customization_id: str | None = None
    base_model_version: str | None = None
    customization_weight: float | None = Field(None, ge=0, le=1)
    grammar_name: str | None = None
    inactivity_timeout: int = Field(30, ge=-1, le=INT32_MAX)  # -1: never
    keywords: list[str] = []
    keywords_threshold: float | None = Field(None, ge=0, le=1)
    max_alternatives: int = Field(1, ge=0, le=INT32_MAX)
    word_confidence: bool = False
    timestamps: bool = False
    profanity_filter: bool = True
    smart_formatting: bool = False
    redaction: bool = False  # implies smart_formatting and max_alternatives=1; keywords are ignored
    word_alternatives_threshold: float | None = Field(None, ge=0, le=1)  # previous-generation models only
    speech_detector_sensitivity: float = Field(0.5, ge=0, le=1)
    background_audio_suppression: float = Field(0.0, ge=0, le=1)
    end_of_phrase_silence_time: float | None = Field(None, ge=0, le=120)
    split_transcript_at_phrase_end: bool = False
    low_latency: bool = False  # next-generation models: results sooner, perhaps less accurate
    # In IGNORED: validated, then reported as ignored.
    character_insertion_bias: float | None = Field(None, ge=-1, le=1)
    processing_metrics_interval: float | None = Field(None, ge=0.1)
    smart_formatting_version: int | None = Field(None, ge=0, le=INT32_MAX)

    @field_validator("keywords", mode="before")
    @classmethod
    def _split_keywords(cls, v: Any) -> Any:
        return [k.strip() for k in v.split(",") if k.strip()] if isinstance(v, str) else v

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> tuple[RecognizeParams, list[str]]:
        """Validate options; unknown ones become a warning, as in Watson."""
        try:
            params = cls.model_validate(dict(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise BadRequest(f"Invalid value for parameter '{loc}': {err['msg']}") from None
        warnings = []
        extra = sorted((params.model_extra or {}).keys() - IGNORED)
        if extra:
            warnings.append(f"Unknown arguments: {', '.join(extra)}.")
        ignored = sorted(((params.model_extra or {}).keys() | params.model_fields_set) & IGNORED)
        if ignored:
            warnings.append(f"Arguments not supported by this service and ignored: {', '.join(ignored)}.")
        if (params.keywords == []) != (params.keywords_threshold is None):
            raise BadRequest("keywords and keywords_threshold must be specified together")
        if len(params.keywords) > 1000 or any(len(k) > 1024 for k in params.keywords):
            raise BadRequest("At most 1000 keywords of at most 1024 characters each are allowed")
        if params.redaction:  # as in Watson: redacted numbers must not reappear elsewhere in the result
            params = params.model_copy(
                update={"smart_formatting": True, "max_alternatives": 1, "keywords": [], "keywords_threshold": None}
            )
        return params, warnings

    @property
    def custom_id(self) -> str | None:
        return self.language_customization_id or self.customization_id


@dataclass
class Resolved:
    """What a request decodes with, after custom-model and version rules are applied."""

    version: ModelVersion
    custom: CustomArtifact | None = None
    grammar: Any = None
    warnings: list[str] = field(default_factory=list)
    acoustic: Path | None = None  # trained custom acoustic model artifact


class CustomResolver(Protocol):
    def resolve(self, owner: str, params: RecognizeParams, base: ModelVersion) -> Resolved: ...


class EndpointResolver(Protocol):
    def expand(self, owner: str, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]: ...


AudioParts = list[tuple[bytes, str | None]]  # (bytes, content type) parts, played one after another


@dataclass(frozen=True)
class Prepared:
    """Everything a request decodes with that does not depend on its audio: parameters checked, base-model
    version and custom model resolved, grammar loaded, warnings gathered, decode options built. Made once
    per request (per start message on a WebSocket), then run on each audio buffer of that request."""

    params: RecognizeParams
    version: ModelVersion
    capabilities: Capabilities
    options: DecodeOptions
    grammar: Grammar | None = None
    warnings: tuple[str, ...] = ()

    @property
    def wanted(self) -> int:
        return max(1, self.params.max_alternatives)  # Watson: 0 means 1

    def without_inactivity_timeout(self) -> Prepared:
        """For interim results of audio still arriving: the timeout is checked on its own schedule."""
        return replace(self, params=self.params.model_copy(update={"inactivity_timeout": -1}))


class RecognitionService:
    def __init__(
        self,
        catalog: Catalog,
        pool: EnginePool,
        customs: CustomResolver | None = None,
        endpoints: EndpointResolver | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.catalog = catalog
        self.pool = pool
        self.customs = customs
        self.endpoints = endpoints
        self.lifecycle = lifecycle

    def _parse(self, owner: str, raw_params: Mapping[str, Any]) -> tuple[RecognizeParams, list[str]]:
        """Parameters, with an `endpoint_id` replaced by its endpoint's model, and their warnings."""
        raw, endpoint_warnings = self.endpoints.expand(owner, raw_params) if self.endpoints else (raw_params, [])
        params, warnings = RecognizeParams.parse(raw)
        return params, endpoint_warnings + warnings

    def prepare(self, owner: str, raw_params: Mapping[str, Any]) -> Prepared:
        """Check the options and resolve what they name (4xx for anything wrong); no audio needed."""
        params, warnings = self._parse(owner, raw_params)
        model, renamed = self.catalog.equivalent(params.model)  # retired previous-generation names
        if renamed:
            params, warnings = params.model_copy(update={"model": model}), [*warnings, renamed]
        resolved = self._resolve(owner, params)
        warnings += resolved.warnings
        capabilities = self.pool.engine(resolved.version).capabilities
        lattice = params.word_alternatives_threshold is not None
        if lattice and not capabilities.word_lattices:
            lattice = False  # as in Watson: word alternatives come from previous-generation models only
            warnings.append(f"word_alternatives_threshold is not supported for model {params.model}; it was ignored.")
        warnings += _low_latency_warnings(params, capabilities)
        wanted = max(1, params.max_alternatives)
        options = DecodeOptions(
            low_latency=params.low_latency and capabilities.low_latency,
            max_alternatives=wanted,
            custom=resolved.custom,
            grammar=resolved.grammar,
            word_alternatives=lattice,
            acoustic=resolved.acoustic,
        )
        grammar = None
        if resolved.grammar:
            # Every engine's result is checked against the grammar (PocketSphinx returns a partial path
            # when no final state is reached); engines without grammar decoding propose an n-best list,
            # prompted with sentences of the grammar.
            grammar = grammar_select.load_grammar(resolved.grammar.with_suffix(".json"))
            if not capabilities.native_grammars:
                n_best, prompt = max(wanted, grammar_select.N_BEST), grammar_select.prompt_text(grammar)
                options = replace(
                    options, max_alternatives=n_best, grammar=None, prompt=prompt, word_alternatives=False
                )
        return Prepared(params, resolved.version, capabilities, options, grammar, tuple(warnings))

    def _resolve(self, owner: str, params: RecognizeParams) -> Resolved:
        versions = self.catalog.versions(params.model)  # 404 for an unknown model
        if (params.custom_id or params.acoustic_customization_id) and self.customs is not None:
            return self.customs.resolve(owner, params, versions[-1])
        if params.customization_weight is not None:
            raise BadRequest("Cannot specify customization weight when not using customization.")
        if params.grammar_name:
            raise BadRequest("grammar_name requires language_customization_id")
        if params.base_model_version:
            version = self.catalog.version(params.base_model_version)
            if version.base_model != params.model:
                raise BadRequest(f"Version {version.version} is not a version of model {params.model}")
            return Resolved(version, warnings=self._base_lifecycle(version, versions[-1]))
        return Resolved(versions[-1], warnings=self._base_lifecycle(versions[-1], versions[-1]))

    def _base_lifecycle(self, version: ModelVersion, newest: ModelVersion) -> list[str]:
        """A version past its transcription date is refused when a newer one exists; the newest is still
        served (with a warning), so that a base model never stops working for want of an installed version."""
        if self.lifecycle is None:
            return []
        date = self.lifecycle.base_dates(version).transcription
        if not self.lifecycle.passed(date):
            warning = self.lifecycle.expiry_warning(f"Base model version {version.version}", date)
            return [warning] if warning else []
        if version != newest:
            raise ModelExpired(
                f"Base model version {version.version} expired on {iso_date(date)}; "
                f"use the newest version, {newest.version} (omit base_model_version)."
            )
        return [
            f"Base model version {version.version} passed its transcription date {iso_date(date)} and no newer "
            f"version is installed; the operator can install one with `parlance models install`."
        ]

    def submit(self, prepared: Prepared, audio: AudioParts, *, wait: bool = False) -> Future[dict[str, Any]]:
        """`run` on an engine worker. Requests (`wait=False`) are refused with 503 when every worker and
        queue slot is taken; background jobs (`wait=True`) block until a slot frees instead."""
        return self.pool.call(self.run, "run", prepared, audio, wait=wait)

    async def recognize(self, owner: str, audio: AudioParts, raw_params: Mapping[str, Any]) -> dict[str, Any]:
        """Prepare and run one request (HTTP, CLI): 503 rather than waiting when the engines are busy."""
        prepared = await asyncio.to_thread(self.prepare, owner, raw_params)  # database and grammar file reads
        return await asyncio.wrap_future(self.submit(prepared, audio))

    def run(self, prepared: Prepared, audio: AudioParts) -> dict[str, Any]:
        """Blocking (an engine thread): decode, split at pauses and transcribe each utterance as the audio
        is decoded, then format. Only the utterances being transcribed are held (at most
        `decode_batch_size`, several at once on models that decode in parallel), never the whole audio."""
        params = prepared.params
        model = self.pool.model(prepared.version)
        results: list[dict[str, Any]] = []
        last: dict[str, Any] | None = None  # the result of the last utterance, if it had one
        heard = 0
        pieces = decoded_in_order(
            self._utterances(audio, params),
            lambda seg: self._alternatives(model, seg, prepared),
            batch_size=self.pool.settings.decode_batch_size,
            workers=parallel_decodes(model),
        )
        for seg, alternatives in pieces:
            heard += 1
            last = None
            if not alternatives or not alternatives[0].transcript.strip():
                continue
            last = self._result(alternatives, seg.start, params, prepared.version.language)
            if params.split_transcript_at_phrase_end or params.end_of_phrase_silence_time:
                last["end_of_utterance"] = "silence"
            results.append(last)
        if last is not None and "end_of_utterance" in last:
            last["end_of_utterance"] = "end_of_data"
        out: dict[str, Any] = {"result_index": 0, "results": results}
        warnings = list(prepared.warnings)
        if params.grammar_name and heard and not results:
            warnings.append(f"No phrase of grammar '{params.grammar_name}' matched the audio well enough.")
        if warnings:
            out["warnings"] = warnings
        return out

    def _utterances(self, audio: AudioParts, params: RecognizeParams) -> Iterator[Segment]:
        """The utterances of the audio as it is decoded, after the inactivity check: no speech within
        `inactivity_timeout` seconds of the start fails the request before anything is transcribed."""
        loud = None
        if 0 < params.background_audio_suppression < 1:  # measured over the whole audio: a first pass
            loud = loudest_speech(decoded_chunks(audio), params.speech_detector_sensitivity)
        splitter = UtteranceSplitter(**self._split_options(params), loud_level=loud)
        timeout = params.inactivity_timeout
        first = True
        for chunk in itertools.chain(decoded_chunks(audio), [None]):
            segments = splitter.push(chunk) if chunk is not None else splitter.finish()
            if first and 0 <= timeout <= (segments[0].start if segments else splitter.open_from):
                raise _no_speech(timeout)
            first = first and not segments
            yield from segments
        if first and 0 <= timeout <= splitter.seconds:
            raise _no_speech(timeout)

    @classmethod
    def _alternatives(cls, model: LoadedModel, segment: Segment, prepared: Prepared) -> list[Alternative]:
        alternatives = model.transcribe(segment.samples, prepared.options, speech=segment.speech)
        return cls._selected(model, segment.samples, prepared, alternatives)

    @staticmethod
    def _selected(
        model: LoadedModel, samples: np.ndarray, prepared: Prepared, alternatives: list[Alternative]
    ) -> list[Alternative]:
        """An engine's alternatives for `samples`, kept to the request's grammar if it has one."""
        if prepared.grammar is None:
            return alternatives
        scorer = None
        if prepared.capabilities.sentence_scoring:
            scorer = functools.partial(cast(SentenceScorer, model).score, samples, prompt=prepared.options.prompt)
        return grammar_select.select(alternatives, prepared.grammar, prepared.wanted, scorer)

    @staticmethod
    def _decode_parts(audio: list[tuple[bytes, str | None]]) -> np.ndarray:
        """Decode the parts in turn; together they may not exceed the single-part duration limit."""
        return decode_parts(audio)

    @staticmethod
    def _split_options(params: RecognizeParams) -> dict[str, float]:
        return {
            "end_of_phrase_silence": params.end_of_phrase_silence_time or 0.8,
            "sensitivity": params.speech_detector_sensitivity,
            "background_suppression": params.background_audio_suppression,
        }

    @classmethod
    def _segments(cls, samples: np.ndarray, params: RecognizeParams) -> list[Segment]:
        return split_utterances(samples, **cls._split_options(params))

    def inactivity_so_far(self, audio: bytes, content_type: str | None, params: RecognizeParams) -> BadRequest | None:
        """For audio still arriving (the WebSocket): the inactivity error once the audio since the last
        speech (all of it, when there was none) reaches `inactivity_timeout`, else None. Audio cut
        mid-frame may not decode yet; that is not an error here (the final results will tell)."""
        timeout = params.inactivity_timeout
        try:
            samples = self._decode_parts([(audio, content_type)])
        except ParlanceError:
            return None
        segments = self._segments(samples, params)
        heard = segments[-1].end - PAD_SECONDS if segments else 0.0
        return _no_speech(timeout) if 0 <= timeout <= len(samples) / SAMPLE_RATE - heard else None

    def submit_inactivity_check(
        self, prepared: Prepared, audio: bytes, content_type: str | None
    ) -> Future[BadRequest | None]:
        """`inactivity_so_far` on an engine worker (it decodes all the audio so far); 503 when all are busy."""
        return self.pool.call(
            self.inactivity_so_far, "inactivity_so_far", audio, content_type, prepared.params, wait=False
        )

    @staticmethod
    def _result(
        alternatives: list[Alternative], offset: float, params: RecognizeParams, language: str = "en-US"
    ) -> dict[str, Any]:
        def text(t: str) -> str:
            shown = format_transcript(t, params.smart_formatting, params.profanity_filter, params.redaction, language)
            return shown + " "

        best = alternatives[0]
        words = [(w.text, round(w.start + offset, 2), round(w.end + offset, 2), w.confidence) for w in best.words]
        first: dict[str, Any] = {"transcript": text(best.transcript), "confidence": round(best.confidence, 3)}
        shown = format_words(words, params.smart_formatting, params.profanity_filter, params.redaction, language)
        if params.timestamps:
            first["timestamps"] = [[w, s, e] for w, s, e, _ in shown]
        if params.word_confidence:
            first["word_confidence"] = [[w, round(c, 3)] for w, _, _, c in shown]
        result: dict[str, Any] = {
            "final": True,
            "alternatives": [first] + [{"transcript": text(a.transcript)} for a in alternatives[1:]],
        }
        if params.keywords:
            result["keywords_result"] = spot_keywords(params.keywords, params.keywords_threshold or 0.0, words)
        if params.word_alternatives_threshold is not None and any(w.alternatives for w in best.words):
            result["word_alternatives"] = word_alternatives(
                best.words, offset, params.word_alternatives_threshold, params.profanity_filter
            )
        return result


def _low_latency_warnings(params: RecognizeParams, capabilities: Capabilities) -> list[str]:
    """As Watson: previous-generation models do not know the option; others without it refuse it."""
    if "low_latency" not in params.model_fields_set or capabilities.low_latency:
        return []
    if capabilities.generation == "previous":
        return ["Unknown arguments: low_latency."]
    raise BadRequest(f"low_latency is not a supported feature for model {params.model}")


def _no_speech(timeout: int) -> BadRequest:
    return BadRequest(f"No speech detected for {timeout}s.")  # Watson's words; the SDK matches them
