"""Custom words' display forms in Whisper output: sounds-like phrases and plain spellings are
rewritten to how the user wants the word shown ("fin tech" → "fintech", "fanny" → "Fannie")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from parlance.customization.spoken import spoken_words


def phrase_key(text: str, words: Callable[[str], list[str]] = spoken_words) -> tuple[str, ...]:
    """How a phrase is matched: its spoken words (so "A. P. R." and "a p r" are the same key), split by
    the language's rules (`customization.languages`) as transcripts are."""
    return tuple(w.lower() for w in words(text))


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

    @property
    def single_words(self) -> frozenset[str]:
        """Patterns of one word: in a language without spaces, the strings a segmenter must keep whole."""
        return frozenset(p[0] for p in self._rules if len(p) == 1)

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
