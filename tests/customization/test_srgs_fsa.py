"""The compiled grammar: nearest sentence, sampling, storage, and PocketSphinx FSG output (checked
with PocketSphinx's own FSG reader, `FsgModel.accept`)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from pocketsphinx import Decoder

from parlance.customization.grammar_fsa import FSA, GARBAGE, Grammar, pronunciation_similarity
from parlance.customization.srgs import ABNF, XML, compile_grammar
from parlance.engines.pocketsphinx.dictionary import read_dictionary
from parlance.engines.pocketsphinx.version import builtin_version, model_files
from tests.customization.test_srgs import (
    CARDS_ABNF,
    COMMANDS_ABNF,
    DIGITS_ABNF,
    DIGITS_XML,
    abnf,
    equivalent,
    language,
)

GRAMMARS = {
    "digits": DIGITS_ABNF,
    "cards": CARDS_ABNF,
    "commands": COMMANDS_ABNF,
    "loops": "#ABNF 1.0;\nroot $a;\n$a = ([yes] [no])* | $GARBAGE cancel | (stop | go)+ now;",
    "repeats": "#ABNF 1.0;\nroot $a;\n$a = one <2-4> [two <0-2>] three;",
    "weights": "#ABNF 1.0;\nroot $a;\n$a = /2/ (yes [please]) | /1/ (no <1->) | /0.5/ $NULL hello;",
}


@pytest.fixture(scope="module")
def reader() -> Decoder:
    return Decoder(lm=None, loglevel="FATAL")


def test_closest_corrects_a_misrecognized_word() -> None:
    g = compile_grammar(DIGITS_ABNF, ABNF)
    assert g.closest(["one", "too", "three"]) == (["one", "two", "three"], 1)
    assert g.closest(["One", "TWO"]) == (["one", "two"], 0)
    assert g.closest(["for", "ate"]) == (["four", "three"], 2)  # by spelling, "ate" is nearest "three"


def test_closest_by_pronunciation() -> None:
    g = compile_grammar(DIGITS_ABNF, ABNF)
    cmudict = read_dictionary(model_files(builtin_version())["dict"])
    similar = pronunciation_similarity(cmudict)
    assert g.closest(["for", "ate", "too"], similarity=similar) == (["four", "eight", "two"], 3)
    assert g.closest(["won", "xyzzy"], similarity=similar) == (["one", "six"], 2)  # unknown: by spelling


def test_closest_inserts_and_deletes() -> None:
    g = compile_grammar(CARDS_ABNF, ABNF)
    assert g.closest("ten of uh clubs".split()) == (["ten", "of", "clubs"], 1)  # drop a word
    assert g.closest("ten of".split())[1] == 1  # a suit is missing
    words, distance = g.closest([])
    assert distance == len(words) == 2  # the shortest sentences have two words, e.g. "ace ace"
    words, distance = g.closest("the ace of spades and the two of hearts".split())
    assert g.accepts(words) and distance == 3 and words[-3:] == ["two", "of", "hearts"]


def test_closest_of_a_sentence_is_itself() -> None:
    rng = random.Random(5)
    for source in GRAMMARS.values():
        g = compile_grammar(source, ABNF)
        for sentence in g.sample(rng, 30):
            if GARBAGE not in sentence:
                assert g.closest(sentence) == (sentence, 0)


def test_closest_is_always_in_the_grammar_and_no_farther_than_a_known_sentence() -> None:
    rng = random.Random(11)
    g = compile_grammar(CARDS_ABNF, ABNF)
    vocab = sorted(g.vocabulary()) + ["uh", "the"]
    for _ in range(100):
        hyp = rng.choices(vocab, k=rng.randint(0, 9))
        words, distance = g.closest(hyp)
        assert g.accepts(words)
        assert distance <= len(hyp) + 2  # e.g. delete everything, then say "ace ace"
        assert distance == _edit_distance(hyp, words)


def _edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_closest_with_garbage_keeps_the_absorbed_words() -> None:
    g = abnf("$GARBAGE (yes | no) $GARBAGE")
    assert g.closest("well yes please".split()) == (["well", "yes", "please"], 0)
    words, distance = g.closest("well maybe".split())
    assert distance == 1 and words[0] == "well" and words[1] in ("yes", "no")
    assert g.closest([]) in ((["yes"], 1), (["no"], 1))


def test_closest_with_a_custom_similarity() -> None:
    g = abnf("alpha | omega")
    assert g.closest(["x"], similarity=lambda a, b: 1.0 if b == "omega" else 0.0) == (["omega"], 1)
    assert g.closest(["x"], similarity=lambda a, b: 1.0 if b == "alpha" else 0.0) == (["alpha"], 1)


def test_sample_returns_accepted_sentences() -> None:
    rng = random.Random(1)
    for source in GRAMMARS.values():
        g = compile_grammar(source, ABNF)
        samples = g.sample(rng, 50)
        assert len(samples) == 50 and all(g.accepts(s) for s in samples)
    g = compile_grammar(GRAMMARS["weights"], ABNF)
    firsts = [s[0] if s else "" for s in g.sample(random.Random(2), 2000)]
    assert firsts.count("yes") > firsts.count("no") > firsts.count("hello") > 100  # weights 2 : 1 : 0.5


def test_sample_is_reproducible() -> None:
    g = compile_grammar(CARDS_ABNF, ABNF)
    assert g.sample(random.Random(9), 20) == g.sample(random.Random(9), 20)


def test_vocabulary_and_size() -> None:
    g = compile_grammar(GRAMMARS["loops"], ABNF)
    assert g.vocabulary() == {"yes", "no", "cancel", "stop", "go", "now"}
    assert g.size == g.fsa.num_states > 1


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_json_round_trip(name: str) -> None:
    g = compile_grammar(GRAMMARS[name], ABNF)
    stored = g.to_json()
    json.loads(stored)
    again = Grammar.from_json(stored)
    assert again.fsa == g.fsa and again.root == g.root and again.media_type == ABNF
    assert again.to_fsg("x") == g.to_fsg("x")
    assert Grammar.from_json(json.loads(stored)).fsa == g.fsa


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        '{"format": "other"}',
        '{"format": "parlance-grammar-fsa", "version": 1}',
        '{"format": "parlance-grammar-fsa", "version": 1, "num_states": 2, "start": 5, "finals": [], "arcs": []}',
        '{"format": "parlance-grammar-fsa", "version": 1, "num_states": 2, "start": 0, "finals": [1],'
        ' "arcs": [[0, 9, "x", 1]]}',
        '{"format": "parlance-grammar-fsa", "version": 1, "num_states": 2, "start": 0, "finals": [1],'
        ' "arcs": [[0, 1, "x", -1]]}',
        '{"format": "parlance-grammar-fsa", "version": 1, "num_states": 2, "start": 0, "finals": [7], "arcs": []}',
        '{"format": "parlance-grammar-fsa", "version": 1, "num_states": 2, "start": 0, "finals": [1], "arcs": [1]}',
    ],
)
def test_from_json_rejects_anything_else(data: str) -> None:
    with pytest.raises(ValueError):
        Grammar.from_json(data)


def parse_fsg(text: str) -> tuple[Grammar, dict[int, float]]:
    """Our reading of FSG text: the automaton and the total probability leaving each state."""
    lines = text.strip().splitlines()
    assert lines[0].startswith("FSG_BEGIN ") and lines[-1] == "FSG_END"
    n = int(lines[1].split()[1])
    start = int(lines[2].split()[1])
    final = int(lines[3].split()[1])
    assert lines[1].startswith("NUM_STATES") and lines[2].startswith("START_STATE") and lines[3].startswith("FINAL")
    arcs, totals = [], {}
    for line in lines[4:-1]:
        parts = line.split()
        assert parts[0] == "TRANSITION" and len(parts) in (4, 5)
        s, d, p = int(parts[1]), int(parts[2]), float(parts[3])
        assert 0 <= s < n and 0 <= d < n and 0 < p <= 1
        arcs.append((s, d, parts[4] if len(parts) == 5 else None, p))
        totals[s] = totals.get(s, 0.0) + p
    return Grammar(FSA(n, start, frozenset({final}), tuple(arcs))), totals


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_fsg_has_one_final_state_normalised_probabilities_and_the_same_language(name: str) -> None:
    g = compile_grammar(GRAMMARS[name], ABNF)
    fsg, totals = parse_fsg(g.to_fsg(name))
    assert all(abs(t - 1) < 1e-4 for t in totals.values())
    assert not any(s in fsg.fsa.finals for s, _, _, _ in fsg.fsa.arcs)  # the final state has no departures
    if name == "loops":  # $GARBAGE becomes an epsilon: "cancel" alone stays, "uh cancel" goes
        assert fsg.accepts(["cancel"]) and not fsg.accepts(["uh", "cancel"]) and g.accepts(["uh", "cancel"])
        assert GARBAGE not in g.to_fsg()
    else:
        assert equivalent(fsg, g)


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_pocketsphinx_reads_the_fsg_and_accepts_the_same_sentences(name: str, reader: Decoder, tmp_path: Path) -> None:
    g = compile_grammar(GRAMMARS[name], ABNF)
    path = tmp_path / f"{name}.fsg"
    path.write_text(g.to_fsg(name))
    model = reader.read_fsg(str(path))
    rng = random.Random(4)
    samples = [s for s in g.sample(rng, 100) if GARBAGE not in s]
    for sentence in samples:
        assert model.accept(" ".join(sentence)), sentence
    vocab = sorted(g.vocabulary())
    for _ in range(300):
        words = rng.choices(vocab, k=rng.randint(0, 8))
        if name != "loops":
            assert bool(model.accept(" ".join(words))) == g.accepts(words), words


def test_fsg_names_are_sanitised() -> None:
    assert abnf("x").to_fsg("my grammar/1").startswith("FSG_BEGIN my_grammar_1\n")


def test_fsg_from_xml_and_abnf_digits_are_identical() -> None:
    a, x = compile_grammar(DIGITS_ABNF, ABNF), compile_grammar(DIGITS_XML, XML)
    assert a.to_fsg("digits") == x.to_fsg("digits")
    assert re.search(r"^NUM_STATES 1[01]$", a.to_fsg(), re.M)


def test_multiple_final_states_get_a_new_final_state() -> None:
    fsa = FSA(3, 0, frozenset({1, 2}), ((0, 1, "a", 1.0), (1, 2, "b", 1.0)))
    g = Grammar(fsa)
    text = g.to_fsg()
    assert "NUM_STATES 4" in text and "FINAL_STATE 3" in text
    parsed, totals = parse_fsg(text)
    assert language(parsed) == {("a",), ("a", "b")}
    assert totals[1] == pytest.approx(1.0)
