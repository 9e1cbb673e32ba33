"""Whisper custom-model training: rewrite rules, term ranking, prompt budget, artifacts, speed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from parlance.customization.spoken import spoken_words
from parlance.engines.whisper import WhisperEngine, builtin_version
from parlance.engines.whisper.bias import (
    ARTIFACT,
    LM_FILE,
    PROMPT_BUDGET,
    Term,
    WhisperBias,
    build_prompt,
    load_cached,
    train_bias,
    user_rules,
)
from parlance.engines.whisper.rewriter import Rewriter, Rule
from tests.testdata import FINANCE

CORPUS = (FINANCE / "corpus.txt").read_text()
WORDS = json.loads((FINANCE / "words.json").read_text())["words"]


@pytest.fixture(scope="module")
def encode():
    return WhisperEngine()._encoder(builtin_version())


def test_spoken_words_follow_watson_style() -> None:
    assert spoken_words("Mr. Dashwood's cold-hearted plan!") == ["mister", "dashwood's", "cold", "hearted", "plan"]
    assert (
        spoken_words("In 1990 we paid $3.50, 25% of 1,200.")
        == (
            "in nineteen ninety we paid three dollars fifty cents twenty five percent of one thousand two hundred"
        ).split()
    )
    assert spoken_words("the 3rd of 2005") == ["the", "third", "of", "two", "thousand", "five"]
    assert spoken_words("A. P. R.") == ["a", "p", "r"]


def test_rewriter_matches_whole_words_longest_first() -> None:
    rewriter = Rewriter([Rule(("fin", "tech"), "fintech"), Rule(("fin",), "FIN"), Rule(("fanny",), "Fannie")])
    assert rewriter.apply("how does Fanny affect fin tech and fin".split()) == [
        "how", "does", "Fannie", "affect", "fintech", "and", "FIN",
    ]  # fmt: skip
    assert rewriter.apply(["fanny's", "finny"]) == ["fanny's", "finny"]
    assert rewriter.spans(["fin", "tech"]) == [(0, 2, "fintech")]


def test_user_rules_cover_sounds_like_display_as_and_acronyms() -> None:
    terms, rules = user_rules(WORDS)
    assert [t.display for t in terms][:3] == ["EBITDA", "FINRA", "SOFR"]
    assert all(t.source == "user" for t in terms) and terms[0].score > terms[-1].score
    rewriter = Rewriter(rules)
    said = "the a p r and apr of fin tech fin rah sar banes fanny sofer sub row gay shun bitcoin".split()
    assert rewriter.apply(said) == [
        "the", "APR", "and", "APR", "of", "fintech", "FINRA", "Sarbanes", "Fannie", "SOFR", "subrogation", "Bitcoin",
    ]  # fmt: skip
    assert len(rules) == len(set(rules))
    mapped, _ = user_rules([{"word": "IBM", "sounds_like": ["i b m"], "mapping_only": True}])
    assert mapped == []


def test_prompt_puts_user_words_first_and_stays_in_budget(encode) -> None:
    bias = train_bias({"finance": CORPUS}, WORDS, 0.2, encode)
    assert len(bias.prompt_tokens) <= PROMPT_BUDGET
    assert bias.prompt_tokens == encode(" " + bias.prompt)
    for term in ("EBITDA", "FINRA", "SOFR", "subrogation", "Sarbanes", "Fannie", "APR"):
        assert term in bias.prompt
    corpus_terms = [t.display for t in bias.terms if t.source == "corpus"]
    assert "auditors" in corpus_terms and "the" not in corpus_terms
    # many user words: the budget holds, the first words win
    many = [{"word": f"Zyqx{i}orb"} for i in range(300)]
    text, tokens = build_prompt(user_rules(many)[0], [], encode)
    assert len(tokens) <= PROMPT_BUDGET and text.startswith("Zyqx0orb, Zyqx1orb")


def test_training_writes_artifacts_that_load_back(tmp_path: Path, encode) -> None:
    progress: list[int] = []
    engine = WhisperEngine()
    version = builtin_version()
    from parlance.engines.base import TrainingInput

    started = time.perf_counter()
    engine.train(version, TrainingInput({"finance": CORPUS}, WORDS, 0.2), tmp_path, progress.append)
    seconds = time.perf_counter() - started
    print(f"\nfinance training: {seconds:.2f} s")
    assert seconds < 5
    assert progress == sorted(progress) and len(set(progress)) >= 8 and progress[-1] == 100
    assert {p.name for p in tmp_path.iterdir()} == {ARTIFACT, LM_FILE}
    bias = load_cached(tmp_path)
    assert bias is load_cached(tmp_path)  # cached by path and mtime
    assert bias.lm is not None and bias.weight == 0.2
    assert bias.lm_bonus(["the", "APR", "summary"]) > bias.lm_bonus(["the", "pier", "summary"]) >= 0
    assert bias.lm_bonus(["zebra", "quux"]) == pytest.approx(0.0, abs=1e-9)
    # retraining replaces the cached copy
    engine.train(version, TrainingInput({}, WORDS[:2], 0.5), tmp_path, lambda _p: None)
    os.utime(tmp_path / ARTIFACT, (time.time() + 5, time.time() + 5))
    again = load_cached(tmp_path)
    assert again is not bias and again.weight == 0.5 and [t.display for t in again.terms] == ["EBITDA", "FINRA"]


def test_words_only_model_has_no_corpus_terms(encode) -> None:
    bias = train_bias({}, [{"word": "Kubernetes"}], 0.2, encode)
    assert bias.terms == [Term("Kubernetes", "user", 1.0)] and "Kubernetes" in bias.prompt
    assert isinstance(bias, WhisperBias)


@pytest.mark.slow
def test_million_word_corpus_trains_in_seconds(encode) -> None:
    lines = CORPUS.splitlines()
    big = "\n".join(f"{line} item{i % 5000} ref{i % 997}" for i, line in enumerate(lines * 560))
    started = time.perf_counter()
    bias = train_bias({"big": big}, WORDS, 0.2, encode)
    seconds = time.perf_counter() - started
    print(f"\n1M-word corpus: {bias.stats['corpus_words']} words, {seconds:.1f} s, n-grams {bias.stats['lm_ngrams']}")
    assert bias.stats["corpus_words"] >= 1_000_000
    assert seconds < 30
