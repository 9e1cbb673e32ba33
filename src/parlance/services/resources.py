"""Corpora and grammars of custom language models: upload rules and asynchronous analysis.

Both live in one table (`Corpus.kind`), since Watson gives them one namespace and the same lifecycle."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from parlance.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
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
    # NUL is refused rather than cleaned: in uploaded text it almost always means UTF-16 or a binary file,
    # which cleaning would turn into garbage words. Other control characters are word separators to the
    # corpus tokenizer (`customization.text`), so no word found in a corpus carries one.
    if b"\x00" in data:
        raise BadRequest(f"The {kind} file is binary data, not text; send UTF-8 plain text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The {kind} file is not valid UTF-8 text (byte {exc.start})") from None


GRAMMAR_TYPES = ("application/srgs", "application/srgs+xml")
MAX_GRAMMAR_BYTES = 1024 * 1024


def resource_view(c: Corpus) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name}
    if c.kind == "corpus":
        out["total_words"] = c.total_words
    out.update(out_of_vocabulary_words=c.out_of_vocabulary_words, status=c.status)
    if c.error:
        out["error"] = c.error
    return out


class TextResources:
    """The text resources of one kind of custom models: corpora (kind "corpus") or grammars (kind "grammar")."""

    def __init__(self, models: CustomModels, kind: str = "corpus") -> None:
        self.models = models
        self.db = models.db
        self.kind = kind
        self.plural = "corpora" if kind == "corpus" else "grammars"

    def path(self, cid: str, corpus_id: str) -> Path:
        return self.models.artifacts(cid) / self.plural / f"{corpus_id}.txt"

    def add(
        self, owner: str, cid: str, name: str, data: bytes, allow_overwrite: bool, media_type: str = "text/plain"
    ) -> None:
        validate_name(name, self.kind)
        if self.kind == "grammar":
            media_type = check_grammar_upload(data, media_type)
        text = decode_text(data, self.kind)
        if self.kind == "grammar":  # a malformed grammar is refused at once (400 saying where), storing nothing
            from parlance.customization.srgs import compile_grammar

            compile_grammar(text, media_type)
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True)
            self.models.ensure_idle(s, row, "changed")
            if s.scalar(select(Corpus.id).where(Corpus.model_id == cid, Corpus.status == "being_processed")):
                raise Conflict("Another corpus or grammar is being processed; add this one after it is analyzed")
            existing = s.scalar(select(Corpus).where(Corpus.model_id == cid, Corpus.name == name))
            if existing is not None and existing.kind != self.kind:
                raise Conflict(f"A {existing.kind} named '{name}' already exists; corpus and grammar names must differ")
            if existing is not None and not allow_overwrite:
                raise Conflict(f"A {self.kind} named '{name}' already exists; set allow_overwrite=true to replace it")
            if existing is not None:
                s.delete(existing)
                s.flush()
            corpus = Corpus(model_id=cid, name=name, kind=self.kind, media_type=media_type, status="being_processed")
            s.add(corpus)
            s.flush()
            target = self.path(cid, corpus.id)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)  # never a half-written corpus on disk
            self.models.data_changed(s, row)
            corpus_id = corpus.id
        self.models.jobs.enqueue(f"analyze_{self.kind}", cid, {"corpus_id": corpus_id})

    def _get(self, s: Any, owner: str, cid: str, name: str) -> Corpus:
        self.models.get_row(s, owner, cid)
        c = s.scalar(select(Corpus).where(Corpus.model_id == cid, Corpus.name == name, Corpus.kind == self.kind))
        if c is None:
            raise NotFound(f"{self.kind.capitalize()} '{name}' not found in custom model {cid}")
        return c

    def get(self, owner: str, cid: str, name: str) -> dict[str, Any]:
        with self.db.session() as s:
            return resource_view(self._get(s, owner, cid, name))

    def list(self, owner: str, cid: str) -> dict[str, Any]:
        with self.db.session() as s:
            self.models.get_row(s, owner, cid)
            rows = s.scalars(
                select(Corpus).where(Corpus.model_id == cid, Corpus.kind == self.kind).order_by(Corpus.created)
            )
            return {self.plural: [resource_view(c) for c in rows]}

    def delete(self, owner: str, cid: str, name: str) -> None:
        with self.db.session() as s:
            c = self._get(s, owner, cid, name)
            row = s.get(CustomModel, cid)
            assert row is not None
            self.models.ensure_idle(s, row, "changed")
            if c.status == "being_processed":
                raise Conflict(f"The {self.kind} '{name}' is still being processed; delete it after it is analyzed")
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
        total, oov, error = 0, {}, None
        try:
            total, oov = analyzer(text, c.media_type)
        except BadRequest as exc:  # e.g. a grammar that does not compile
            error = exc.message
        if error is None and total == 0:
            error = "the file contains no words"
        if error is None and total + (other_words or 0) > MAX_TOTAL_WORDS:
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
            f"Analysis of {c.kind} '{c.name}' failed ({reason}). "
            f"Please try fixing the error or adding the {c.kind} again by setting the 'allow_overwrite' flag to 'true'."
        )

    def on_failure(self, cid: str, corpus_id: str, reason: str) -> None:
        with self.db.session() as s:
            c = s.get(Corpus, corpus_id)
            row = s.get(CustomModel, cid)
            if c is not None:
                self.fail(s, c, reason)
            if row is not None:
                self.models.refresh_status(s, row)


def check_grammar_upload(data: bytes, media_type: str) -> str:
    mime = media_type.split(";")[0].strip().lower()
    if mime not in GRAMMAR_TYPES:
        raise UnsupportedMediaType(
            f"Grammars need Content-Type application/srgs (ABNF) or application/srgs+xml (XML), not '{mime}'"
        )
    if len(data) > MAX_GRAMMAR_BYTES:
        raise PayloadTooLarge(f"A grammar may be at most {MAX_GRAMMAR_BYTES} bytes")
    return mime
