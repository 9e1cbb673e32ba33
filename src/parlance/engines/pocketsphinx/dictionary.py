"""PocketSphinx pronunciation dictionaries: the base vocabulary, OOV detection and the
pronunciations of custom words.

PocketSphinx dictionaries hold one pronunciation a line, `word PH ON ES`, alternatives as
`word(2)`; words are lower case. A word is *in vocabulary* for a version when both its dictionary
and its language model know it (a dictionary-only word can never be recognized, so for Watson's
previous-generation semantics it is out of vocabulary and belongs in the words resource).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from parlance.customization.sounds_like import validate_sounds_like
from parlance.customization.text import normalize_sentence
from parlance.engines.pocketsphinx import g2p

_VARIANT = re.compile(r"\(\d+\)$")


def base_word(entry: str) -> str:
    """`word(2)` -> `word`."""
    return _VARIANT.sub("", entry)


@lru_cache(maxsize=4)
def _read_dictionary(path: str, mtime: float) -> dict[str, tuple[str, ...]]:
    entries: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) == 2:
                entries.setdefault(base_word(parts[0]), []).append(" ".join(parts[1].split()))
    return {w: tuple(p) for w, p in entries.items()}


def read_dictionary(path: Path) -> dict[str, tuple[str, ...]]:
    """word -> its pronunciations (space-separated phones), cached per file."""
    return _read_dictionary(str(path), path.stat().st_mtime)


def word_key(word: str) -> str:
    """The dictionary/LM key of a custom word: lower case, inner spaces joined with `_`."""
    return "_".join(word.strip().lower().split())


def is_acronym(word: str) -> bool:
    return 2 <= len(word) <= 5 and word.isalpha() and word.isupper()


@dataclass
class Pronouncer:
    """Pronounces tokens with the dictionary first, then G2P (see `g2p`), batching espeak calls."""

    dictionary: Mapping[str, tuple[str, ...]]
    cache: dict[str, list[str]] = field(default_factory=dict)
    g2p_cache: dict[str, list[str]] = field(default_factory=dict)  # espeak-ng's reading of any word

    def prepare(self, tokens: Iterable[str], variants: Iterable[str] = ()) -> None:
        """Run the G2P once for every token that will need it, and for the words in `variants`
        (words whose espeak-ng pronunciation is wanted as an alternative, see `g2p_variant`)."""
        todo: set[str] = set()
        for tok in tokens:
            for part in re.split(r"[-_]", tok):
                if part and part not in self.dictionary and part not in self.cache:
                    todo.add(part)
        wanted = {v for v in variants if v not in self.g2p_cache}
        result = g2p.espeak_pronounce(todo | wanted)
        self.cache.update((t, p) for t, p in result.items() if t in todo)
        self.g2p_cache.update((t, p) for t, p in result.items() if t in wanted)

    def g2p_variant(self, key: str) -> list[str] | None:
        """espeak-ng's pronunciation of a plain word, dictionary word or not (None without espeak-ng)."""
        if key not in self.g2p_cache:
            if not g2p.espeak_binary():
                return None
            self.g2p_cache.update(g2p.espeak_pronounce([key]))
        return self.g2p_cache.get(key)

    def lookup(self, token: str) -> list[str] | None:
        prons = self.dictionary.get(token)
        return prons[0].split() if prons else None

    def pronounce(self, token: str) -> list[str]:
        """Phones of one lower-case token; never empty for a token with letters."""
        known = self.lookup(token)
        if known:
            return known
        if token in self.cache:
            return self.cache[token]
        parts = [p for p in re.split(r"[-_]", token) if p]
        if len(parts) > 1:
            phones = [ph for p in parts for ph in self.pronounce(p)]
        elif len(token) == 2 and token.endswith(".") and self.lookup(token):
            phones = self.lookup(token) or []
        else:
            espeak = g2p.espeak_pronounce([token]) if g2p.espeak_binary() else {}
            phones = espeak.get(token) or g2p.decompose(token.replace("'", "").rstrip("."), self.lookup)
        self.cache[token] = phones
        return phones

    def spelled(self, word: str) -> list[str]:
        """Letter names: "APR" -> EY P IY AA R."""
        return [ph for ch in word.lower() for ph in (self.lookup(ch + ".") or self.pronounce(ch))]

    def sounds_like(self, entry: str) -> list[str]:
        return [ph for tok in normalize_sentence(entry) for ph in self.pronounce(tok)]

    def word_pronunciations(self, word: str, sounds_like: Iterable[str] = ()) -> list[str]:
        """Pronunciations (phone strings) for a custom word: its valid `sounds_like` entries, or,
        without any, the dictionary's or a generated one, plus espeak-ng's reading as an
        alternative (letter names instead for acronyms).

        The espeak-ng alternative differs from CMUdict in reduced vowels and flaps (amortization:
        AE M ER T IH Z EY SH AH N / AH M AO R T IH Z EY SH AH N); on the finance test set it found
        one more term of 60 (measured with the user-word boost, see `engines.pocketsphinx`)."""
        prons: list[str] = []
        for entry in sounds_like:
            if not validate_sounds_like([entry]):
                phones = self.sounds_like(entry)
                if phones:
                    prons.append(" ".join(phones))
        if not prons:
            key = word_key(word)
            known = self.dictionary.get(key)
            prons = list(known) if known else [" ".join(self.pronounce(key))]
            if is_acronym(word.strip()):
                prons.append(" ".join(self.spelled(word.strip())))
            else:
                prons.append(" ".join(self.g2p_variant(key) or []))
        return list(dict.fromkeys(p for p in prons if p))


def write_dictionary(base: Path, out: Path, custom: Mapping[str, list[str]]) -> None:
    """Copy the base dictionary and append custom pronunciations as `word`, `word(2)`, ..."""
    existing = read_dictionary(base)
    lines = []
    for word, prons in sorted(custom.items()):
        have = list(existing.get(word, ()))
        for pron in prons:
            if pron in have:
                continue
            have.append(pron)
            lines.append(f"{word} {pron}\n" if len(have) == 1 else f"{word}({len(have)}) {pron}\n")
    with open(out, "wb") as dst:
        dst.write(base.read_bytes())
        dst.write("".join(lines).encode("utf-8"))
