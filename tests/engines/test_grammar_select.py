"""Grammar-constrained selection among an engine's hypotheses (the Whisper path), with scripted scorers."""

from __future__ import annotations

from parlance.customization.srgs import compile_grammar
from parlance.engines import grammar_select
from parlance.engines.base import Alternative, Word

DIGITS = compile_grammar(
    "#ABNF 1.0; root $d; public $d = $digit <1-4>; $digit = zero | oh | one | two | five | eight;",
    "application/srgs",
)
COMMANDS = compile_grammar("#ABNF 1.0; root $c; public $c = yes | no | cancel | go back;", "application/srgs")
GARBAGE = compile_grammar("#ABNF 1.0; root $c; public $c = call $GARBAGE;", "application/srgs")


def alts(*texts: str) -> list[Alternative]:
    return [Alternative(t, 0.9 - 0.1 * i) for i, t in enumerate(texts)]


def scorer(table: dict[str, float], default: float = -20.0):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def score(sentences: list[str]) -> list[float]:
        seen.extend(sentences)
        return [table.get(s, default) for s in sentences]

    score.seen = seen  # type: ignore[attr-defined]
    return score


def test_prompt_text_is_deterministic_and_in_the_grammar() -> None:
    text = grammar_select.prompt_text(DIGITS)
    assert text == grammar_select.prompt_text(DIGITS) and text.endswith(".")
    sentences = text[:-1].split(", ")
    assert 1 < len(sentences) <= grammar_select.PROMPT_SENTENCES
    assert all(DIGITS.accepts(s.split()) for s in sentences)
    garbage = grammar_select.prompt_text(GARBAGE)
    assert "<garbage>" not in garbage and garbage.startswith("call")


def test_small_language_lists_every_sentence_of_a_small_finite_grammar() -> None:
    assert grammar_select.small_language(COMMANDS) == ("cancel", "go back", "no", "yes")
    assert grammar_select.small_language(DIGITS) == ()  # 6 + 36 + ... sentences: too many
    assert grammar_select.small_language(GARBAGE) == ()


def test_zero_and_oh_are_both_candidates_for_a_written_zero() -> None:
    assert set(grammar_select.variants("five zero", DIGITS)) == {"five zero", "five oh"}
    score = scorer({"five oh": -1.0, "five zero": -2.0})
    [best] = grammar_select.select(alts("5-0"), DIGITS, 1, score)
    assert best.transcript == "five oh" and {"five oh", "five zero"} <= set(score.seen)  # type: ignore[attr-defined]


def test_the_best_scoring_candidate_wins_and_alternatives_follow() -> None:
    # "eight eight" is accepted as written; "five two" is the grammar sentence nearest to "five to".
    score = scorer({"eight eight": -3.0, "five two": -0.5})
    out = grammar_select.select(alts("eight eight", "five to"), DIGITS, 2, score)
    assert [a.transcript for a in out] == ["five two", "eight eight"]
    assert out[0].confidence > out[1].confidence


def test_nothing_fits_gives_no_result() -> None:
    score = scorer({}, default=grammar_select.MIN_SCORE - 1)
    assert grammar_select.select(alts("the weather is lovely"), DIGITS, 1, score) == []
    assert grammar_select.select([], DIGITS, 1, score) == []


def test_a_candidate_far_below_what_was_heard_is_no_match() -> None:
    # Every grammar sentence fits well enough alone, but the unconstrained hypothesis fits the audio
    # much better: the speech was not a sentence of the grammar.
    heard, gap = "open the door to", grammar_select.MAX_MARGIN
    assert grammar_select.select(alts(heard), DIGITS, 1, scorer({heard: -0.2}, default=-0.3 - gap)) == []
    [near] = grammar_select.select(alts(heard), DIGITS, 1, scorer({heard: -0.2}, default=-0.1 - gap))
    assert DIGITS.accepts(near.transcript.split())


def test_results_are_always_sentences_of_the_grammar() -> None:
    score = scorer({}, default=-1.0)  # everything fits equally: whatever wins must be in the grammar
    for hyp in ("please send the report", "one two three four five six", "go", "yes please"):
        for grammar in (DIGITS, COMMANDS):
            for alt in grammar_select.select(alts(hyp), grammar, 3, score):
                assert grammar.accepts(alt.transcript.split()), (hyp, alt.transcript)


def test_without_a_scorer_accepted_hypotheses_then_close_spellings() -> None:
    timed = Alternative("go back", 0.8, (Word("go", 0.1, 0.3, 0.9), Word("back", 0.3, 0.6, 0.7)))
    [out] = grammar_select.select([timed], COMMANDS, 1)
    assert out == timed
    [near] = grammar_select.select(alts("cancelled"), COMMANDS, 1)
    assert near.transcript == "cancel"
    assert grammar_select.select(alts("the weather"), COMMANDS, 1) == []
