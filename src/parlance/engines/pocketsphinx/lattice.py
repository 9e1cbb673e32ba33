"""Words out of PocketSphinx results: fillers dropped, and per-word alternatives from the lattice."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from parlance.engines.base import Alternative

_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[NOISE]"}


def clean_word(word: str) -> str | None:
    """Drop fillers (<s>, <sil>, [NOISE], ++GARBAGE++); strip alternative markers (word(2))."""
    if word in _FILLERS or word.startswith("++") or (word.startswith("[") and word.endswith("]")):
        return None
    if word.endswith(")") and "(" in word:
        word = word[: word.rindex("(")]
    return word or None


def lattice_words(slf: str) -> list[tuple[str, float, float, float]]:
    """(word, start s, end s, posterior) of every word hypothesis in a lattice PocketSphinx wrote in
    HTK format. The Python bindings expose no lattice nodes, so the lattice goes through its file
    form. A node carries a word and the time it starts; each link out of it ends the word where the
    next one starts and carries the posterior of that hypothesis."""
    times: dict[int, float] = {}
    labels: dict[int, str] = {}
    out = []
    for line in slf.splitlines():
        if line[:2] not in ("I=", "J="):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if line.startswith("I="):
            times[int(fields["I"])], labels[int(fields["I"])] = float(fields["t"]), fields.get("W", "")
            continue
        node, posterior = int(fields["S"]), float(fields.get("p", 0.0))
        word = clean_word(labels.get(node, ""))
        if word and not word.startswith("!") and posterior > 0:
            out.append((word, times[node], times[int(fields["E"])], min(1.0, posterior)))
    return out


MIN_ALTERNATIVE = 0.001  # posterior below which a lattice word is not offered as an alternative


def with_word_alternatives(decoder: Any, best: Alternative, display: dict[str, str]) -> Alternative:
    """The best alternative with, for each word, the lattice words that cover most of its time."""
    try:
        with tempfile.TemporaryDirectory(prefix="parlance-lattice-") as tmp:
            decoder.get_lattice().write_htk(f"{tmp}/lattice.slf")
            candidates = lattice_words(Path(f"{tmp}/lattice.slf").read_text())
    except (RuntimeError, OSError, ValueError, KeyError, AttributeError):  # no lattice for this utterance
        return best
    words = []
    for w in best.words:
        scores: dict[str, float] = {}
        for text, start, end, posterior in candidates:
            overlap = min(end, w.end) - max(start, w.start)
            if overlap >= 0.5 * (w.end - w.start) and overlap >= 0.5 * (end - start):
                shown = display.get(text, text)
                scores[shown] = min(1.0, scores.get(shown, 0.0) + posterior)
        ranked = sorted(((t, round(p, 4)) for t, p in scores.items() if p >= MIN_ALTERNATIVE), key=lambda a: -a[1])
        words.append(replace(w, alternatives=tuple(ranked)))
    return replace(best, words=tuple(words))
