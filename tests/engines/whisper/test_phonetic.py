"""Sound-alike search for custom words in Whisper transcripts (engines/whisper/phonetic.py)."""

from __future__ import annotations

import json
from pathlib import Path

from parlance.customization.spoken import spoken_words
from parlance.engines.whisper.bias import WhisperBias, train_bias
from parlance.engines.whisper.phonetic import PhoneticIndex, term_pronunciations, word_phones

WORDS = [
    {"word": "subpoena", "sounds_like": ["sub pee na"]},
    {"word": "certiorari", "sounds_like": ["sir she oh rare ee"]},
    {"word": "Eliquis", "display_as": "Eliquis"},
    {"word": "APR", "sounds_like": ["A. P. R."], "display_as": "APR"},
]


def index() -> PhoneticIndex:
    return PhoneticIndex(term_pronunciations(WORDS, spoken_words))


def test_pronunciations_come_from_spelling_sounds_like_and_letters() -> None:
    prons = term_pronunciations(WORDS, spoken_words)
    assert set(prons) == {"subpoena", "certiorari", "Eliquis", "APR"}
    assert "S AH P IY N AH" in prons["subpoena"]  # CMUdict's reading of the spelling
    assert "EY P IY AA R" in prons["APR"]  # an acronym spelled out
    assert all(prons[w] for w in prons)


def test_respellings_and_splits_are_found() -> None:
    idx = index()
    assert word_phones("subbino")  # not in the dictionary: pieces and letter rules
    found = idx.matches("the client does not understand subbino".split())
    assert found[0].display == "subpoena" and (found[0].start, found[0].end) == (5, 6)
    split = idx.matches("put replevin and sarshi hoorari on the agenda".split())
    assert (split[0].display, split[0].start, split[0].end) == ("certiorari", 3, 5)


def test_general_speech_and_found_words_are_left_alone() -> None:
    idx = index()
    assert idx.matches("we walked along the river in the evening".split()) == []
    # a custom word already in the transcript is neither a span part nor proposed again
    assert all(m.display != "subpoena" for m in idx.matches("the subpoena was served".split()))


def test_trained_bias_keeps_pronunciations(tmp_path: Path) -> None:
    bias = train_bias(
        {"c": "the court issued a subpoena\nwe filed for certiorari"}, WORDS, 0.2, lambda t: [1] * len(t.split())
    )
    assert bias.phonetic and set(bias.pronunciations) == {"subpoena", "certiorari", "Eliquis", "APR"}
    bias.save(tmp_path)
    assert WhisperBias.load(tmp_path).pronunciations == bias.pronunciations
    doc = json.loads((tmp_path / "whisper_bias.json").read_text())
    del doc["pronunciations"]  # a model trained before sound-alike search: loads, searches nothing
    (tmp_path / "whisper_bias.json").write_text(json.dumps(doc))
    assert not WhisperBias.load(tmp_path).phonetic


def test_corpus_words_lead_the_prompt() -> None:
    words = [{"word": f"zyxw{c}"} for c in "abcdefgh"] + [{"word": "subpoena"}]
    bias = train_bias({"c": "the court issued a subpoena"}, words, 0.2, lambda t: [1] * len(t.split()))
    assert [t.display for t in bias.terms if t.source == "user"][0] == "subpoena"
