"""Pronunciations of custom words (dictionary, sounds_like, G2P) and Sphinx training edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parlance.engines.base import TrainingInput
from parlance.engines.pocketsphinx import g2p
from parlance.engines.pocketsphinx.dictionary import Pronouncer, read_dictionary, write_dictionary
from parlance.engines.pocketsphinx.training import train_custom_model
from parlance.engines.pocketsphinx.version import builtin_version, model_files


@pytest.fixture(scope="module")
def pronouncer() -> Pronouncer:
    return Pronouncer(read_dictionary(model_files(builtin_version())["dict"]))


def test_sounds_like_entries_are_concatenated_dictionary_words(pronouncer: Pronouncer) -> None:
    assert pronouncer.word_pronunciations("subrogation", ["sub row gay shun"]) == ["S AH B R OW G EY SH AH N"]
    assert pronouncer.word_pronunciations("APR", ["A. P. R."]) == ["EY P IY AA R"]
    assert pronouncer.word_pronunciations("SOFR", ["sofer", "so fur"]) == ["S OW F ER"]  # duplicates merged
    assert pronouncer.word_pronunciations("SOFR", ["sofer", "soafer"])[0] == "S OW F ER"
    # invalid entries are skipped (the word falls back to its spelling)
    assert pronouncer.word_pronunciations("escrow", ["75 dollars"]) == ["EH S K R OW"]


def test_words_outside_the_dictionary_get_a_pronunciation(pronouncer: Pronouncer) -> None:
    for word in ["finra", "ebitda", "fintech", "state-of-the-art", "o'brienovich", "zzyzx"]:
        phones = pronouncer.pronounce(word)
        assert phones and all(p.isupper() and p.isalpha() for p in phones), word
    assert pronouncer.pronounce("fintech") in (["F", "IH", "N", "T", "EH", "K"],)
    # acronyms also get their letters spelled out
    assert "EY P IY AA R" in pronouncer.word_pronunciations("APR")


def test_dictionary_decomposition_without_espeak(pronouncer: Pronouncer) -> None:
    assert g2p.decompose("fintech", pronouncer.lookup) == "F IH N T EH K".split()
    assert g2p.decompose("sarbanes", pronouncer.lookup) == "S AA R B EY N Z".split()
    assert g2p.decompose("x", pronouncer.lookup) == ["K", "S"]


@pytest.mark.skipif(g2p.espeak_binary() is None, reason="espeak-ng is not installed")
def test_espeak_ipa_maps_to_arpabet() -> None:
    prons = g2p.espeak_pronounce(["subrogation", "measure", "church"])
    assert prons["measure"] == "M EH ZH ER".split()
    assert prons["church"] == "CH ER CH".split()
    assert prons["subrogation"][:3] == ["S", "AH", "B"]


@pytest.mark.skipif(g2p.espeak_binary() is None, reason="espeak-ng is not installed")
def test_words_without_sounds_like_get_espeak_alternatives(pronouncer: Pronouncer) -> None:
    prons = pronouncer.word_pronunciations("amortization")
    assert prons[0] == pronouncer.dictionary["amortization"][0]  # the dictionary's first
    assert len(prons) == 2 and prons[1].startswith("AH M AO R")  # espeak-ng's reduced first vowel
    # sounds_like replaces the word's own pronunciations; acronyms get letter names instead
    assert pronouncer.word_pronunciations("amortization", ["am or tie zation"]) == [
        " ".join(pronouncer.sounds_like("am or tie zation"))
    ]
    assert pronouncer.word_pronunciations("APR")[-1] == "EY P IY AA R"
    batched = Pronouncer(pronouncer.dictionary)
    batched.prepare([], variants=["amortization", "escrow"])
    assert batched.word_pronunciations("amortization") == prons and not batched.cache


def test_write_dictionary_appends_alternatives(tmp_path: Path) -> None:
    base = tmp_path / "base.dict"
    base.write_text("escrow EH S K R OW\nfanny F AE N IY\n")
    write_dictionary(base, tmp_path / "out.dict", {"escrow": ["EH S K R OW", "EH S K R AW"], "finra": ["F IH N R AA"]})
    assert (tmp_path / "out.dict").read_text().splitlines() == [
        "escrow EH S K R OW",
        "fanny F AE N IY",
        "escrow(2) EH S K R AW",
        "finra F IH N R AA",
    ]


@pytest.mark.slow
def test_user_word_type_keeps_corpus_oov_words_out(tmp_path: Path) -> None:
    data = TrainingInput(
        corpora={"c": "the zorblax report mentions FINRA twice\nFINRA rules apply"},
        words=[{"word": "FINRA", "sounds_like": ["fin rah"], "display_as": "FINRA"}, {"word": "EBITDA"}],
        weight=0.3,
        word_type_to_add="user",
    )
    meta = train_custom_model(builtin_version(), data, tmp_path)
    assert set(meta["pronunciations"]) == {"finra", "ebitda"}
    assert meta["display"] == {"finra": "FINRA", "ebitda": "EBITDA"}
    dict_words = {line.split()[0] for line in (tmp_path / "custom.dict").read_text().splitlines()[-5:]}
    assert "zorblax" not in dict_words and "finra" in dict_words


@pytest.mark.slow
def test_words_only_and_corpus_oov_training(tmp_path: Path) -> None:
    words_only = TrainingInput(corpora={}, words=[{"word": "fintech"}], weight=0.5)
    meta = train_custom_model(builtin_version(), words_only, tmp_path / "a")
    assert meta["pronunciations"] == {"fintech": ["F IH N T EH K"]} and meta["weight"] == 0.5
    corpus_only = TrainingInput(corpora={"c": "the zorblax report (ignored qwertyx)"}, words=[], weight=0.3)
    meta = train_custom_model(builtin_version(), corpus_only, tmp_path / "b")
    assert set(meta["pronunciations"]) == {"zorblax"}
    assert json.loads((tmp_path / "b" / "model.json").read_text())["display"] == {}
