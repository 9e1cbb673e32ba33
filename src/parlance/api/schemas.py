"""Watson's wire shapes as Pydantic models: the `response_model`s of the routes and the request bodies
the OpenAPI document describes (reference: the ibm-watson SDK's models of Speech to Text v1).

Keys Watson leaves out when they do not apply are optional here, and routes render with
`response_model_exclude_unset=True`, so a key the service did not set stays absent rather than
becoming `null`. Response models allow extra keys: the services build the bodies, and a key a service
adds reaches the client instead of being dropped silently by the schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error: `{"error", "code", "code_description"}`."""

    error: str
    code: int
    code_description: str


class Empty(BaseModel):
    """`{}`: what Watson answers to deletes, resets, and adds that finish in the background."""

    model_config = ConfigDict(extra="forbid")


# -- service ---------------------------------------------------------------------------------------
class Health(WireModel):
    status: str
    version: str


class IamToken(WireModel):
    """The IAM token response the IBM SDKs' `IAMAuthenticator` reads."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    expiration: int


# -- models ----------------------------------------------------------------------------------------
class SupportedFeatures(WireModel):
    custom_language_model: bool
    custom_acoustic_model: bool
    speaker_labels: bool
    low_latency: bool | None = None  # next-generation models only


class DeprecationDates(WireModel):
    """Parlance's addition to Watson's model objects: the lifecycle dates the operator's policy gives."""

    adaptation_date_time: str | None = None  # base models only
    transcription_date_time: str | None = None


class SpeechModel(WireModel):
    name: str
    language: str
    rate: int
    url: str
    description: str
    supported_features: SupportedFeatures
    deprecation_dates: DeprecationDates | None = None


class SpeechModels(WireModel):
    models: list[SpeechModel]


# -- spoken-language identification ------------------------------------------------------------------
class LanguageInfo(WireModel):
    language: str  # Watson's locale for a language the service serves ("ja-JP"), else ISO 639-1
    confidence: float
    timestamp: float  # seconds of speech heard when the language was identified


class LanguageDetectionResult(WireModel):
    language_info: list[LanguageInfo]


class LanguageDetectionResults(WireModel):
    results: list[LanguageDetectionResult]
    result_index: int = 0


# -- recognition results ---------------------------------------------------------------------------
class SpeechRecognitionAlternative(WireModel):
    transcript: str
    confidence: float | None = None  # best alternative of a final result only
    timestamps: list[tuple[str, float, float]] | None = None  # [word, start, end]
    word_confidence: list[tuple[str, float]] | None = None  # [word, confidence]


class KeywordResult(WireModel):
    normalized_text: str
    start_time: float
    end_time: float
    confidence: float


class WordAlternativeResult(WireModel):
    confidence: float
    word: str


class WordAlternativeResults(WireModel):
    start_time: float
    end_time: float
    alternatives: list[WordAlternativeResult]


class SpeechRecognitionResult(WireModel):
    final: bool
    alternatives: list[SpeechRecognitionAlternative]
    keywords_result: dict[str, list[KeywordResult]] | None = None
    word_alternatives: list[WordAlternativeResults] | None = None
    end_of_utterance: Literal["end_of_data", "full_stop", "reset", "silence"] | None = None


class SpeechRecognitionResults(WireModel):
    result_index: int | None = None
    results: list[SpeechRecognitionResult] | None = None
    warnings: list[str] | None = None


# -- asynchronous recognition ----------------------------------------------------------------------
JobStatus = Literal["waiting", "processing", "completed", "failed"]


class RecognitionJob(WireModel):
    id: str
    status: JobStatus
    created: str
    updated: str | None = None
    url: str | None = None  # in the create response only
    user_token: str | None = None  # in the list only
    results: list[SpeechRecognitionResults] | None = None
    warnings: list[str] | None = None


class RecognitionJobs(WireModel):
    recognitions: list[RecognitionJob]


class RegisterStatus(WireModel):
    status: Literal["created", "already created"]
    url: str


# -- custom language models ------------------------------------------------------------------------
ModelStatus = Literal["pending", "ready", "training", "available", "upgrading", "failed"]


class LanguageModel(WireModel):
    customization_id: str
    created: str | None = None
    updated: str | None = None
    language: str | None = None
    dialect: str | None = None
    versions: list[str] | None = None
    owner: str | None = None
    name: str | None = None
    description: str | None = None
    base_model_name: str | None = None
    status: ModelStatus | None = None
    progress: int | None = None
    error: str | None = None  # a stringified Watson error body
    warnings: str | None = None
    deprecation_dates: DeprecationDates | None = None


class LanguageModels(WireModel):
    customizations: list[LanguageModel]


class CustomizationId(WireModel):
    customization_id: str


class TrainingWarning(WireModel):
    code: Literal["invalid_audio_files", "invalid_corpus_files", "invalid_grammar_files", "invalid_words"]
    message: str


class TrainingResponse(WireModel):
    warnings: list[TrainingWarning] | None = None


class Corpus(WireModel):
    name: str
    total_words: int
    out_of_vocabulary_words: int
    status: Literal["analyzed", "being_processed", "undetermined"]
    error: str | None = None


class Corpora(WireModel):
    corpora: list[Corpus]


class Grammar(WireModel):
    name: str
    out_of_vocabulary_words: int
    status: Literal["analyzed", "being_processed", "undetermined"]
    error: str | None = None


class Grammars(WireModel):
    grammars: list[Grammar]


class Word(WireModel):
    word: str
    sounds_like: list[str]
    display_as: str
    count: int
    source: list[str]
    mapping_only: list[str] | None = None
    error: list[dict[str, str]] | None = None  # [{"<sounds_like>": "<why it is invalid>"}]


class Words(WireModel):
    words: list[Word]


# -- custom acoustic models ------------------------------------------------------------------------
class AcousticModel(WireModel):
    customization_id: str
    created: str | None = None
    updated: str | None = None
    language: str | None = None
    versions: list[str] | None = None
    owner: str | None = None
    name: str | None = None
    description: str | None = None
    base_model_name: str | None = None
    status: ModelStatus | None = None
    progress: int | None = None
    warnings: str | None = None
    error: str | None = None  # Parlance: why the last training failed (a stringified Watson error body)
    deprecation_dates: DeprecationDates | None = None


class AcousticModels(WireModel):
    customizations: list[AcousticModel]


class AudioDetails(WireModel):
    type: Literal["audio", "archive", "undetermined"] | None = None
    codec: str | None = None
    frequency: int | None = None
    compression: Literal["zip", "gzip"] | None = None


class AudioResource(WireModel):
    duration: int
    name: str
    details: AudioDetails
    status: Literal["ok", "being_processed", "invalid"]


class AudioResources(WireModel):
    total_minutes_of_audio: float
    audio: list[AudioResource]


class AudioListing(WireModel):
    """One audio file: its resource fields; an archive: `container` and its `audio` members."""

    duration: int | None = None
    name: str | None = None
    details: AudioDetails | None = None
    status: Literal["ok", "being_processed", "invalid"] | None = None
    container: AudioResource | None = None
    audio: list[AudioResource] | None = None


class CreateAcousticModel(BaseModel):
    name: str = Field(max_length=256)
    base_model_name: str
    description: str | None = Field(None, max_length=128)


# -- request bodies (documented in the OpenAPI; the routes read the raw body on purpose, to parse it
# -- with a depth limit and give Watson's messages) ------------------------------------------------
class CreateLanguageModel(BaseModel):
    name: str = Field(max_length=256)
    base_model_name: str
    dialect: str | None = None
    description: str | None = Field(None, max_length=128)


class WordDefinition(BaseModel):
    """`PUT /v1/customizations/{cid}/words/{word}`: the word itself is in the path."""

    sounds_like: list[str] | None = Field(None, max_length=5)
    display_as: str | None = None
    mapping_only: list[str] | None = None


class CustomWord(WordDefinition):
    word: str


class CustomWords(BaseModel):
    words: list[CustomWord] = Field(min_length=1)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with nested models inlined: an OpenAPI `requestBody` cannot use the
    `#/$defs/...` references Pydantic emits, since they would resolve against the whole document."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)  # type: ignore[no-any-return]
