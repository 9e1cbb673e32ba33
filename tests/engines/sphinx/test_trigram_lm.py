"""The numpy trigram LM: Kneser-Ney estimation, interpolation, and PocketSphinx's binary trie format
(checked against PocketSphinx's own reader through `pocketsphinx.NGramModel.prob`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pocketsphinx import Config, LogMath, NGramModel

from parlance.engines.pocketsphinx import trigram_lm as sphinx_lm
from parlance.engines.pocketsphinx.trigram_lm import BOS, EOS, TrigramLM, interpolate, train_kn, write_trie_bin
from parlance.engines.pocketsphinx.version import builtin_version, model_files

SPHINX_PER_LOG10 = math.log(10) / math.log(1.0001)
CORPUS = [
    "the board reviewed subrogation for the third quarter",
    "our bitcoin exposure grew last year",
    "the board reviewed the escrow terms",
    "we need a memo on sarbanes before friday",
    "the auditors flagged fintech and finra",
    "the board met on friday",
]


def _model(sentences: list[str], words: list[str]) -> TrigramLM:
    ids = {w: i for i, w in enumerate(words)}
    return train_kn([np.array([ids[t] for t in s.split()]) for s in sentences], words)


def _vocab(*corpora: list[str]) -> list[str]:
    return [BOS, EOS, *sorted({t for c in corpora for s in c for t in s.split()})]


def _sphinx(path: Path) -> NGramModel:
    return NGramModel(Config(lm=None, loglevel="FATAL"), LogMath(), str(path))


def _distribution(lm: TrigramLM, context: tuple[str, ...]) -> float:
    return sum(10 ** lm.logprob(w, context) for w in lm.words if w != BOS)


def test_kneser_ney_distributions_sum_to_one() -> None:
    lm = _model(CORPUS, _vocab(CORPUS))
    for context in [(), ("the",), ("the", "board"), ("board", "reviewed"), ("zebra",), ("our", "the")]:
        assert _distribution(lm, tuple(c for c in context if c in lm.words)) == pytest.approx(1.0, abs=1e-9)
    # "the board" follows <s> three times, "the escrow" once
    assert lm.logprob("board", (BOS, "the")) > lm.logprob("escrow", (BOS, "the"))


def test_interpolation_is_normalized_and_between_the_models() -> None:
    other = ["the market fell on friday", "the board sold the bitcoin"]
    words = _vocab(CORPUS, other)
    a, b = _model(CORPUS, words), _model(other, words)
    mixed = interpolate(a, b, 0.3)
    for context in [(), ("the",), ("the", "board"), ("on",), ("market", "fell")]:
        assert _distribution(mixed, context) == pytest.approx(1.0, abs=1e-6)
    for word, ctx in [("board", ("the",)), ("market", ("the",)), ("friday", ("fell", "on"))]:
        expected = 0.7 * 10 ** a.logprob(word, ctx) + 0.3 * 10 ** b.logprob(word, ctx)
        # explicit n-grams are mixed exactly; backed-off ones follow the recomputed weights
        assert 10 ** mixed.logprob(word, ctx) == pytest.approx(expected, rel=0.05)


def test_boost_raises_the_chosen_words_in_every_context() -> None:
    words = _vocab(CORPUS)
    lm = _model(CORPUS, words)
    ids = lm.word_ids()
    boosted = sphinx_lm.boost_words(lm, np.array([ids["bitcoin"], ids["escrow"]]), 1.5)
    for ctx in [(), ("the",), ("the", "board"), ("our",), ("zebra",)]:
        for word in ("bitcoin", "escrow"):
            assert boosted.logprob(word, ctx) == pytest.approx(lm.logprob(word, ctx) + 1.5)
        assert boosted.logprob("board", ctx) == pytest.approx(lm.logprob("board", ctx))
    assert boosted.uni_p[ids[BOS]] == lm.uni_p[ids[BOS]]
    assert sphinx_lm.boost_words(lm, np.array([], dtype=np.int64), 1.5) is lm


def test_trie_binary_round_trips_through_pocketsphinx(tmp_path: Path) -> None:
    lm = _model(CORPUS, _vocab(CORPUS))
    write_trie_bin(lm, tmp_path / "tiny.lm.bin")
    sphinx = _sphinx(tmp_path / "tiny.lm.bin")
    assert sphinx_lm.read_trie_words(tmp_path / "tiny.lm.bin") == lm.words
    back = sphinx_lm.read_trie_bin(tmp_path / "tiny.lm.bin")
    assert back.counts == lm.counts
    for sentence in CORPUS[:3] + ["friday the board grew exposure"]:
        tokens = [BOS, *sentence.split(), EOS]
        for i in range(1, len(tokens)):
            ctx = tuple(tokens[max(0, i - 2) : i])
            ours = lm.logprob(tokens[i], ctx) * SPHINX_PER_LOG10
            theirs = sphinx.prob([tokens[i], *reversed(ctx)])
            assert abs(ours - theirs) < 5, (tokens[i], ctx)  # quantization: < 0.0005 log10


@pytest.mark.slow
def test_bundled_lm_reads_and_rewrites_identically(tmp_path: Path) -> None:
    path = model_files(builtin_version())["lm"]
    lm = sphinx_lm.load_base_lm(path)
    assert lm.counts[0] == 72547 and lm.counts[2] > 1_000_000
    write_trie_bin(lm, tmp_path / "copy.lm.bin")
    original, copy = _sphinx(path), _sphinx(tmp_path / "copy.lm.bin")
    rng = np.random.default_rng(7)
    for i in rng.integers(0, lm.counts[2], 200):
        words = [lm.words[lm.tri_w[i]], lm.words[lm.tri_v[i]], lm.words[lm.tri_u[i]]]
        assert abs(original.prob(words) - copy.prob(words)) <= 20
        assert abs(lm.logprob(words[0], (words[2], words[1])) * SPHINX_PER_LOG10 - original.prob(words)) <= 2
    for ids in rng.integers(0, lm.counts[0], (200, 3)):
        words = [lm.words[j] for j in ids]
        assert abs(original.prob(words) - copy.prob(words)) <= 20


def test_unigram_only_model_writes_and_loads(tmp_path: Path) -> None:
    words = [BOS, EOS, "escrow", "finra"]
    lm = train_kn([], words, np.array([0.0, 0.0, 2.0, 1.0]))
    assert lm.counts == (4, 0, 0)
    write_trie_bin(lm, tmp_path / "uni.lm.bin")
    assert _sphinx(tmp_path / "uni.lm.bin").prob(["escrow"]) == pytest.approx(
        lm.logprob("escrow") * SPHINX_PER_LOG10, abs=2
    )
