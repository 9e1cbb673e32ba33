"""Whisper's written-style text to Watson's spoken-style words, and custom-word rewriting.

Watson's next-generation models, without `smart_formatting`, return lower-case spoken words with no
punctuation ("mister smith paid three dollars"), while Whisper writes ("Mr. Smith paid $3.").
`spoken_words` bridges the two for one Whisper word; `Rewriter` then maps custom words' sounds-like
phrases and plain spellings to their display forms ("fin tech" → "fintech", "fanny" → "Fannie").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from parlance.customization.text import ONES, ORDINAL_WORDS
from parlance.customization.text import number_to_words as number_words

_ABBREVIATIONS = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "st": "saint",
    "jr": "junior",
    "sr": "senior",
    "vs": "versus",
    "etc": "et cetera",
}
_TOKEN = re.compile(r"\$?\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th|s|%)?|[^\W_]+(?:'[^\W_]+)*'?", re.UNICODE)


def _year_words(n: int) -> list[str]:
    """1990 → nineteen ninety; 2005 → two thousand five; 1900 → nineteen hundred."""
    hi, lo = divmod(n, 100)
    if n % 1000 < 10 and n >= 2000:
        return number_words(n)
    tail = ["hundred"] if lo == 0 else (["oh", ONES[lo]] if lo < 10 else number_words(lo))
    return number_words(hi) + tail


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in ORDINAL_WORDS:
        last = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:-1] + [last]


def _numeral_words(token: str) -> list[str]:
    dollars = token.startswith("$")
    token = token.lstrip("$")
    suffix = ""
    m = re.fullmatch(r"(\d+(?:,\d{3})*(?:\.\d+)?)(st|nd|rd|th|s|%)?", token)
    if not m:
        return [token]
    digits, suffix = m.group(1), m.group(2) or ""
    whole, _, frac = digits.replace(",", "").partition(".")
    n = int(whole)
    plain = "," not in digits and not frac and not dollars
    words = _year_words(n) if plain and len(whole) == 4 and 1100 <= n <= 2099 else number_words(n)
    if dollars and len(frac) == 2:  # $3.50 → three dollars fifty cents
        cents = int(frac)
        return words + ["dollar" if n == 1 else "dollars"] + (number_words(cents) + ["cents"] if cents else [])
    if frac:
        words += ["point"] + [ONES[int(d)] for d in frac]
    if suffix in ("st", "nd", "rd", "th"):
        words = _ordinal(words)
    elif suffix == "s":  # 1990s → nineteen nineties
        last = words[-1]
        words[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
    elif suffix == "%":
        words.append("percent")
    if dollars:
        words.append("dollar" if n == 1 and not frac else "dollars")
    return words


def spoken_words(text: str) -> list[str]:
    """Lower-case spoken-style words of a written fragment: punctuation dropped, apostrophes kept,
    hyphenated words split, common abbreviations and numerals spelled out."""
    out: list[str] = []
    for token in _TOKEN.findall(text.replace("’", "'").replace("‘", "'")):
        if token[0].isdigit() or token[0] == "$":
            out.extend(_numeral_words(token))
            continue
        word = token.lower().strip("'")
        if not word:
            continue
        expansion = _ABBREVIATIONS.get(word)
        out.extend(expansion.split() if expansion else [word])
    return out


def phrase_key(text: str) -> tuple[str, ...]:
    """How a phrase is matched: its spoken words (so "A. P. R." and "a p r" are the same key)."""
    return tuple(spoken_words(text))


@dataclass(frozen=True)
class Rule:
    pattern: tuple[str, ...]  # lower-case spoken words to find
    replacement: str  # the display form that replaces them


class Rewriter:
    """Replaces whole-word, case-insensitive phrases with display forms, longest match first.

    Works on word lists with parallel payloads (timings), so a multi-word match collapses into one
    word whose payload the caller merges.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules: dict[tuple[str, ...], str] = {}
        for rule in rules:
            if rule.pattern:
                self._rules.setdefault(rule.pattern, rule.replacement)
        self._longest = max((len(p) for p in self._rules), default=0)
        self._firsts = {p[0] for p in self._rules}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def spans(self, words: Sequence[str]) -> list[tuple[int, int, str]]:
        """(start, end, replacement) for each word span to replace, left to right, non-overlapping."""
        lowered = [w.lower() for w in words]
        found: list[tuple[int, int, str]] = []
        i = 0
        while i < len(lowered):
            if lowered[i] in self._firsts:
                for n in range(min(self._longest, len(lowered) - i), 0, -1):
                    replacement = self._rules.get(tuple(lowered[i : i + n]))
                    if replacement is not None:
                        found.append((i, i + n, replacement))
                        i += n
                        break
                else:
                    i += 1
            else:
                i += 1
        return found

    def apply(self, words: Sequence[str]) -> list[str]:
        """The rewritten word list."""
        out: list[str] = []
        last = 0
        for start, end, replacement in self.spans(words):
            out.extend(words[last:start])
            out.append(replacement)
            last = end
        out.extend(words[last:])
        return out
