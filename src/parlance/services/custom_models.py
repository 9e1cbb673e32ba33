"""Custom language models: creation rules, ownership, the status lifecycle, training and reset."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from parlance.engines.base import ModelVersion
from parlance.errors import BadRequest, Conflict, NotFound
from parlance.jobs.runner import JobRunner
from parlance.services.catalog import Catalog
from parlance.services.lifecycle import Lifecycle, watson_dates
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Corpus, CustomModel, CustomWord, utcnow

MAX_MODELS_PER_OWNER = 1024
NAME_FORBIDDEN = re.compile(r"[\\/:=&?]")
BUSY = ("training", "upgrading")
DEFAULT_WEIGHT = {"previous": 0.3, "next": 0.2}


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def stored_error(message: str, status: int = 400) -> str:
    """Errors kept inside resources are stringified Watson error bodies, as Watson stores them."""
    return json.dumps({"code": status, "code_description": HTTPStatus(status).phrase, "error": message})


def create_body(catalog: Catalog, body: dict[str, Any]) -> tuple[str, str, str, ModelVersion]:
    """Name, description, base model and its newest version from a create request, by Watson's rules
    (language and acoustic models alike)."""
    name, base = body.get("name"), body.get("base_model_name")
    description = body.get("description") or ""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Required parameter 'name' is missing")
    if not isinstance(base, str) or not base:
        raise BadRequest("Required parameter 'base_model_name' is missing")
    if len(name) > 256 or NAME_FORBIDDEN.search(name):
        raise BadRequest("The name must be at most 256 characters and must not contain \\ / : = & ?")
    if not isinstance(description, str) or len(description) > 128:
        raise BadRequest("The description must be a string of at most 128 characters")
    try:
        newest = catalog.newest(base)
    except NotFound:
        raise BadRequest(f"The base model '{base}' is not supported") from None
    return name, description, base, newest


class CustomModels:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        catalog: Catalog,
        jobs: JobRunner,
        generation: Callable[[str], str],
        lifecycle: Lifecycle,
    ) -> None:
        self.settings = settings
        self.db = db
        self.catalog = catalog
        self.jobs = jobs
        self.generation = generation  # callable: base model name -> "previous" | "next"
        self.lifecycle = lifecycle

    # -- lookup -----------------------------------------------------------------------------
    @staticmethod
    def get_row(s: Session, owner: str, cid: str, *, lock: bool = False, kind: str = "language") -> CustomModel:
        q = select(CustomModel).where(CustomModel.id == cid, CustomModel.owner == owner, CustomModel.kind == kind)
        row = s.scalar(q.with_for_update() if lock else q)
        if row is None:  # another instance's model is indistinguishable from a missing one
            raise NotFound(f"Customization ID {cid} not found")
        return row

    def artifacts(self, cid: str) -> Path:
        return self.settings.artifacts_dir / cid

    # -- create / read / delete -------------------------------------------------------------
    def create(self, owner: str, body: dict[str, Any]) -> str:
        name, description, base, newest = create_body(self.catalog, body)
        dialect = body.get("dialect") or newest.language
        if not isinstance(dialect, str) or dialect.lower() != newest.language.lower():
            raise BadRequest(f"The dialect '{dialect}' is not valid for base model {base} ({newest.language})")
        with self.db.session() as s:
            count = s.scalar(select(func.count()).where(CustomModel.owner == owner, CustomModel.kind == "language"))
            if (count or 0) >= MAX_MODELS_PER_OWNER:
                raise BadRequest(f"The limit of {MAX_MODELS_PER_OWNER} custom language models has been reached")
            taken = s.scalar(select(CustomModel.id).where(CustomModel.owner == owner, CustomModel.name == name))
            if taken:
                raise Conflict(f"A custom language model named '{name}' already exists")
            row = CustomModel(
                owner=owner,
                name=name,
                description=description,
                base_model_name=base,
                language=newest.language,
                dialect=newest.language,
                versions=[newest.version],
            )
            s.add(row)
            s.flush()
            return row.id

    def describe(self, row: CustomModel) -> dict[str, Any]:
        out: dict[str, Any] = {
            "customization_id": row.id,
            "created": iso(row.created),
            "updated": iso(row.updated),
            "language": row.language,
            "dialect": row.dialect,
            "versions": list(row.versions),
            "owner": row.owner,
            "name": row.name,
            "description": row.description,
            "base_model_name": row.base_model_name,
            "status": row.status,
            "progress": row.progress,
        }
        if row.error:
            out["error"] = row.error
        if row.warnings:
            out["warnings"] = row.warnings
        dates = watson_dates(self.lifecycle.custom_dates(row.created))
        if dates:  # Parlance's addition: until when the model can transcribe
            out["deprecation_dates"] = dates
        return out

    def get(self, owner: str, cid: str) -> dict[str, Any]:
        with self.db.session() as s:
            return self.describe(self.get_row(s, owner, cid))

    def list(self, owner: str, language: str | None) -> dict[str, Any]:
        with self.db.session() as s:
            q = select(CustomModel).where(CustomModel.owner == owner, CustomModel.kind == "language")
            if language:
                q = q.where(CustomModel.language == language)
            return {"customizations": [self.describe(r) for r in s.scalars(q.order_by(CustomModel.created))]}

    def delete(self, owner: str, cid: str) -> None:
        with self.db.session() as s:
            row = self.get_row(s, owner, cid, lock=True)
            self.ensure_idle(s, row, "deleted")
            s.delete(row)
        shutil.rmtree(self.artifacts(cid), ignore_errors=True)

    # -- status -----------------------------------------------------------------------------
    @staticmethod
    def pending_work(s: Session, cid: str) -> bool:
        """A corpus or grammar still being analyzed. (Word batches are stored synchronously; their job
        only moves the status on, so it does not count: a client that saw `ready` may train at once.)"""
        return s.scalar(select(Corpus.id).where(Corpus.model_id == cid, Corpus.status == "being_processed")) is not None

    def ensure_idle(self, s: Session, row: CustomModel, action: str) -> None:
        if row.status in BUSY:
            raise Conflict(f"The custom model is {row.status} and cannot be {action} now; try again later")

    @staticmethod
    def has_data(s: Session, cid: str) -> bool:
        corpus = s.scalar(select(Corpus.id).where(Corpus.model_id == cid, Corpus.status == "analyzed"))
        word = s.scalar(select(CustomWord.id).where(CustomWord.model_id == cid, CustomWord.user.is_(True)))
        return bool(corpus or word)

    def refresh_status(self, s: Session, row: CustomModel) -> None:
        """Derive pending/ready/available after a data change (busy states are left alone)."""
        if row.status in BUSY:
            return
        if self.pending_work(s, row.id) or not self.has_data(s, row.id):
            row.status = "pending"
        elif row.trained_revision == row.data_revision and row.status != "failed":
            row.status = "available"
        else:
            row.status = "ready"
        row.updated = utcnow()

    def data_changed(self, s: Session, row: CustomModel) -> None:
        row.data_revision += 1
        if row.status == "failed":
            row.status = "ready"
        self.refresh_status(s, row)

    # -- train / reset ----------------------------------------------------------------------
    def train(self, owner: str, cid: str, params: dict[str, Any]) -> dict[str, Any]:
        weight = params.get("customization_weight")
        word_type = params.get("word_type_to_add") or "all"
        strict = params.get("strict", True)
        if word_type not in ("all", "user"):
            raise BadRequest("word_type_to_add must be 'all' or 'user'")
        if weight is not None and not 0 <= weight <= 1:
            raise BadRequest("customization_weight must be between 0.0 and 1.0")
        with self.db.session() as s:
            row = self.get_row(s, owner, cid, lock=True)
            self.lifecycle.check_adaptation(self.catalog.newest(row.base_model_name))
            self.ensure_idle(s, row, "trained")
            if self.pending_work(s, cid):
                raise Conflict("Data is still being processed for this custom model; train after it is analyzed")
            if not self.has_data(s, cid):
                raise BadRequest("The custom model has no valid data to train on; add corpora or words first")
            if row.trained_revision == row.data_revision and row.status == "available" and not params.get("force"):
                raise BadRequest("No input data modified since last training")
            warnings = self._invalid_resources(s, cid)
            refusal = warnings[0]["message"] if warnings and strict else None
            if refusal:  # Watson marks the model failed and answers 400
                row.status, row.error = "failed", stored_error(refusal)
        if refusal:
            raise BadRequest(refusal + " Set strict=false to train without them.")
        with self.db.session() as s:
            row = self.get_row(s, owner, cid)
            # Check-and-set in one statement: of concurrent train requests exactly one claims the model.
            unchanged = (CustomModel.trained_revision == CustomModel.data_revision) & (
                CustomModel.status == "available"
            )
            claimed = s.execute(
                update(CustomModel)
                .where(CustomModel.id == cid, CustomModel.status.not_in(BUSY), ~unchanged | bool(params.get("force")))
                .values(status="training", progress=0, error=None, updated=utcnow())
            ).rowcount
            if not claimed:
                raise Conflict("The custom model is busy; try again later")
            if weight is not None:
                row.customization_weight = float(weight)
            payload = {"word_type_to_add": word_type, "revision": row.data_revision, "previous": row.status}
        self.jobs.enqueue("train_language_model", cid, payload)
        return {"warnings": warnings} if warnings else {}

    @staticmethod
    def _invalid_resources(s: Session, cid: str) -> list[dict[str, str]]:
        out = []
        undetermined = s.execute(
            select(Corpus.kind, Corpus.name).where(Corpus.model_id == cid, Corpus.status == "undetermined")
        ).all()
        bad_corpora = [name for kind, name in undetermined if kind == "corpus"]
        bad_grammars = [name for kind, name in undetermined if kind == "grammar"]
        # JSON columns store None as JSON null, so test for errors in Python, not with IS NULL.
        bad_words = [w.word for w in s.scalars(select(CustomWord).where(CustomWord.model_id == cid)) if w.error]
        for code, kind, names in (
            ("invalid_corpus_files", "corpus files", bad_corpora),
            ("invalid_grammar_files", "grammar files", bad_grammars),
            ("invalid_words", "words", bad_words),
        ):
            if names:
                message = (
                    f"Analysis of the following {kind} has not completed successfully: "
                    f"[{', '.join(names)}]. They will be excluded from custom language model training."
                )
                out.append({"code": code, "message": message})
        return out

    def reset(self, owner: str, cid: str) -> None:
        with self.db.session() as s:
            row = self.get_row(s, owner, cid, lock=True)
            self.ensure_idle(s, row, "reset")
            if self.pending_work(s, cid):
                raise Conflict("Data is still being processed for this custom model; reset after it finishes")
            for c in list(row.corpora):
                s.delete(c)
            for w in list(row.words):
                s.delete(w)
            row.status, row.progress, row.error, row.warnings = "pending", 0, None, None
            row.trained_revision, row.data_revision = -1, row.data_revision + 1
        shutil.rmtree(self.artifacts(cid), ignore_errors=True)

    # -- upgrade (seed 000) -----------------------------------------------------------------
    def upgrade(self, owner: str, cid: str) -> None:
        """Start building the model for the newest base-model version; the old one stays usable."""
        with self.db.session() as s:
            row = self.get_row(s, owner, cid, lock=True)
            if row.status in BUSY or self.pending_work(s, cid):
                raise Conflict(f"The custom model is busy ({row.status}); it cannot be upgraded now")
            if row.status not in ("ready", "available"):
                raise BadRequest(f"Only a ready or available custom model can be upgraded; this one is {row.status}")
            if not self.has_data(s, cid):
                raise BadRequest("The custom model has no data; there is nothing to upgrade")
            newest = self.catalog.newest(row.base_model_name)
            self.lifecycle.check_adaptation(newest, "used to upgrade custom models")
            if newest.version in row.versions:
                raise BadRequest(
                    f"The custom model is up-to-date: it is already built for {newest.version}, "
                    f"the newest version of {row.base_model_name}"
                )
            previous = row.status
            claimed = s.execute(
                update(CustomModel)
                .where(CustomModel.id == cid, CustomModel.status == previous)
                .values(status="upgrading", progress=0, error=None, updated=utcnow())
            ).rowcount
            if not claimed:
                raise Conflict("The custom model is busy; it cannot be upgraded now")
            payload = {"previous": previous, "target": newest.version, "revision": row.trained_revision}
        self.jobs.enqueue("upgrade_language_model", cid, payload)
