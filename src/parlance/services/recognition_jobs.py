"""Asynchronous recognition (`/v1/recognitions`): jobs that run the same pipeline as `/v1/recognize`.

A job is checked when it is created (parameters, model, custom model, callback), so a bad request is
refused at once and nothing is stored. Its audio waits in `data_dir/recognitions/{id}` until the job
has run; the results stay `results_ttl` minutes after completion (Watson: one week by default), then
the job is forgotten. Jobs run on the durable job runner, so a restart resumes a waiting job.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from parlance.errors import BadRequest, NotFound
from parlance.jobs.runner import JobKind, JobRunner, Progress
from parlance.services.callbacks import Callbacks
from parlance.services.custom_models import iso
from parlance.services.recognition import RecognitionService
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Job, RecognitionJob, utcnow

STARTED, COMPLETED, WITH_RESULTS, FAILED = (
    "recognitions.started",
    "recognitions.completed",
    "recognitions.completed_with_results",
    "recognitions.failed",
)
DEFAULT_EVENTS = [STARTED, COMPLETED, FAILED]  # Watson's default when a callback is given
DEFAULT_TTL = 7 * 24 * 60  # minutes
LISTED = 100  # GET /v1/recognitions shows the latest 100 jobs
KIND = "recognition"


class RecognitionJobs:
    def __init__(
        self, settings: Settings, db: Database, runner: JobRunner, recognition: RecognitionService, callbacks: Callbacks
    ) -> None:
        self.root = settings.data_dir / "recognitions"
        self.db = db
        self.runner = runner
        self.recognition = recognition
        self.callbacks = callbacks
        runner.register(KIND, JobKind(run=self._run, on_failure=self._failed))

    # -- requests ----------------------------------------------------------------------------------
    def create(
        self, owner: str, parts: list[tuple[bytes, str | None]], raw: Mapping[str, Any], base_url: str
    ) -> dict[str, Any]:
        params = dict(raw)
        callback_url = params.pop("callback_url", None) or None
        events = _events(params.pop("events", None))
        user_token = params.pop("user_token", None)
        ttl = _ttl(params.pop("results_ttl", None))
        recognition_warnings = list(self.recognition.prepare(owner, params).warnings)  # refused now if wrong
        if callback_url is not None:
            self.callbacks.secret_of(owner, callback_url)  # must be registered
        if user_token is not None and len(user_token) > 256:
            raise BadRequest("The user_token must be at most 256 characters")
        warnings = [
            f"unexpected query parameter '{name}', query parameter 'callback_url' was not specified"
            for name, value in (("events", events), ("user_token", user_token))
            if value is not None and callback_url is None
        ]
        row = RecognitionJob(
            owner=owner,
            params=params,
            parts=[ctype for _, ctype in parts],
            callback_url=callback_url,
            events=(events or DEFAULT_EVENTS) if callback_url else [],
            user_token=user_token,
            results_ttl=ttl,
            warnings=warnings,
        )
        with self.db.session() as s:
            s.add(row)
            s.flush()
            job_dir = self.root / row.id
            try:
                job_dir.mkdir(parents=True, exist_ok=True)
                for i, (data, _) in enumerate(parts):
                    (job_dir / f"part-{i}").write_bytes(data)
            except OSError:  # the row is rolled back; leave no audio behind either
                shutil.rmtree(job_dir, ignore_errors=True)
                raise
        self.runner.enqueue(KIND, row.id)
        body: dict[str, Any] = {
            "id": row.id,
            "created": iso(row.created),
            "url": f"{base_url}/v1/recognitions/{row.id}",
            "status": "waiting",
        }
        if recognition_warnings + warnings:
            body["warnings"] = recognition_warnings + warnings
        return body

    def get(self, owner: str, job_id: str) -> dict[str, Any]:
        self._forget_expired()
        row = self._row(owner, job_id)
        body: dict[str, Any] = {
            "id": row.id,
            "created": iso(row.created),
            "updated": iso(row.updated),
            "status": row.status,
        }
        if row.results is not None:
            body["results"] = row.results
        if row.warnings:
            body["warnings"] = row.warnings
        return body

    def list(self, owner: str) -> dict[str, Any]:
        self._forget_expired()
        with self.db.session() as s:
            rows = s.scalars(
                select(RecognitionJob)
                .where(RecognitionJob.owner == owner)
                .order_by(RecognitionJob.created.desc())
                .limit(LISTED)
            ).all()
        out = []
        for row in rows:
            item = {"id": row.id, "created": iso(row.created), "updated": iso(row.updated), "status": row.status}
            if row.user_token is not None:
                item["user_token"] = row.user_token
            out.append(item)
        return {"recognitions": out}

    def delete(self, owner: str, job_id: str) -> None:
        with self.db.session() as s:
            row = s.scalar(select(RecognitionJob).where(RecognitionJob.id == job_id, RecognitionJob.owner == owner))
            if row is None:
                raise NotFound(f"The job ID '{job_id}' is invalid")
            if row.status == "processing":
                raise BadRequest(f"The job '{job_id}' is being processed and cannot be deleted; try again later")
            s.delete(row)
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    # -- the background job -------------------------------------------------------------------------
    def _run(self, job: Job, progress: Progress) -> None:
        with self.db.session() as s:
            row = s.get(RecognitionJob, job.target_id)
            if row is None:  # deleted while waiting
                return
            row.status = "processing"
        self._notify(row, STARTED)
        job_dir = self.root / row.id
        parts = [((job_dir / f"part-{i}").read_bytes(), ctype) for i, ctype in enumerate(row.parts)]
        prepared = self.recognition.prepare(row.owner, row.params)
        result = self.recognition.submit(prepared, parts, wait=True).result()
        with self.db.session() as s:
            done = s.get(RecognitionJob, row.id)
            if done is None:
                return
            done.status, done.results = "completed", [result]  # recognition warnings stay in the result
        shutil.rmtree(job_dir, ignore_errors=True)
        if WITH_RESULTS in row.events:
            self._notify(row, WITH_RESULTS, results=[result])
        self._notify(row, COMPLETED)

    def _failed(self, job: Job, message: str) -> None:
        with self.db.session() as s:
            row = s.get(RecognitionJob, job.target_id)
            if row is None:
                return
            row.status, row.warnings = "failed", [*row.warnings, message]
        shutil.rmtree(self.root / row.id, ignore_errors=True)
        self._notify(row, FAILED)

    def _notify(self, row: RecognitionJob, event: str, **extra: Any) -> None:
        if row.callback_url and event in row.events:
            body = {"id": row.id, "event": event, "user_token": row.user_token or "", **extra}
            self.callbacks.notify(row.owner, row.callback_url, body)

    # -- helpers ------------------------------------------------------------------------------------
    def _row(self, owner: str, job_id: str) -> RecognitionJob:
        with self.db.session() as s:
            row = s.scalar(select(RecognitionJob).where(RecognitionJob.id == job_id, RecognitionJob.owner == owner))
        if row is None:
            raise NotFound(f"The job ID '{job_id}' is invalid")
        return row

    def _forget_expired(self) -> None:
        now = utcnow()
        with self.db.session() as s:
            ended = s.scalars(select(RecognitionJob).where(RecognitionJob.status.in_(["completed", "failed"])))
            expired = [r.id for r in ended if _aware(r.updated) + timedelta(minutes=r.results_ttl) < now]
            if expired:
                s.execute(delete(RecognitionJob).where(RecognitionJob.id.in_(expired)))
        for job_id in expired:
            shutil.rmtree(self.root / job_id, ignore_errors=True)


def _aware(ts: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _events(raw: Any) -> list[str] | None:
    if raw is None or raw == "":
        return None
    events = [e.strip() for e in (raw.split(",") if isinstance(raw, str) else raw) if e.strip()]
    unknown = [e for e in events if e not in (STARTED, COMPLETED, WITH_RESULTS, FAILED)]
    if unknown:
        raise BadRequest(f"Unknown events: {', '.join(unknown)}")
    if COMPLETED in events and WITH_RESULTS in events:
        raise BadRequest(f"The events {COMPLETED} and {WITH_RESULTS} cannot be combined")
    return events


def _ttl(raw: Any) -> int:
    if raw is None or raw == "":
        return DEFAULT_TTL
    try:
        ttl = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid value for parameter 'results_ttl': {raw!r} is not an integer") from None
    if ttl < 1:
        raise BadRequest("The results_ttl must be at least 1 minute")
    return ttl
