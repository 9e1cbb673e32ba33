"""Smart formatting in the transcript's language."""

from __future__ import annotations

from parlance.services.formatting import format_words, smart_format


def test_portuguese_numbers_become_digits() -> None:
    text = "comprei um livro e vinte e três lápis por cinco por cento às três horas"
    assert smart_format(text, "pt-BR") == "comprei um livro e 23 lápis por 5% às 3 horas"


def test_english_rules_leave_portuguese_alone_and_english_keeps_them() -> None:
    # read as English, "três" and "cinco" are not numbers
    assert smart_format("vinte e três", "en-US") == "vinte e três"
    assert smart_format("twenty five percent", "en-US") == "25%"


def test_japanese_and_korean_keep_numerals_as_written() -> None:
    assert smart_format("会議 は 午後 三 時 から", "ja-JP") == "会議 は 午後 三 時 から"
    assert smart_format("사과 3개를 샀습니다", "ko-KR") == "사과 3개를 샀습니다"


def test_portuguese_formatted_words_keep_their_times() -> None:
    words = [(w, i * 0.5, i * 0.5 + 0.4, 0.9) for i, w in enumerate("são vinte e três reais".split())]
    assert format_words(words, smart=True, profanity=False, language="pt-BR") == [
        ("são", 0.0, 0.4, 0.9),
        ("23", 0.5, 1.9, 0.9),
        ("reais", 2.0, 2.4, 0.9),
    ]
