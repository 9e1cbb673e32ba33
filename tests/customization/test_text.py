"""Corpus normalization (Watson previous-generation semantics) and sounds_like validation."""

from __future__ import annotations

import pytest

from parlance.customization.sounds_like import validate_sounds_like
from parlance.customization.text import count_words, normalize_corpus, normalize_sentence, number_to_words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("$75", "seventy five dollars"),
        ("3.5%", "three point five percent"),
        ("$1.50", "one dollar and fifty cents"),
        ("$2.3M", "two point three million dollars"),
        ("1,234", "one thousand two hundred thirty four"),
        ("the 21st", "the twenty first"),
        ("in 1999", "in nineteen ninety nine"),
        ("in 2005", "in two thousand five"),
        ("on 3/15/2024", "on march fifteenth twenty twenty four"),
        ("on 2023-03-15", "on march fifteenth twenty twenty three"),
        ("at 10:30", "at ten thirty"),
        ("R&D", "r and d"),
        ("Mr. Smith", "mister smith"),
        ("the A. P. R.", "the a. p. r."),
    ],
)
def test_numbers_and_symbols_become_words(text: str, spoken: str) -> None:
    assert " ".join(normalize_sentence(text)) == spoken


def test_bracketed_text_is_ignored_and_punctuation_stripped() -> None:
    text = "We met (finally) on <b>Monday</b> [sic] {note}, didn't we? Yes!\nState-of-the-art new_york stuff."
    assert normalize_corpus(text) == [
        ["we", "met", "on", "monday", "didn't", "we"],
        ["yes"],
        ["state-of-the-art", "new_york", "stuff"],
    ]


def test_sentences_split_on_lines_and_sentence_punctuation() -> None:
    sentences = normalize_corpus("EBITDA rose 12%. Margins fell.\n\n  \nOK")
    assert sentences == [["ebitda", "rose", "twelve", "percent"], ["margins", "fell"], ["ok"]]
    assert count_words(sentences)["ebitda"] == 1
    assert sum(count_words(sentences).values()) == 7


def test_number_words() -> None:
    assert number_to_words(0) == ["zero"]
    assert number_to_words(1_000_001) == ["one", "million", "one"]
    assert number_to_words(-12) == ["minus", "twelve"]


def test_sounds_like_validation_matches_watson() -> None:
    assert validate_sounds_like(["sar banes", "A. P. R.", "sub row gay shun"]) == []
    assert validate_sounds_like(["75 dollars"]) == [
        {"75 dollars": "Numbers are not allowed in sounds_like. You can try for example 'seventy five dollars'."}
    ]
    too_long = "x" * 41
    assert list(validate_sounds_like([too_long])[0]) == [too_long]
    assert list(validate_sounds_like(["a", "b", "c", "d", "e", "f"])[0]) == ["sounds_like"]
    assert validate_sounds_like(["fin/rah"]) and validate_sounds_like([""])
