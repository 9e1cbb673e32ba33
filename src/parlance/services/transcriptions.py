"""Batch transcriptions (Azure's `/transcriptions`): many audio files in one background job, Azure's result files.

A transcription is checked when it is created (content sources, a model that is trained and has not expired
by the lifecycle), so a bad request stores nothing. Its job decodes the inputs one at a time through the
recognition pipeline of `/v1/recognize` and writes each input's result as it finishes (temp file, then
`os.replace`: a file is whole or absent). After a restart the job skips the inputs already done; the job runner
gives up after a second interrupted run and the transcription ends Failed with the reason. An input that cannot
be read or decoded fails alone and is recorded in the report; a transcription whose every input failed is
Failed (Azure's rule). Results are kept `timeToLive` after completion (success or failure), then a sweep,
run before reads, deletes the transcription and its files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from parlance.audio.decode import decoded_chunks
from parlance.engines.base import SAMPLE_RATE, ModelVersion
from parlance.errors import BadRequest, ModelExpired, NotFound, ParlanceError
from parlance.jobs.runner import JobKind, JobRunner, Progress
from parlance.services import azure_results, content
from parlance.services.azure_models import AzureModels
from parlance.services.azure_results import ProfanityMode
from parlance.services.catalog import Catalog
from parlance.services.endpoints import ModelRef
from parlance.services.lifecycle import Lifecycle, iso_date
from parlance.services.owned import get_owned, list_owned
from parlance.services.recognition import RecognitionService
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import CustomModel, Job, Transcription, utcnow

log = logging.getLogger(__name__)

KIND = "azure_transcription"
MAX_URLS = 1000  # Azure: up to 1000 contentUrls
MAX_CONTAINER_FILES = 10000  # Azure: up to 10000 blobs in a container
MAX_NAME = 256
MAX_TTL = timedelta(days=31)
CHANNELS = (0, 1)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".webm", ".au")
REPORT = "report.json"
FAILURES = "failures"  # one record per failed input, so a resumed job does not retry it
TERMINAL = ("Succeeded", "Failed")


class TranscriptionRefused(BadRequest):
    """A refused request, with Azure's DetailedErrorCode (`innerError.code`)."""

    def __init__(self, message: str, detail_code: str) -> None:
        super().__init__(message)
        self.detail_code = detail_code


@dataclass(frozen=True)
class TranscriptionSpec:
    """A create request, already parsed (the API's body, or the CLI's options)."""

    display_name: str
    locale: str
    model: ModelRef | None = None  # None: the newest base model of the locale
    content_urls: list[str] | None = None
    container_url: str | None = None
    description: str = ""
    custom_properties: dict[str, str] = field(default_factory=dict)
    word_timestamps: bool = False
    display_word_timestamps: bool = False  # accepted; display-form words are not produced (see properties)
    profanity: ProfanityMode = "Masked"
    punctuation: str = "DictatedAndAutomatic"
    channels: tuple[int, ...] = CHANNELS
    time_to_live: timedelta | None = None  # None or zero: kept until deleted


@dataclass(frozen=True)
class ResultFile:
    id: str
    name: str
    kind: str  # Transcription | TranscriptionReport
    size: int
    created: datetime
    path: Path


class Transcriptions:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        catalog: Catalog,
        lifecycle: Lifecycle,
        azure_models: AzureModels,
        recognition: RecognitionService,
        jobs: JobRunner,
    ) -> None:
        self.settings = settings
        self.root = settings.data_dir / "transcriptions"
        self.db = db
        self.catalog = catalog
        self.lifecycle = lifecycle
        self.azure_models = azure_models
        self.recognition = recognition
        self.jobs = jobs

    def register(self, jobs: JobRunner) -> None:
        jobs.register(KIND, JobKind(self._run, self._failed))

    # -- create ------------------------------------------------------------------------------------
    def create(self, owner: str, spec: TranscriptionSpec) -> Transcription:
        if not spec.display_name.strip() or len(spec.display_name) > MAX_NAME:
            raise TranscriptionRefused(
                f"displayName is required: a non-empty string of at most {MAX_NAME} characters",
                "InvalidParameterValue",
            )
        inputs = self._inputs(spec)
        model = self._usable_model(owner, spec.locale, spec.model)
        row = Transcription(
            owner=owner,
            display_name=spec.display_name,
            description=spec.description,
            locale=self._locale_of(owner, model),
            model_kind=model.kind,
            model_id=model.id,
            content={"inputs": inputs, "container": spec.container_url},
            properties=_properties(spec),
            custom_properties=dict(spec.custom_properties),
            ttl_seconds=_ttl_seconds(spec.time_to_live),
        )
        with self.db.session() as s:
            s.add(row)
            s.flush()
            s.expunge(row)
        self.jobs.enqueue(KIND, row.id)
        return row

    def _inputs(self, spec: TranscriptionSpec) -> list[dict[str, str]]:
        """`[{url, source}]`: the content URLs, or the audio files of a container folder, listed now."""
        urls, container = spec.content_urls or [], spec.container_url
        if bool(urls) == bool(container):
            raise TranscriptionRefused(
                "Give exactly one source of audio: contentUrls (a list of URLs) or contentContainerUrl.",
                "OnlyOneOfUrlsOrContainerOrDataset",
            )
        if container:
            return self._container_inputs(container)
        if len(urls) > MAX_URLS:
            raise TranscriptionRefused(
                f"At most {MAX_URLS} contentUrls are allowed; {len(urls)} were given.", "ExceededNumberOfRecordingsUris"
            )
        for url in urls:
            self._check_url(url)
        return [{"url": url, "source": url} for url in urls]

    def _check_url(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme == "file":
            try:
                content.local_path(url, self.settings)
            except BadRequest as exc:
                raise TranscriptionRefused(exc.message, "InvalidRecordingsUri") from None
        elif parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise TranscriptionRefused(f"The URL {url} is not an http(s) or file URL.", "InvalidRecordingsUri")

    def _container_inputs(self, container: str) -> list[dict[str, str]]:
        if urlparse(container).scheme != "file":
            raise TranscriptionRefused(
                "contentContainerUrl must be a file:// folder under this server's content root; "
                "list http(s) files in contentUrls instead.",
                "InvalidRecordingsUri",
            )
        try:
            folder = content.local_path(container, self.settings)
        except BadRequest as exc:
            raise TranscriptionRefused(exc.message, "InvalidRecordingsUri") from None
        if not folder.is_dir():
            raise TranscriptionRefused(f"The container {container} is not a folder.", "InvalidRecordingsUri")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise TranscriptionRefused(f"The container {container} holds no audio files.", "InvalidRecordingsUri")
        if len(files) > MAX_CONTAINER_FILES:
            raise TranscriptionRefused(
                f"The container holds {len(files)} audio files; at most {MAX_CONTAINER_FILES} are allowed.",
                "ExceededNumberOfRecordingsUris",
            )
        return [{"url": p.as_uri(), "source": p.relative_to(folder).as_posix()} for p in files]

    # -- the model: trained, of the locale, not expired --------------------------------------------
    def _usable_model(self, owner: str, locale: str, ref: ModelRef | None) -> ModelRef:
        if ref is None:
            version = self.catalog.newest(self.azure_models.default_base(locale))
            self._check_base_date(version)
            return ModelRef("base", version.version)
        if ref.kind == "base":
            try:
                version = self.catalog.version(ref.id)
            except NotFound:
                raise TranscriptionRefused(
                    f"The value of model.self does not reference an entity: no base model {ref.id}.", "InvalidModel"
                ) from None
            _check_locale(version.language, locale)
            self._check_base_date(version)
            return ref
        row = self._custom_model(owner, ref.id)
        _check_locale(row.language, locale)
        if row.status != "available":
            raise TranscriptionRefused(
                f"The custom model {row.id} is not trained (status {row.status}); wait until it has succeeded.",
                "InvalidModel",
            )
        date = self.lifecycle.custom_dates(row.created).transcription
        if self.lifecycle.passed(date):
            raise ModelExpired(
                f"The custom model {row.id} could transcribe until {iso_date(date)} and has expired. Train a new "
                f"custom model (POST /models) and use it, or leave out `model` to use the newest base model of "
                f"{row.language} ({self._newest_hint(row.language)})."
            )
        return ref

    def _check_base_date(self, version: ModelVersion) -> None:
        date = self.lifecycle.base_dates(version).transcription
        if self.lifecycle.passed(date):
            raise ModelExpired(
                f"The base model {version.version} could transcribe until {iso_date(date)} and has expired. Use a "
                f"base model that has not expired, or leave out `model` to use the newest base model of "
                f"{version.language} ({self._newest_hint(version.language)})."
            )

    def _newest_hint(self, locale: str) -> str:
        try:
            newest = self.catalog.newest(self.azure_models.default_base(locale))
        except BadRequest:
            return "none is installed"
        if self.lifecycle.passed(self.lifecycle.base_dates(newest).transcription):
            return f"{newest.version} has expired too: the operator must install a newer version"
        return newest.version

    def _custom_model(self, owner: str, model_id: str) -> CustomModel:
        with self.db.session() as s:
            row = s.get(CustomModel, model_id)
            if row is None or row.owner != owner or row.kind != "language":
                raise TranscriptionRefused(
                    f"The value of model.self does not reference an entity: no custom model {model_id}.",
                    "InvalidModel",
                )
            s.expunge(row)
            return row

    def _locale_of(self, owner: str, ref: ModelRef) -> str:
        if ref.kind == "base":
            return self.catalog.version(ref.id).language
        return self._custom_model(owner, ref.id).language

    # -- read, update, delete ----------------------------------------------------------------------
    def get(self, owner: str, transcription_id: str) -> Transcription:
        self.sweep()
        with self.db.session() as s:
            row = get_owned(s, Transcription, owner, transcription_id, "Transcription")
            s.expunge(row)
            return row

    def list(self, owner: str, skip: int = 0, top: int = 100) -> tuple[list[Transcription], int]:
        self.sweep()
        with self.db.session() as s:
            return list_owned(s, Transcription, owner, skip, top)

    def owner_of(self, transcription_id: str) -> str:
        """The instance that owns a transcription (the CLI's operator view)."""
        with self.db.session() as s:
            row = s.get(Transcription, transcription_id)
            if row is None:
                raise NotFound(f"Transcription {transcription_id} does not exist")
            return row.owner

    def update(
        self,
        owner: str,
        transcription_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> Transcription:
        if display_name is not None and (not display_name.strip() or len(display_name) > MAX_NAME):
            raise TranscriptionRefused("displayName must be a non-empty string", "InvalidParameterValue")
        self.get(owner, transcription_id)
        with self.db.session() as s:
            row = s.get(Transcription, transcription_id)
            if row is None:
                raise NotFound(f"Transcription {transcription_id} does not exist")
            if display_name is not None:
                row.display_name = display_name
            if description is not None:
                row.description = description
            if custom_properties is not None:
                row.custom_properties = dict(custom_properties)
            s.flush()
            s.expunge(row)
            return row

    def delete(self, owner: str, transcription_id: str) -> None:
        """Deletes the transcription and its files; a job still running for it stops at its next input."""
        self.get(owner, transcription_id)
        self._remove(transcription_id)

    def _remove(self, transcription_id: str) -> None:
        """Files first: if they cannot be removed the row stays, and the next sweep tries again."""
        folder = self.folder(transcription_id)
        if folder.exists():
            shutil.rmtree(folder)
        with self.db.session() as s:
            row = s.get(Transcription, transcription_id)
            if row is not None:
                s.delete(row)

    def sweep(self) -> None:
        """Delete transcriptions whose time to live has passed since completion. Never raises: a row that
        cannot be handled is logged and skipped, so a read never fails because of another transcription."""
        try:
            with self.db.session() as s:
                ended = s.execute(
                    select(Transcription.id, Transcription.ttl_seconds, Transcription.finished).where(
                        Transcription.finished.is_not(None), Transcription.ttl_seconds.is_not(None)
                    )
                ).all()
        except Exception:
            log.exception("transcription sweep: could not list finished transcriptions")
            return
        now = self.lifecycle.now()
        for transcription_id, ttl, finished in ended:
            try:
                if ttl > 0 and _aware(finished) + timedelta(seconds=ttl) <= now:
                    self._remove(transcription_id)
                    log.info("deleted transcription %s: its time to live has passed", transcription_id)
            except Exception:
                log.exception("transcription sweep: could not delete %s; skipped", transcription_id)

    # -- result files ------------------------------------------------------------------------------
    def folder(self, transcription_id: str) -> Path:
        return self.root / transcription_id

    def files(self, owner: str, transcription_id: str) -> list[ResultFile]:
        """One `Transcription` file per input done (`contenturl_{i}.json`) and the report once it ended."""
        row = self.get(owner, transcription_id)
        folder = self.folder(row.id)
        names = [_result_name(i) for i in range(len(row.content["inputs"]))] + [REPORT]
        out = []
        for name in names:
            path = folder / name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            kind = "TranscriptionReport" if name == REPORT else "Transcription"
            created = datetime.fromtimestamp(stat.st_mtime, UTC)
            out.append(ResultFile(_file_id(row.id, name), name, kind, stat.st_size, created, path))
        return out

    def file(self, owner: str, transcription_id: str, file_id: str) -> ResultFile:
        for item in self.files(owner, transcription_id):
            if item.id == file_id:
                return item
        raise NotFound(f"File {file_id} of transcription {transcription_id} does not exist")

    # -- the background job ------------------------------------------------------------------------
    def _run(self, job: Job, progress: Progress) -> None:
        row = self._row(job.target_id)
        if row is None:  # deleted before it started
            return
        self._set(row.id, status="Running")
        folder = self.folder(row.id)
        (folder / FAILURES).mkdir(parents=True, exist_ok=True)
        params = self._recognition_params(row)
        inputs = row.content["inputs"]
        for i, item in enumerate(inputs):
            if not (folder / _result_name(i)).exists() and not (folder / FAILURES / f"{i}.json").exists():
                self._transcribe_input(row, i, item, params)
            if self._row(row.id) is None:  # deleted while running: leave nothing behind
                shutil.rmtree(folder, ignore_errors=True)
                return
            progress(round(100 * (i + 1) / len(inputs)))
        self._complete(row, None)

    def _transcribe_input(self, row: Transcription, index: int, item: dict[str, str], params: dict[str, str]) -> None:
        folder = self.folder(row.id)
        try:
            audio = content.fetch(item["url"], self.settings, self.settings.max_body_bytes)
            watson = self._recognize(row.owner, audio, params)
            seconds = sum(len(chunk) for chunk in decoded_chunks([(audio, None)])) / SAMPLE_RATE  # not all held
        except ParlanceError as exc:
            failure = {"source": item["source"], "status": "Failed", "errorKind": _error_kind(exc)}
            _write_json(folder / FAILURES / f"{index}.json", {**failure, "errorMessage": exc.message})
            return
        result = azure_results.transcription_file(
            item["source"],
            iso_date(utcnow()) or "",
            seconds,
            watson,
            row.locale,
            row.properties.get("profanityFilterMode", "Masked"),
            bool(row.properties.get("wordLevelTimestampsEnabled")),
        )
        _write_json(folder / _result_name(index), result)

    def _recognize(self, owner: str, audio: bytes, params: dict[str, str]) -> dict[str, Any]:
        """The one call into the recognition pipeline: the same one `/v1/recognize` runs."""
        prepared = self.recognition.prepare(owner, params)
        return self.recognition.submit(prepared, [(audio, None)], wait=True).result()

    def _recognition_params(self, row: Transcription) -> dict[str, str]:
        if row.model_kind == "custom":
            with self.db.session() as s:
                custom = s.get(CustomModel, row.model_id)
                if custom is None:
                    raise BadRequest(f"The custom model {row.model_id} was deleted before the transcription ran")
                params = {"model": custom.base_model_name, "language_customization_id": custom.id}
        else:
            version = self.catalog.version(str(row.model_id))
            params = {"model": version.base_model, "base_model_version": version.version}
        return {**params, **azure_results.WATSON_PARAMS}

    def _failed(self, job: Job, reason: str) -> None:
        row = self._row(job.target_id)
        if row is not None:
            self._complete(row, reason)

    def _complete(self, row: Transcription, reason: str | None) -> None:
        """Writes the report and the final status; `reason`: the job itself failed (inputs not done fail)."""
        folder = self.folder(row.id)
        details = []
        for i, item in enumerate(row.content["inputs"]):
            failure = folder / FAILURES / f"{i}.json"
            if (folder / _result_name(i)).exists():
                details.append({"source": item["source"], "status": "Succeeded"})
            elif failure.exists():
                details.append(json.loads(failure.read_text()))
            else:
                details.append(
                    {"source": item["source"], "status": "Failed", "errorKind": "Unknown", "errorMessage": reason}
                )
        succeeded = sum(d["status"] == "Succeeded" for d in details)
        report = {
            "successfulTranscriptionsCount": succeeded,
            "failedTranscriptionsCount": len(details) - succeeded,
            "details": details,
        }
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / REPORT, report)
        error = None
        if reason is not None:
            error = {"code": "InternalServerError", "message": reason}
        elif not succeeded:
            first = next((d.get("errorMessage") for d in details if d.get("errorMessage")), "")
            error = {"code": "InvalidData", "message": f"No input could be transcribed (see the report). {first}"}
        # the lifecycle's clock, which timeToLive is counted on (tests move it)
        self._set(row.id, status="Failed" if error else "Succeeded", error=error, finished=self.lifecycle.now())

    def _row(self, transcription_id: str) -> Transcription | None:
        with self.db.session() as s:
            row = s.get(Transcription, transcription_id)
            if row is not None:
                s.expunge(row)
            return row

    def _set(self, transcription_id: str, **values: Any) -> None:
        with self.db.session() as s:
            row = s.get(Transcription, transcription_id)
            if row is None:
                return
            for key, value in values.items():
                setattr(row, key, value)


def _properties(spec: TranscriptionSpec) -> dict[str, Any]:
    """The request's properties as stored and shown (Azure echoes them)."""
    channels = list(spec.channels)
    if not channels or len(set(channels)) != len(channels) or any(c not in CHANNELS for c in channels):
        raise TranscriptionRefused("channels must be [0], [1] or [0, 1]", "InvalidChannels")
    properties: dict[str, Any] = {
        "wordLevelTimestampsEnabled": spec.word_timestamps,
        "displayFormWordLevelTimestampsEnabled": spec.display_word_timestamps,
        "channels": channels,  # audio is mixed down to mono: every phrase is on channel 0
        "punctuationMode": spec.punctuation,
        "profanityFilterMode": spec.profanity,
    }
    if spec.time_to_live:
        properties["timeToLive"] = azure_results.iso_duration(spec.time_to_live.total_seconds())
    return properties


def _ttl_seconds(ttl: timedelta | None) -> int | None:
    if ttl is None or not ttl:
        return None
    if ttl < timedelta(0) or ttl > MAX_TTL:
        raise TranscriptionRefused("timeToLive must be between zero (kept) and 31 days", "InvalidTimeToLive")
    return max(1, round(ttl.total_seconds()))


def _check_locale(model_locale: str, locale: str) -> None:
    if model_locale.lower() != locale.lower():
        raise TranscriptionRefused(
            f"The model's locale {model_locale} does not match the transcription's locale {locale}", "InvalidModel"
        )


def _error_kind(exc: ParlanceError) -> str:
    return "InvalidData" if exc.status < 500 else "ServiceError"


def _result_name(index: int) -> str:
    return f"contenturl_{index}.json"


def _file_id(transcription_id: str, name: str) -> str:
    """A stable id per result file (Azure's file ids are GUIDs), so nothing about files is stored."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"transcription:{transcription_id}/{name}"))


def _write_json(path: Path, data: Any) -> None:
    """Whole or absent: a reader or a restart never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _aware(ts: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
