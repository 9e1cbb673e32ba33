"""Corpora (and, later, grammars) of custom language models: upload rules and asynchronous analysis."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from parlance.errors import BadRequest, Conflict, NotFound
from parlance.services.custom_models import CustomModels, stored_error
from parlance.store.orm import Corpus, CustomModel

RESERVED = frozenset({"user", "base_lm", "default_lm"})
MAX_NAME = 128
MAX_TOTAL_WORDS = 10_000_000
# Names become part of URLs only; files are stored under the row id, so no name reaches the filesystem.
NAME_OK = re.compile(r"^[^\x00-\x1f/\\?#%]+$")


def validate_name(name: str, kind: str) -> None:
    if not name or len(name) > MAX_NAME:
        raise BadRequest(f"The {kind} name must be 1 to {MAX_NAME} characters long")
    if name.lower() in RESERVED:
        raise BadRequest(f"The {kind} name '{name}' is reserved; 'user', 'base_lm' and 'default_lm' cannot be used")
    if not NAME_OK.match(name) or name in (".", "..") or name.strip() != name:
        raise BadRequest(f"The {kind} name '{name}' contains characters that are not allowed")


def decode_text(data: bytes, kind: str) -> str:
    if not data.strip():
        raise BadRequest(f"The {kind} file is empty")
    if b"\x00" in data:
        raise BadRequest(f"The {kind} file is binary data, not text; send UTF-8 plain text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The {kind} file is not valid UTF-8 text (byte {exc.start})") from None


def corpus_view(c: Corpus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "total_words": c.total_words,
        "out_of_vocabulary_words": c.out_of_vocabulary_words,
        "status": c.status,
    }
    if c.error:
        out["error"] = c.error
    return out


class Corpora:
    def __init__(self, models: CustomModels) -> None:
        self.models = models
        self.db = models.db

    def path(self, cid: str, corpus_id: str) -> Path:
        return self.models.artifacts(cid) / "corpora" / f"{corpus_id}.txt"

    def add(self, owner: str, cid: str, name: str, data: bytes, allow_overwrite: bool) -> None:
        validate_name(name, "corpus")
        text = decode_text(data, "corpus")
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True)
            self.models.ensure_idle(s, row, "changed")
            if s.scalar(select(Corpus.id).where(Corpus.model_id == cid, Corpus.status == "being_processed")):
                raise Conflict("Another corpus or grammar is being processed; add this one after it is analyzed")
            existing = s.scalar(select(Corpus).where(Corpus.model_id == cid, Corpus.name == name))
            if existing is not None and (existing.kind != "corpus" or not allow_overwrite):
                what = "grammar" if existing.kind != "corpus" else "corpus"
                raise Conflict(f"A {what} named '{name}' already exists; set allow_overwrite=true to replace it")
            if existing is not None:
                s.delete(existing)
                s.flush()
            corpus = Corpus(model_id=cid, name=name, kind="corpus", status="being_processed")
            s.add(corpus)
            s.flush()
            target = self.path(cid, corpus.id)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)  # never a half-written corpus on disk
            self.models.data_changed(s, row)
            corpus_id = corpus.id
        self.models.jobs.enqueue("analyze_corpus", cid, {"corpus_id": corpus_id})

    def _get(self, s: Any, owner: str, cid: str, name: str) -> Corpus:
        self.models.get_row(s, owner, cid)
        c = s.scalar(select(Corpus).where(Corpus.model_id == cid, Corpus.name == name, Corpus.kind == "corpus"))
        if c is None:
            raise NotFound(f"Corpus '{name}' not found in custom model {cid}")
        return c

    def get(self, owner: str, cid: str, name: str) -> dict[str, Any]:
        with self.db.session() as s:
            return corpus_view(self._get(s, owner, cid, name))

    def list(self, owner: str, cid: str) -> dict[str, Any]:
        with self.db.session() as s:
            self.models.get_row(s, owner, cid)
            rows = s.scalars(
                select(Corpus).where(Corpus.model_id == cid, Corpus.kind == "corpus").order_by(Corpus.created)
            )
            return {"corpora": [corpus_view(c) for c in rows]}

    def delete(self, owner: str, cid: str, name: str) -> None:
        with self.db.session() as s:
            c = self._get(s, owner, cid, name)
            row = s.get(CustomModel, cid)
            assert row is not None
            self.models.ensure_idle(s, row, "changed")
            if c.status == "being_processed":
                raise Conflict(f"Corpus '{name}' is still being processed; delete it after it is analyzed")
            path = self.path(cid, c.id)
            s.delete(c)
            s.flush()
            self.models.data_changed(s, row)
        path.unlink(missing_ok=True)

    # -- the background analysis -----------------------------------------------------------
    def analyze(self, cid: str, corpus_id: str, analyzer: Any) -> None:
        """Job body: count words and (previous generation) find out-of-vocabulary words."""
        with self.db.session() as s:
            c = s.get(Corpus, corpus_id)
            if c is None:  # deleted meanwhile
                return
            other_words = s.scalar(
                select(func.coalesce(func.sum(Corpus.total_words), 0)).where(
                    Corpus.model_id == cid, Corpus.id != corpus_id
                )
            )
        text = self.path(cid, corpus_id).read_text(encoding="utf-8")
        total, oov = analyzer(text)
        error = None
        if total == 0:
            error = "the file contains no words"
        elif total + (other_words or 0) > MAX_TOTAL_WORDS:
            error = f"the custom model would exceed {MAX_TOTAL_WORDS} words in total"
        with self.db.session() as s:
            c = s.get(Corpus, corpus_id)
            row = s.get(CustomModel, cid)
            if c is None or row is None:
                return
            if error:
                self.fail(s, c, error)
            else:
                c.status, c.total_words, c.out_of_vocabulary_words, c.oov = "analyzed", total, len(oov), oov
            self.models.refresh_status(s, row)

    @staticmethod
    def fail(s: Any, c: Corpus, reason: str) -> None:
        c.status = "undetermined"
        c.error = stored_error(
            f"Analysis of corpus '{c.name}' failed ({reason}). "
            "Please try adding the corpus again by setting the 'allow_overwrite' flag to 'true'."
        )

    def on_failure(self, cid: str, corpus_id: str, reason: str) -> None:
        with self.db.session() as s:
            c = s.get(Corpus, corpus_id)
            row = s.get(CustomModel, cid)
            if c is not None:
                self.fail(s, c, reason)
            if row is not None:
                self.models.refresh_status(s, row)
