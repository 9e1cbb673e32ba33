"""Grammar-constrained results for engines that cannot decode with a grammar (Whisper).

The engine proposes an n-best list, decoding with sample sentences of the grammar as its prompt
(`prompt_text`), so that it writes the way the grammar does ("five oh" rather than "5-0"). Candidates
are the hypotheses the grammar accepts, the grammar sentences nearest to the top hypotheses, and,
for small grammars, every sentence. With an engine that can score a sentence against the audio
(`score`), the best-scoring candidate wins if it fits well enough; otherwise the best accepted
hypothesis, or a close-enough nearest sentence. Never a phrase outside the grammar, and no guess when
the audio does not fit: then the result is empty.

In a trial on bench/grammars.py's utterances (30 sentences x 3 voices, en-US_Multimedia) the right
sentence was among the candidates for 67 of 90 without the prompt, for 88 with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from parlance.customization.grammar_fsa import GARBAGE, Grammar
from parlance.customization.spoken import spoken_words
from parlance.engines.base import Alternative, Word

Scorer = Callable[[list[str]], list[float]]  # sentences -> mean token log-probability given the audio

N_BEST = 8  # hypotheses requested from the engine when a grammar constrains the result
PROMPT_SENTENCES = 12  # sample sentences in the decoding prompt
SMALL_GRAMMAR = 40  # grammars with at most this many sentences have all of them scored
MIN_SIMILARITY = 0.75  # without a scorer: spelling similarity a nearest sentence needs ("cancelled"~"cancel")
# With a scorer, a sentence fits when its score (mean token log-probability, see WhisperModel.score)
# reaches MIN_SCORE and is within MAX_MARGIN of the score of what the engine heard unconstrained (its
# top hypothesis). Measured with en-US_Multimedia on 45 in-grammar utterances of bench/grammars.py
# (3 voices) and 30 out-of-grammar ones (5 phrases x 2 voices x 3 grammars): the winner scored
# -2.73 .. -0.23 in grammar and -8.54 .. -3.44 outside it; margins 0 .. 1.96 and 2.71 .. 7.85.
MIN_SCORE = -3.2
MAX_MARGIN = 2.4
# Spoken forms one written form stands for: Whisper writes "0" for both "zero" and "oh".
SAME_WRITING = {"zero": ("oh",), "oh": ("zero",)}
MAX_VARIANTS = 16


def variants(sentence: str, grammar: Grammar) -> list[str]:
    """The sentence and its in-grammar respellings under SAME_WRITING (at most MAX_VARIANTS)."""
    out = [[]]
    for word in sentence.split():
        out = [v + [w] for v in out for w in (word, *SAME_WRITING.get(word, ()))][:MAX_VARIANTS]
    return [" ".join(v) for v in out if grammar.accepts(v)]


def prompt_text(grammar: Grammar) -> str:
    """Sample sentences of the grammar (fixed seed, garbage left out), as a comma-separated text."""
    sentences = grammar.sample(random.Random(0), PROMPT_SENTENCES)
    kept = dict.fromkeys(" ".join(w for w in s if w != GARBAGE) for s in sentences)
    return ", ".join(s for s in kept if s) + "."


@lru_cache(maxsize=64)
def load_grammar(path: Path) -> Grammar:
    return Grammar.from_json(path.read_text())


def small_language(grammar: Grammar) -> tuple[str, ...]:
    """Every sentence of a small, finite grammar; empty when it has more (or loops, or garbage)."""
    out: dict[int, list] = {}
    for arc in grammar.fsa.arcs:
        out.setdefault(arc[0], []).append(arc)
    found: set[str] = set()
    stack: list[tuple[int, tuple[str, ...], int]] = [(grammar.fsa.start, (), 0)]
    while stack:
        state, words, depth = stack.pop()
        if depth > 50 or len(found) > SMALL_GRAMMAR:
            return ()
        if state in grammar.fsa.finals and words:
            found.add(" ".join(words))
        for _, dst, word, _ in out.get(state, ()):
            if word == GARBAGE:
                return ()
            stack.append((dst, words + ((word,) if word else ()), depth + 1))
    return tuple(sorted(found)) if len(found) <= SMALL_GRAMMAR else ()


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


def select(
    alternatives: list[Alternative], grammar: Grammar, max_alternatives: int, scorer: Scorer | None = None
) -> list[Alternative]:
    accepted: dict[str, Alternative] = {}
    nearest: dict[str, tuple[float, Alternative]] = {}  # sentence -> (spelling similarity, hypothesis)
    for alt in alternatives:
        words = spoken_words(alt.transcript)
        if not words:
            continue
        if grammar.accepts(words):
            accepted.setdefault(" ".join(words), alt)
        else:
            sentence, _ = grammar.closest(words)
            # Compare spellings without spaces: a near-homophone split or inflected by the engine counts.
            similarity = SequenceMatcher(None, "".join(words), "".join(sentence)).ratio()
            if sentence and similarity > nearest.get(" ".join(sentence), (-1.0,))[0]:
                nearest[" ".join(sentence)] = (similarity, alt)
    if scorer is not None and alternatives:
        return _by_score(alternatives[0], accepted, nearest, grammar, scorer, max_alternatives)
    if accepted:
        return [_retimed(s.split(), a, a.confidence) for s, a in accepted.items()][:max_alternatives]
    close = [(sim, s, a) for s, (sim, a) in nearest.items() if sim >= MIN_SIMILARITY]
    if not close:
        return []
    sim, sentence, alt = max(close, key=lambda t: t[0])
    return [_retimed(sentence.split(), alt, alt.confidence * sim)]


def _by_score(
    top: Alternative,
    accepted: dict[str, Alternative],
    nearest: dict[str, tuple[float, Alternative]],
    grammar: Grammar,
    scorer: Scorer,
    max_alternatives: int,
) -> list[Alternative]:
    found = [v for s in (*accepted, *nearest) for v in variants(s, grammar)]
    candidates = list(dict.fromkeys([*found, *small_language(grammar)]))
    if not candidates:
        return []
    heard = " ".join(spoken_words(top.transcript))
    scores = scorer([*candidates, heard] if heard else candidates)
    floor = max(MIN_SCORE, scores.pop() - MAX_MARGIN) if heard else MIN_SCORE
    ranked = sorted(zip(scores, candidates, strict=True), reverse=True)
    out = []
    for score, sentence in ranked[:max_alternatives]:
        if score < floor:
            break
        source = accepted.get(sentence) or (nearest[sentence][1] if sentence in nearest else top)
        out.append(_retimed(sentence.split(), source, round(min(1.0, 2.718281828**score), 3)))
    return out
