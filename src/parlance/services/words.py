"""The words resource: user words (with sounds_like/display_as) and, for previous-generation models,
out-of-vocabulary words found in corpora and grammars."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlance.customization.languages import sounds_like_errors
from parlance.customization.sounds_like import validate_sounds_like
from parlance.errors import BadRequest, NotFound
from parlance.services.custom_models import CustomModels
from parlance.store.orm import Corpus, CustomModel, CustomWord

MAX_WORD_CHARS = 128
# Control characters (C0, DEL, C1) and lone surrogates: stored, they reach the engines' dictionaries and
# prompts and break every recognition with the model.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cs"})


def _escaped(text: str) -> str:
    """The text with control characters written as escapes, so an error message never carries them."""
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")[:60]


def check_characters(element: str, value: str) -> None:
    if any(unicodedata.category(ch) in UNSAFE_CATEGORIES for ch in value):
        raise BadRequest(f"Control characters are not allowed in {element}: '{_escaped(value)}'")


def parse_word(item: Any, word: str | None = None) -> dict[str, Any]:
    """Check the shape of one word definition; malformed input is a 400, not a stored error."""
    if not isinstance(item, dict):
        raise BadRequest("Each word must be a JSON object")
    word = word if word is not None else item.get("word")
    if not isinstance(word, str) or not word.strip():
        raise BadRequest("Each word needs a non-empty 'word' string")
    check_characters("word", word)
    if len(word) > MAX_WORD_CHARS or re.search(r"\s", word):
        raise BadRequest(
            f"Invalid word '{word[:40]}': at most {MAX_WORD_CHARS} characters and no spaces "
            "(join compound words with '-' or '_')"
        )
    sounds_like = item.get("sounds_like") or []
    if not isinstance(sounds_like, list) or not all(isinstance(x, str) for x in sounds_like):
        raise BadRequest(f"'sounds_like' of '{word}' must be a list of strings")
    for entry in sounds_like:
        check_characters("sounds_like", entry)
    display_as = item.get("display_as")
    if display_as is not None and (not isinstance(display_as, str) or len(display_as) > 256):
        raise BadRequest(f"'display_as' of '{word}' must be a string of at most 256 characters")
    if display_as is not None:
        check_characters("display_as", display_as)
    mapping_only = item.get("mapping_only") or []
    return {"word": word, "sounds_like": sounds_like, "display_as": display_as, "mapping_only": mapping_only}


def _sounds_like_errors(entries: list[str], language: str) -> list[dict[str, str]]:
    """Watson's common rules, then those of the model's language (one error per entry at most)."""
    errors = validate_sounds_like(entries)
    flagged = {key for e in errors for key in e}
    return errors + [e for e in sounds_like_errors(entries, language) if not flagged & e.keys()]


class Words:
    def __init__(self, models: CustomModels) -> None:
        self.models = models
        self.db = models.db

    def _upsert(self, s: Session, cid: str, w: dict[str, Any], errors: list[dict[str, str]]) -> None:
        row = s.scalar(select(CustomWord).where(CustomWord.model_id == cid, CustomWord.word == w["word"]))
        if row is None:
            row = CustomWord(model_id=cid, word=w["word"])
            s.add(row)
        row.sounds_like, row.display_as = w["sounds_like"], w["display_as"] or ""
        row.mapping_only = w["mapping_only"] if isinstance(w["mapping_only"], list) else [w["mapping_only"]]
        row.user, row.hidden, row.error = True, False, errors or None

    def add_many(self, owner: str, cid: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("words"), list) or not body["words"]:
            raise BadRequest("The body must be a JSON object with a non-empty 'words' array")
        words = [parse_word(item) for item in body["words"]]  # the whole batch fails if one is malformed
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True)
            self.models.ensure_idle(s, row, "changed")
            for w in words:
                self._upsert(s, cid, w, _sounds_like_errors(w["sounds_like"], row.language))
            self.models.data_changed(s, row)
            row.status = "pending"  # until the job below has looked at the batch
        self.models.jobs.enqueue("add_words", cid, {"words": [w["word"] for w in words]})

    def finish_batch(self, cid: str) -> None:
        """Job body for `POST words`: the batch is stored; the model becomes trainable again."""
        with self.db.session() as s:
            row = s.get(CustomModel, cid)
            if row is not None:
                self.models.refresh_status(s, row)

    def add_one(self, owner: str, cid: str, word: str, body: Any) -> None:
        w = parse_word(body if body is not None else {}, word)
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True)
            errors = _sounds_like_errors(w["sounds_like"], row.language)
            if errors:
                raise BadRequest(next(iter(errors[0].values())))
            self.models.ensure_idle(s, row, "changed")
            self._upsert(s, cid, w, [])
            self.models.data_changed(s, row)

    # -- reading ---------------------------------------------------------------------------
    def _all(self, s: Session, row: CustomModel) -> dict[str, dict[str, Any]]:
        """Every word of the resource, merged from user rows and analyzed corpora/grammars."""
        previous = self.models.generation(row.base_model_name) == "previous"
        merged: dict[str, dict[str, Any]] = {}
        if previous:
            for c in s.scalars(select(Corpus).where(Corpus.model_id == row.id, Corpus.status == "analyzed")):
                for word, count in (c.oov or {}).items():
                    entry = merged.setdefault(
                        word, {"word": word, "sounds_like": [], "display_as": word, "count": 0, "source": []}
                    )
                    entry["count"] += int(count)
                    entry["source"].append(c.name)
                    entry["kinds"] = entry.get("kinds", set()) | {c.kind}
        for w in s.scalars(select(CustomWord).where(CustomWord.model_id == row.id)):
            if w.hidden:
                merged.pop(w.word, None)
                continue
            entry = merged.setdefault(w.word, {"word": w.word, "count": 0, "source": []})
            entry["sounds_like"] = list(w.sounds_like)
            entry["display_as"] = w.display_as or w.word
            entry["count"] = entry["count"] if previous and entry["count"] else 1
            entry["source"] = entry["source"] + ["user"]
            if w.mapping_only:
                entry["mapping_only"] = list(w.mapping_only)
            if w.error:
                entry["error"] = list(w.error)
        return merged

    def list(self, owner: str, cid: str, word_type: str = "all", sort: str = "alphabetical") -> dict[str, Any]:
        if word_type not in ("all", "user", "corpora", "grammars"):
            raise BadRequest("word_type must be one of all, user, corpora, grammars")
        key = sort.lstrip("+- ")
        if key not in ("alphabetical", "count"):
            raise BadRequest("sort must be alphabetical or count, optionally prefixed with + or -")
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid)
            words = list(self._all(s, row).values())
        if word_type == "user":
            words = [w for w in words if "user" in w["source"]]
        elif word_type in ("corpora", "grammars"):
            kind = "corpus" if word_type == "corpora" else "grammar"
            words = [w for w in words if kind in w.get("kinds", set())]
        descending = sort.startswith("-") or (key == "count" and not sort.startswith("+"))
        # Watson orders digits, then upper case, then lower case: plain code-point order does that.
        words.sort(key=lambda w: w["word"])
        if key == "count":
            words.sort(key=lambda w: w["count"], reverse=descending)
        elif descending:
            words.reverse()
        return {"words": [_public(w) for w in words]}

    def get(self, owner: str, cid: str, word: str) -> dict[str, Any]:
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid)
            found = self._all(s, row).get(word)
        if found is None:
            raise NotFound(f"Word '{word}' not found in custom model {cid}")
        return _public(found)

    def delete(self, owner: str, cid: str, word: str) -> None:
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True)
            self.models.ensure_idle(s, row, "changed")
            if word not in self._all(s, row):
                raise NotFound(f"Word '{word}' not found in custom model {cid}")
            w = s.scalar(select(CustomWord).where(CustomWord.model_id == cid, CustomWord.word == word))
            if w is None:
                w = CustomWord(model_id=cid, word=word)
                s.add(w)
            w.hidden, w.user, w.error = True, False, None
            self.models.data_changed(s, row)

    def training_words(self, s: Session, row: CustomModel, word_type_to_add: str) -> list[dict[str, Any]]:
        """Valid words for training; `user` restricts to words the user added or modified."""
        words = [w for w in self._all(s, row).values() if "error" not in w and not _unsafe(w)]
        if word_type_to_add == "user":
            words = [w for w in words if "user" in w["source"]]
        return [_public(w) for w in words]


def _unsafe(w: dict[str, Any]) -> bool:
    """A word stored before control characters were refused: left out of training rather than breaking it."""
    texts = [w["word"], w.get("display_as") or "", *w.get("sounds_like", [])]
    return any(unicodedata.category(ch) in UNSAFE_CATEGORIES for text in texts for ch in text)


def _public(w: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in w.items() if k != "kinds"}
