"""The n-gram LM: proper distributions, hand-checked Kneser-Ney values, ARPA round trip."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from parlance.customization.ngram import BOS, UNK, NgramLM, id_stream, kneser_ney, sentences, tokenize
from tests.testdata import FINANCE

CORPUS = FINANCE / "corpus.txt"


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    return list(sentences(CORPUS.read_text()))


def test_tokenize_lowercases_and_keeps_inner_apostrophes() -> None:
    assert tokenize("The board's Q3 memo, re: EBITDA — 'final'!") == [
        "the",
        "board's",
        "q3",
        "memo",
        "re",
        "ebitda",
        "final",
    ]
    assert tokenize("  \n") == []


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_gives_a_distribution(corpus: list[list[str]], order: int) -> None:
    lm = NgramLM.train(corpus, order=order)
    vocab = [w for w in lm.vocab if w != BOS]
    for context in [(), (BOS,), ("the",), ("the", "board"), ("never", "seen"), (BOS, "the")]:
        total = sum(10 ** lm.logprob(w, context) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-9), context


def test_hand_checked_kneser_ney_values() -> None:
    # <s> a b </s>: bigram counts 1 each; too little data to estimate discounts, so D1 = 0.5.
    lm = NgramLM.train([["a", "b"]], order=2)
    # unigram: continuation counts a=b=</s>=1, gamma() = 0.5 * 3 / 3, uniform over {a, b, </s>, <unk>}
    assert 10 ** lm.logprob("a") == pytest.approx(0.5 / 3 + 0.5 * 0.25)
    assert 10 ** lm.logprob(UNK) == pytest.approx(0.5 * 0.25)
    assert 10 ** lm.logprob("b", ["a"]) == pytest.approx(0.5 + 0.5 * (0.5 / 3 + 0.125))
    assert 10 ** lm.logprob("zzz", ["a"]) == pytest.approx(0.5 * 0.125)  # back-off to <unk>
    assert lm.score(["a", "b"]) == pytest.approx(
        lm.logprob("a", [BOS]) + lm.logprob("b", ["a"]) + lm.logprob("</s>", ["b"])
    )


def test_in_domain_text_is_more_probable(corpus: list[list[str]]) -> None:
    lm = NgramLM.train(corpus, order=3)
    domain = lm.perplexity([tokenize("we need a memo on escrow before friday")])
    general = lm.perplexity([tokenize("he was not an ill disposed young man")])
    assert domain < 10 < general


def test_short_sentences_and_empty_input() -> None:
    lm = NgramLM.train([[], ["a"], ["a", "b", "c", "d"]], order=4)
    assert math.isfinite(lm.score([])) and math.isfinite(lm.score(["a"]))
    with pytest.raises(ValueError):
        NgramLM.train([[], []])
    with pytest.raises(ValueError):
        NgramLM.train([["a"]], order=0)


def test_arpa_round_trip(tmp_path: Path, corpus: list[list[str]]) -> None:
    lm = NgramLM.train(corpus, order=3)
    path = tmp_path / "lm.arpa"
    lm.write_arpa(path)
    text = path.read_text()
    assert text.startswith("\\data\\\nngram 1=") and text.rstrip().endswith("\\end\\")
    again = NgramLM.read_arpa(path)
    assert again.counts() == lm.counts()
    for tokens in corpus[:40] + [tokenize("what is the unheard of rate")]:
        assert again.score(tokens) == pytest.approx(lm.score(tokens), abs=1e-4)
    with pytest.raises(ValueError):
        (tmp_path / "bad.arpa").write_text("hello\n")
        NgramLM.read_arpa(tmp_path / "bad.arpa")


def test_progress_moves_and_training_is_fast(corpus: list[list[str]]) -> None:
    seen: list[float] = []
    big = corpus * 250  # 350k tokens
    start = time.perf_counter()
    NgramLM.train(big, order=3, progress=seen.append)
    assert time.perf_counter() - start < 10
    assert len(set(seen)) >= 4 and seen == sorted(seen) and seen[-1] == 1.0


def test_kneser_ney_on_ids_breaks_ngrams_at_left_out_words() -> None:
    # ids: <s>=0 </s>=1 a=2 b=3 c=4 d=5 (d is in the vocabulary but never seen); -1 = a word left out
    stream = id_stream([np.array([2, 3]), np.array([4, -1, 2, 3])], bos=0, eos=1)
    kn = kneser_ney(stream, 6, bos=0, eos=1, order=3)
    assert kn.grams[2].tolist() == [[0, 2], [0, 4], [2, 3], [3, 1]]  # nothing across the break
    assert kn.grams[3].tolist() == [[0, 2, 3], [2, 3, 1]]
    unigrams = 10 ** kn.logprobs[1]
    assert unigrams[1:].sum() == pytest.approx(1.0) and unigrams[5] > 0  # uniform share for unseen d
    for k in (2, 3):  # every seen context's explicit probabilities leave mass for back-off
        for context in {tuple(g[:-1]) for g in kn.grams[k].tolist()}:
            rows = [i for i, g in enumerate(kn.grams[k].tolist()) if tuple(g[:-1]) == context]
            assert 0 < sum(10 ** kn.logprobs[k][rows]) < 1
