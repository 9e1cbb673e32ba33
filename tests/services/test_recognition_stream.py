"""`RecognitionStream`'s interim policy on its own: local agreement keeps an agreed prefix fixed."""

from __future__ import annotations

from parlance.engines.base import Word
from parlance.services.recognition_stream import RecognitionStream, _Shown


def words(text: str) -> list[Word]:
    return [Word(w, i * 0.3, i * 0.3 + 0.3, 0.5) for i, w in enumerate(text.split())]


def shown_text(hypotheses: list[str]) -> list[str]:
    shown = _Shown(0, [])
    return [" ".join(w.text for w in RecognitionStream._agreed(words(h), shown)) for h in hypotheses]


def test_a_prefix_two_hypotheses_agree_on_stays_as_shown() -> None:
    hypotheses = ["he was", "he was not", "he is not until", "he was not until this", "he was not until this blows"]
    assert shown_text([*hypotheses, "he was not until exposed", "he was not until exposed young man"]) == [
        "he was",
        "he was not",  # "he was" agreed
        "he was not until",  # "he was" stays although the hypothesis now says "he is"
        "he was not until this",
        "he was not until this blows",  # "he was not until this" agreed (the last two say it)
        "he was not until this",  # fixed: "exposed" cannot replace "this"
        "he was not until this young man",
    ]


def test_without_agreement_the_newest_hypothesis_is_shown() -> None:
    assert shown_text(["a", "b c", "d e f"]) == ["a", "b c", "d e f"]
