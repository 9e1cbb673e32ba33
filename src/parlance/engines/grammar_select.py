"""Grammar-constrained results for engines that cannot decode with a grammar (Whisper).

The engine proposes an n-best list; the answer is the best hypothesis the grammar accepts, else the
grammar sentence nearest to a top hypothesis when it is near enough, else nothing (the service then
warns) — never a phrase outside the grammar, and no guess when the audio does not fit.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from parlance.customization.grammar_fsa import Grammar
from parlance.customization.whisper_text import spoken_words
from parlance.engines.base import Alternative, Word

N_BEST = 8  # hypotheses requested from the engine when a grammar constrains the result
NEAREST_FROM = 3  # only the top hypotheses are mapped to their nearest grammar sentence
MIN_SIMILARITY = 0.75  # spelling similarity a nearest sentence needs to the hypothesis ("cancelled"~"cancel")


@lru_cache(maxsize=64)
def load_grammar(path: Path) -> Grammar:
    return Grammar.from_json(path.read_text())


def _retimed(words: list[str], alt: Alternative, confidence: float) -> Alternative:
    """The sentence with the hypothesis's word times (spread evenly when the word counts differ)."""
    if len(alt.words) == len(words):
        timed = tuple(Word(w, o.start, o.end, o.confidence) for w, o in zip(words, alt.words, strict=True))
    elif alt.words:
        start, end = alt.words[0].start, alt.words[-1].end
        step = (end - start) / max(1, len(words))
        timed = tuple(Word(w, start + i * step, start + (i + 1) * step, confidence) for i, w in enumerate(words))
    else:
        timed = ()
    return Alternative(" ".join(words), confidence, timed)


def select(alternatives: list[Alternative], grammar: Grammar, max_alternatives: int) -> list[Alternative]:
    accepted: list[Alternative] = []
    seen: set[str] = set()
    for alt in alternatives:
        words = spoken_words(alt.transcript)
        text = " ".join(words)
        if words and text not in seen and grammar.accepts(words):
            seen.add(text)
            accepted.append(_retimed(words, alt, alt.confidence))
    if accepted:
        return accepted[:max_alternatives]
    nearest: list[tuple[float, int, Alternative]] = []
    for rank, alt in enumerate(alternatives[:NEAREST_FROM]):
        words = spoken_words(alt.transcript)
        if not words:
            continue
        sentence, _ = grammar.closest(words)
        # Compare spellings without spaces: a near-homophone split or inflected by the engine still counts.
        similarity = SequenceMatcher(None, "".join(words), "".join(sentence)).ratio()
        if sentence and similarity >= MIN_SIMILARITY:
            confidence = alt.confidence * similarity
            nearest.append((-confidence, rank, _retimed(sentence, alt, confidence)))
    return [min(nearest, key=lambda t: t[:2])[2]] if nearest else []
