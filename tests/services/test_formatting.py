from __future__ import annotations

from parlance.services.formatting import censor, format_transcript, format_words, redact, smart_format, spot_keywords


def test_smart_format_numbers() -> None:
    assert smart_format("i paid twenty five dollars at three point five percent") == "i paid 25 dollars at 3.5%"


def test_profanity_is_masked() -> None:
    assert censor("well shit that is good") == "well **** that is good"


def test_keywords_need_the_threshold() -> None:
    words = [("the", 0.0, 0.2, 0.9), ("new", 0.2, 0.4, 0.8), ("york", 0.4, 0.7, 0.6)]
    found = spot_keywords(["new york", "boston"], 0.5, words)
    assert found == {
        "new york": [{"normalized_text": "new york", "start_time": 0.2, "end_time": 0.7, "confidence": 0.6}]
    }
    assert spot_keywords(["new york"], 0.7, words) == {}


def timed(text: str) -> list[tuple[str, float, float, float]]:
    return [(w, i * 0.5, i * 0.5 + 0.4, 0.9 - 0.01 * i) for i, w in enumerate(text.split())]


def test_formatted_words_keep_the_times_of_the_words_they_replace() -> None:
    words = timed("i paid twenty five dollars at three point five percent")
    assert format_words(words, smart=True, profanity=False) == [
        ("i", 0.0, 0.4, 0.9),
        ("paid", 0.5, 0.9, 0.89),
        ("25", 1.0, 1.9, 0.87),  # "twenty five": from the start of one to the end of the other, lower confidence
        ("dollars", 2.0, 2.4, 0.86),
        ("at", 2.5, 2.9, 0.85),
        ("3.5%", 3.0, 4.9, 0.81),
    ]


def test_formatted_words_match_the_formatted_transcript() -> None:
    for text in (
        "one two three four",
        "call me at nine one one",
        "it costs one hundred and twenty dollars",
        "twenty five percent of the first two",
        "shit it was forty two",
        "nothing to format here",
    ):
        words = timed(text)
        for smart in (False, True):
            shown = format_words(words, smart=smart, profanity=True)
            transcript = censor(smart_format(text) if smart else text)
            assert [w for w, _, _, _ in shown] == transcript.split()
            starts = [s for _, s, _, _ in shown]
            assert starts == sorted(starts) and all(s < e for _, s, e, _ in shown)


def test_profanity_is_masked_in_timed_words() -> None:
    assert format_words(timed("well shit ok"), smart=False, profanity=True)[1] == ("****", 0.5, 0.9, 0.89)
    assert format_words(timed("well shit ok"), smart=False, profanity=False)[1][0] == "shit"


def test_redaction_masks_numbers_of_three_or_more_digits() -> None:
    assert redact("it costs 120 dollars at 3.5%") == "it costs XXX dollars at 3.5%"
    assert redact("call 9 1 1 or 25") == "call X X X or 25"  # digits spoken one by one are one number
    assert redact("the sum is 1,234.50.") == "the sum is X,XXX.XX."
    assert format_transcript("my pin is four one one two shit", smart=False, profanity=True, redaction=True) == (
        "my pin is X X X X ****"
    )


def test_redacted_timed_words() -> None:
    shown = format_words(timed("it costs one hundred and twenty dollars"), smart=False, profanity=True, redaction=True)
    assert [w for w, _, _, _ in shown] == ["it", "costs", "XXX", "dollars"]
    assert shown[2][1:3] == (1.0, 2.9)
