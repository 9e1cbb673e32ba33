from __future__ import annotations

from parlance.services.formatting import censor, smart_format, spot_keywords


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
