"""SRGS grammars (ABNF and XML forms): what compiles to which language, and the 400s for the rest."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from parlance.customization.grammar_fsa import GARBAGE, Grammar
from parlance.customization.srgs import ABNF, XML, GrammarError, compile_grammar
from parlance.errors import BadRequest

CARDS_DIR = Path("/usr/share/pocketsphinx/test/data/cards")

DIGITS_ABNF = (
    "#ABNF 1.0;\nlanguage en-US;\nmode voice;\nroot $digits;\npublic $digits = $digit <1-10>;\n"
    "$digit = zero | one | two | three | four | five | six | seven | eight | nine | oh;"
)
DIGITS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<grammar root="digits" version="1.0" xmlns="http://www.w3.org/2001/06/grammar" mode="voice" xml:lang="en-US">
  <rule id="digits" scope="public">
    <item repeat="1-10"><ruleref uri="#digit"/></item>
  </rule>
  <rule id="digit">
    <one-of>
      <item>zero</item> <item>one</item> <item>two</item> <item>three</item> <item>four</item> <item>five</item>
      <item>six</item> <item>seven</item> <item>eight</item> <item>nine</item> <item>oh</item>
    </one-of>
  </rule>
</grammar>
"""
DIGIT_WORDS = "zero one two three four five six seven eight nine oh".split()

# The JSGF grammar of PocketSphinx's cards test data (cards.gram), in both SRGS forms.
CARDS_ABNF = """#ABNF 1.0 UTF-8;
language en-US;
mode voice;
root $cards;
// cards.gram from the PocketSphinx test data, translated from JSGF
public $cards = $cards_3 | $cards_2 | $card | $cards_same_suit | $cards_no_suit;
$cards_3 = $card $card $card;
$cards_2 = $card $card;
$cards_same_suit = $rank $card;
$cards_no_suit = $rank $rank;
$card = $rank [of] $suits;
$suits = clubs | hearts | diamonds | spades;
$rank = ace | two | three | four | five | six | seven | eight | nine | ten | jack | queen | king | lady;
"""
CARDS_XML = """<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" xml:lang="en-US" root="cards">
  <rule id="cards" scope="public">
    <one-of>
      <item><ruleref uri="#card"/><ruleref uri="#card"/><ruleref uri="#card"/></item>
      <item><ruleref uri="#card"/><ruleref uri="#card"/></item>
      <item><ruleref uri="#card"/></item>
      <item><ruleref uri="#rank"/><ruleref uri="#card"/></item>
      <item><ruleref uri="#rank"/><ruleref uri="#rank"/></item>
    </one-of>
  </rule>
  <rule id="card"><ruleref uri="#rank"/> <item repeat="0-1">of</item> <ruleref uri="#suits"/></rule>
  <rule id="suits"><one-of><item>clubs</item><item>hearts</item><item>diamonds</item><item>spades</item></one-of></rule>
  <rule id="rank">
    <one-of>
      <item>ace</item><item>two</item><item>three</item><item>four</item><item>five</item><item>six</item>
      <item>seven</item><item>eight</item><item>nine</item><item>ten</item><item>jack</item><item>queen</item>
      <item>king</item><item>lady</item>
    </one-of>
  </rule>
</grammar>
"""

COMMANDS_ABNF = """#ABNF 1.0;
mode voice;
root $command;
public $command = [please] $action [now | thanks];
$action = /5/ yes | /5/ no | /1/ cancel | "never mind";
"""
COMMANDS_XML = """<grammar version="1.0" root="command" xmlns="http://www.w3.org/2001/06/grammar">
  <rule id="command" scope="public">
    <item repeat="0-1">please</item>
    <ruleref uri="#action"/>
    <item repeat="0-1"><one-of><item>now</item><item>thanks</item></one-of></item>
  </rule>
  <rule id="action">
    <one-of>
      <item weight="5">yes</item><item weight="5">no</item><item weight="1">cancel</item>
      <item><token>never mind</token></item>
    </one-of>
  </rule>
</grammar>
"""


def abnf(body: str, *rules: str, root: str = "a") -> Grammar:
    """Compile `$a = body;` (plus more rule lines) as ABNF."""
    text = "\n".join(["#ABNF 1.0;", f"root ${root};", f"public $a = {body};", *rules])
    return compile_grammar(text, ABNF)


def xml(rules: str, root: str = "a") -> Grammar:
    text = f'<grammar version="1.0" root="{root}" xmlns="http://www.w3.org/2001/06/grammar">\n{rules}\n</grammar>'
    return compile_grammar(text, XML)


def language(g: Grammar, max_words: int = 6) -> set[tuple[str, ...]]:
    """All sentences of at most `max_words` words (breadth-first over the automaton)."""
    out: dict[int, list[tuple[int, str | None]]] = {}
    for s, d, w, _ in g.fsa.arcs:
        out.setdefault(s, []).append((d, w))
    found: set[tuple[str, ...]] = set()
    frontier = {(g.fsa.start, ())}
    seen = set(frontier)
    while frontier:
        nxt = set()
        for q, words in frontier:
            if q in g.fsa.finals:
                found.add(words)
            for d, w in out.get(q, ()):
                item = (d, words if w is None else (*words, w))
                if len(item[1]) <= max_words and item not in seen:
                    seen.add(item)
                    nxt.add(item)
        frontier = nxt
    return found


def equivalent(a: Grammar, b: Grammar) -> bool:
    """Exact language equality: subset construction of both, explored in product."""

    def closure(g: Grammar, states: Iterable[int]) -> frozenset[int]:
        seen, stack = set(states), list(states)
        while stack:
            q = stack.pop()
            for s, d, w, _ in g.fsa.arcs:
                if s == q and w is None and d not in seen:
                    seen.add(d)
                    stack.append(d)
        return frozenset(seen)

    def step(g: Grammar, states: frozenset[int], word: str) -> frozenset[int]:
        return closure(g, {d for s, d, w, _ in g.fsa.arcs if s in states and w == word})

    words = sorted(a.vocabulary() | b.vocabulary() | {GARBAGE})
    start = (closure(a, [a.fsa.start]), closure(b, [b.fsa.start]))
    seen, stack = {start}, [start]
    while stack:
        x, y = stack.pop()
        if bool(x & a.fsa.finals) != bool(y & b.fsa.finals):
            return False
        for w in words:
            pair = (step(a, x, w), step(b, y, w))
            if pair not in seen:
                seen.add(pair)
                stack.append(pair)
    return True


# -- the two forms agree ---------------------------------------------------------------------------


def test_digits_abnf_and_xml_compile_to_the_same_language() -> None:
    a, x = compile_grammar(DIGITS_ABNF, ABNF), compile_grammar(DIGITS_XML, XML)
    assert equivalent(a, x)
    assert a.vocabulary() == x.vocabulary() == set(DIGIT_WORDS)
    assert a.root == x.root == "digits"
    rng = random.Random(7)
    for sentence in a.sample(rng, 200) + x.sample(rng, 200):
        assert 1 <= len(sentence) <= 10
        assert a.accepts(sentence) and x.accepts(sentence)
    for _ in range(500):  # random word strings, mostly rejected: both must agree
        words = rng.choices([*DIGIT_WORDS, "ten", "of"], k=rng.randint(0, 12))
        expected = 1 <= len(words) <= 10 and set(words) <= set(DIGIT_WORDS)
        assert a.accepts(words) is x.accepts(words) is expected
    assert not a.accepts([]) and not a.accepts(["one"] * 11) and a.accepts(["oh"] * 10)


def test_digits_automaton_is_small() -> None:
    g = compile_grammar(DIGITS_ABNF, ABNF)
    assert g.size <= 12  # one state per position plus the final one


@pytest.mark.parametrize("text,kind", [(CARDS_ABNF, ABNF), (CARDS_XML, XML)])
def test_cards_grammar_accepts_every_test_transcription(text: str, kind: str) -> None:
    g = compile_grammar(text, kind)
    lines = (CARDS_DIR / "cards.transcription").read_text().splitlines()
    sentences = [re.sub(r"</?s>|\(\w+\)", "", line).split() for line in lines if line.strip()]
    assert len(sentences) == 5
    for words in sentences:
        assert g.accepts(words), words
    assert g.accepts("ace of spades".split()) and g.accepts("king queen".split())
    assert not g.accepts("of clubs".split()) and not g.accepts("ace".split())
    assert not g.accepts("ace of clubs two of clubs three of clubs four of clubs".split())


def test_cards_forms_are_equivalent() -> None:
    assert equivalent(compile_grammar(CARDS_ABNF, ABNF), compile_grammar(CARDS_XML, XML))


def test_command_grammar_both_forms() -> None:
    a, x = compile_grammar(COMMANDS_ABNF, ABNF), compile_grammar(COMMANDS_XML, XML)
    assert equivalent(a, x)
    assert language(a) == {
        (*p, *act, *s)
        for p in [(), ("please",)]
        for act in [("yes",), ("no",), ("cancel",), ("never", "mind")]
        for s in [(), ("now",), ("thanks",)]
    }


# -- features --------------------------------------------------------------------------------------


def test_optional_and_grouping() -> None:
    assert language(abnf("[please] (call | dial) mom")) == {
        ("call", "mom"),
        ("dial", "mom"),
        ("please", "call", "mom"),
        ("please", "dial", "mom"),
    }


@pytest.mark.parametrize(
    "op,counts",
    [
        ("<3>", {3}),
        ("<2-4>", {2, 3, 4}),
        ("<0-1>", {0, 1}),
        ("<2->", {2, 3, 4, 5, 6}),
        ("<0->", {0, 1, 2, 3, 4, 5, 6}),
        ("*", {0, 1, 2, 3, 4, 5, 6}),
        ("+", {1, 2, 3, 4, 5, 6}),
        ("<1-3 /0.5/>", {1, 2, 3}),
        ("<0-0>", {0}),
    ],
)
def test_repeats(op: str, counts: set[int]) -> None:
    g = abnf(f"start la {op} end")
    assert {len(s) - 2 for s in language(g, 8)} == counts


@pytest.mark.parametrize(
    "repeat,counts", [("3", {3}), ("2-4", {2, 3, 4}), ("0-1", {0, 1}), ("2-", {2, 3, 4, 5, 6}), ("0-", set(range(7)))]
)
def test_xml_repeats(repeat: str, counts: set[int]) -> None:
    g = xml(f'<rule id="a">start <item repeat="{repeat}" repeat-prob="0.5">la</item> end</rule>')
    assert {len(s) - 2 for s in language(g, 8)} == counts


def test_repeat_of_a_group_and_of_a_rule() -> None:
    g = abnf("($pair) <2>", "$pair = (x | y) z;")
    assert language(g) == {(a, "z", b, "z") for a in "xy" for b in "xy"}


def test_weights_become_fsg_probabilities() -> None:
    g = abnf("/3/ yes | /1.0/ no | /.5/ maybe")
    probs = {line.split()[-1]: float(line.split()[3]) for line in g.to_fsg().splitlines() if line.startswith("TRAN")}
    assert probs == pytest.approx({"yes": 3 / 4.5, "no": 1 / 4.5, "maybe": 0.5 / 4.5}, rel=1e-4)
    x = xml(
        '<rule id="a"><one-of><item weight="3">yes</item><item>no</item><item weight=".5">maybe</item></one-of></rule>'
    )
    assert x.to_fsg() == g.to_fsg()


def test_weighted_alternatives_inside_a_sequence() -> None:
    g = abnf("call (/9/ home | /1/ work) now")
    assert language(g) == {("call", "home", "now"), ("call", "work", "now")}
    fsg = g.to_fsg()
    assert re.search(r"TRANSITION \d+ \d+ 0\.9 home", fsg) and re.search(r"TRANSITION \d+ \d+ 0\.1 work", fsg)


def test_null_matches_the_empty_string() -> None:
    assert language(abnf("go ($NULL | home)")) == {("go",), ("go", "home")}
    assert language(
        xml('<rule id="a">go <one-of><item><ruleref special="NULL"/></item><item>home</item></one-of></rule>')
    )


def test_void_kills_its_path() -> None:
    assert language(abnf("go home | go $VOID away")) == {("go", "home")}
    g = xml('<rule id="a"><one-of><item>go home</item><item>go <ruleref special="VOID"/> away</item></one-of></rule>')
    assert language(g) == {("go", "home")}


def test_garbage_matches_any_words() -> None:
    g = abnf("$GARBAGE (yes | no) $GARBAGE")
    assert g.accepts(["yes"]) and g.accepts("well um yes please".split()) and g.accepts("no thanks".split())
    assert not g.accepts(["maybe"]) and not g.accepts([])
    assert g.vocabulary() == {"yes", "no"}
    x = xml('<rule id="a"><ruleref special="GARBAGE"/><one-of><item>yes</item><item>no</item></one-of>'
            '<ruleref special="GARBAGE"/></rule>')  # fmt: skip
    assert equivalent(g, x)


def test_quoted_tokens_are_multiword() -> None:
    g = abnf('"New York" | "San  Francisco" | boston | "it\'s"')
    assert language(g) == {("new", "york"), ("san", "francisco"), ("boston",), ("it's",)}
    x = xml('<rule id="a"><one-of><item>"New York"</item><item><token>San Francisco</token></item>'
            "<item>Boston</item><item>it's</item></one-of></rule>")  # fmt: skip
    assert equivalent(g, x)


def test_tokens_are_lower_cased_and_keep_apostrophes() -> None:
    g = abnf("What's UP | O'Neil")
    assert language(g) == {("what's", "up"), ("o'neil",)}
    assert g.accepts(["WHAT'S", "up"])


def test_tags_comments_and_language_attachments_are_ignored() -> None:
    text = """#ABNF 1.0 ISO-8859-1;
    // a comment
    language en-US;
    mode voice;
    tag-format <semantics/1.0>;
    base <http://example.com/>;
    lexicon <lex.pls>~<application/pls+xml>;
    meta "author" is "someone";
    http-equiv "Expires" is "0";
    {var header = 1;};
    root $a; /* a block
    comment */
    public $a = yes {out = true} | no {!{ out = {v: false}; }!} | oui!fr-FR {out="fr"} | {only a tag} nein;
    """
    g = compile_grammar(text, ABNF)
    assert language(g) == {("yes",), ("no",), ("oui",), ("nein",)}
    x = xml(
        '<meta name="author" content="someone"/><tag>var h = 1;</tag>'
        '<rule id="a"><one-of><item>yes<tag>out=true</tag></item><item>no <tag>out=false</tag></item>'
        '<item xml:lang="fr-FR">oui</item><item><tag>t</tag>nein</item></one-of>'
        "<example>yes</example></rule>"
    )
    assert equivalent(g, x)


def test_private_and_public_rules_and_unused_rules() -> None:
    g = abnf("$b", "private $b = bee;", "$unused = other;")
    assert language(g) == {("bee",)}
    assert "other" not in g.vocabulary()


def test_keywords_are_plain_words_inside_rules() -> None:
    g = abnf("root beer | public mode | language is private | meta base")
    assert g.accepts(["root", "beer"]) and g.accepts("language is private".split())


def test_media_type_is_case_insensitive_and_parameters_are_ignored() -> None:
    assert compile_grammar(DIGITS_ABNF, "Application/SRGS; charset=utf-8").accepts(["one"])
    assert compile_grammar(DIGITS_XML, " APPLICATION/SRGS+XML ;charset=UTF-8").accepts(["one"])
    with pytest.raises(GrammarError, match="media type"):
        compile_grammar(DIGITS_ABNF, "text/plain")


def test_declared_encodings_are_ignored() -> None:
    text = DIGITS_XML.replace("UTF-8", "ISO-8859-1").replace("<item>oh</item>", "<item>ñu</item>")
    assert compile_grammar(text, XML).accepts(["ñu"])
    assert compile_grammar("\ufeff" + DIGITS_ABNF, ABNF).accepts(["one"])


def test_xml_without_namespace_or_version_is_accepted() -> None:
    g = compile_grammar('<grammar root="a"><rule id="a">hello world</rule></grammar>', XML)
    assert language(g) == {("hello", "world")}


def test_xml_uri_reference_to_a_special_rule_name() -> None:
    assert language(xml('<rule id="a">go <ruleref uri="#NULL"/></rule>')) == {("go",)}


def test_shared_subrules_expand_once_per_use() -> None:
    g = abnf("$d $d $d", "$d = one | two;")
    assert len(language(g)) == 8


# -- errors ----------------------------------------------------------------------------------------


def error(text: str, kind: str = ABNF, **kwargs: int) -> str:
    with pytest.raises(GrammarError) as info:
        compile_grammar(text, kind, **kwargs)
    assert isinstance(info.value, BadRequest) and info.value.status == 400
    return info.value.message


H = "#ABNF 1.0;\nroot $a;\n"


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            H + "$a = one <digit> two;",
            ["line 3, column 10:", "expected one of", "';'", "'|'", "but found '<digit>'", "$digit"],
        ),
        (H + "$a = one two\n$b = three;", ["line 4, column 4:", "';'", "but found '='", "missing ';'"]),
        (H + "$a = (one two;", ["line 3, column 14:", "expected ')' but found ';'"]),
        (H + "$a = [one two;", ["line 3, column 14:", "expected ']' but found ';'"]),
        (H + "$a = one\n| ;", ["line 4, column 3:", "a word", "but found ';'"]),
        (H + "$a = one", ["line 3, column 9:", "';'", "but found end of input"]),
        (H + "$a = ;", ["line 3, column 6:", "a word", "a rule name", "but found ';'"]),
        (H + "$a one;", ["line 3, column 4:", "expected '='", "but found 'one'"]),
        (H + "a = one;", ["line 3, column 1:", "but found 'a'"]),
        (H + "$a = one } two;", ["line 3, column 10:", "but found '}'"]),
        (H + '$a = "one;', ["line 3, column 6:", "but found '\"'"]),
        (H + "$a = one <2-x>;", ["line 3, column 10:", "but found '<2-x>'"]),
        (H + "$a = one /2/ two;", ["line 3, column 10:", "but found '/2/'"]),
        (H + "$a = $ one;", ["line 3, column 6:", "but found '$'"]),
        ("root $a;\n$a = one;", ["line 1, column 1:", "expected the header '#ABNF 1.0;' but found 'root'"]),
        ("", ["line 1, column 1:", "'#ABNF 1.0;'", "end of input"]),
        ("#ABNF 1.0\nroot $a;", ["line 2, column 6:", "expected ';'"]),
        ("#ABNF 2.0;\nroot $a;\n$a = one;", ["line 1, column 7:", "unsupported ABNF version 2.0"]),
        ("#ABNF 1.0;\nmode dtmf;\nroot $a;\n$a = one;", ["line 2, column 6:", "DTMF", "not supported"]),
        ("#ABNF 1.0;\nmode loud;\nroot $a;\n$a = one;", ["line 2, column 6:", "expected 'voice' or 'dtmf'"]),
        ("#ABNF 1.0;\nroot $a;\nroot $b;\n$a = one;", ["line 3, column 6:", "root rule is declared twice"]),
    ],
)
def test_abnf_syntax_errors_say_where_and_what_was_expected(text: str, expected: list[str]) -> None:
    message = error(text)
    for part in expected:
        assert part in message, (part, message)


def test_undefined_rule() -> None:
    assert error(H + "$a = one\n  | $foo;") == "line 4: rule $foo is not defined"
    assert "line 4: rule $b is not defined" in error(xml_text('<rule id="a">\n\n<ruleref uri="#b"/></rule>'), XML)


def test_undefined_root() -> None:
    assert error("#ABNF 1.0;\n\nroot $main;\n$a = one;") == "line 3: root rule $main is not defined"
    assert "root rule $main is not defined" in error(xml_text('<rule id="a">x</rule>', root="main"), XML)


def test_no_root() -> None:
    message = error("#ABNF 1.0;\npublic $digits = one;")
    assert "no root rule" in message and "root $digits;" in message
    assert "no root rule" in error('<grammar version="1.0"><rule id="a">x</rule></grammar>', XML)


@pytest.mark.parametrize(
    "rules,cycle",
    [
        (["$a = one $a;"], "$a -> $a"),
        (["$a = one [$a];"], "$a -> $a"),
        (["$a = $b;", "$b = x | $c;", "$c = ($a) <2>;"], "$a -> $b -> $c -> $a"),
        (["$a = x;", "$u = $v;", "$v = y $u;"], "$u -> $v -> $u"),  # unused rules are checked too
    ],
)
def test_recursion_is_rejected_naming_the_cycle(rules: list[str], cycle: str) -> None:
    message = error(H + "\n".join(rules))
    assert "recursive" in message and cycle in message and "line " in message


def test_xml_recursion_is_rejected() -> None:
    text = xml_text('<rule id="a"><item>x</item><item repeat="0-1"><ruleref uri="#a"/></item></rule>')
    assert "$a -> $a" in error(text, XML)


def test_external_references_are_refused() -> None:
    message = error(H + "$a = hello $<http://example.com/names.gram#name>;")
    assert message.startswith("line 3, column 12: external rule references") and "not supported" in message
    message = error(xml_text('<rule id="a">\n  <ruleref uri="names.grxml#name"/></rule>'), XML)
    assert message.startswith("line 3, column 3: external rule references")


def test_duplicate_and_special_rule_definitions() -> None:
    assert error(H + "$a = one;\n$a = two;") == "line 4, column 1: rule $a is defined twice (first on line 3)"
    assert "special rule" in error(H + "$a = one;\n$NULL = two;")
    assert "defined twice" in error(xml_text('<rule id="a">x</rule><rule id="a">y</rule>'), XML)


def test_bad_weights_and_repeats() -> None:
    assert error(H + "$a = /0/ one | /1/ two;") == "line 3, column 6: a weight must be a positive number, not '/0/'"
    assert "maximum is less than the minimum" in error(H + "$a = one <3-1>;")
    assert "positive" in error(xml_text('<rule id="a"><one-of><item weight="-1">x</item></one-of></rule>'), XML)
    assert "maximum is less" in error(xml_text('<rule id="a"><item repeat="3-1">x</item></rule>'), XML)
    assert 'expected "n", "n-m" or "n-"' in error(xml_text('<rule id="a"><item repeat="many">x</item></rule>'), XML)


def test_empty_language() -> None:
    assert "accepts no utterance" in error(H + "$a = one $VOID;")
    assert "accepts no utterance" in error(H + "$a = $b;\n$b = $VOID | $VOID two;")
    assert "only the empty utterance" in error(H + "$a = $NULL {tag};")
    assert "only the empty utterance" in error(H + "$a = (one) <0>;")


def test_size_limit() -> None:
    message = error(H + "$a = one <1-50000>;")
    assert "too large" in message and "20000" in message
    assert "more than 100 states" in error(H + "$a = (one two) <60>;", max_states=100)
    abnf("(one two) <40>")  # fits the default
    # exponential blow-up through shared rules stops at the limit, quickly
    rules = [f"$r{i} = $r{i + 1} $r{i + 1} | x;" for i in range(40)] + ["$r40 = y;"]
    assert "too large" in error(H + "$a = $r0;\n" + "\n".join(rules))
    # alternatives that add no state still hit the limit (arcs and expansion steps are bounded too)
    rules = [f"$r{i} = $r{i + 1} | $r{i + 1} | $NULL;" for i in range(40)] + ["$r40 = y;"]
    assert "too large" in error(H + "$a = $r0 z;\n" + "\n".join(rules))
    assert "too large" in error(H + "$a = one <99999999999999999999999999>;")


def test_nesting_limit() -> None:
    assert "nested too deeply" in error(H + "$a = " + "(" * 60 + "x" + ")" * 60 + ";")
    assert "nested too deeply" in error(H + "$a = " + "(" * 100000 + "x" + ")" * 100000 + ";")
    deep = "<item>" * 200 + "x" + "</item>" * 200
    assert "nested too deeply" in error(xml_text(f'<rule id="a">{deep}</rule>'), XML)
    abnf("(" * 40 + "x" + ")" * 40)


def xml_text(rules: str, root: str = "a") -> str:
    return f'<grammar version="1.0" root="{root}" xmlns="http://www.w3.org/2001/06/grammar">\n{rules}</grammar>'


@pytest.mark.parametrize(
    "text,expected",
    [
        ('<grammar root="a"><rule id="a">x</rule>', ["line 1, column 40:", "XML syntax error", "no element found"]),
        ('<grammar root="a">\n<rule id="a">x</item></grammar>', ["line 2, column 17:", "mismatched tag"]),
        ('<grammar root="a"><rule id="a">x &amp y</rule></grammar>', ["line 1, column 38:", "XML syntax error"]),
        ("<grammar>\n<rule id='a'>x</rule>\n</grammar>\ntrailing", ["line 4, column 1:", "junk after document"]),
        ("not xml at all", ["line 1, column 1:", "XML syntax error"]),
        ('<speak root="a"/>', ["line 1, column 1:", "expected the root element <grammar> but found <speak>"]),
        ('<grammar root="a" version="2.0"><rule id="a">x</rule></grammar>', ["unsupported SRGS version"]),
        ('<grammar root="a" mode="dtmf"><rule id="a">1</rule></grammar>', ['mode "dtmf" is not supported']),
        (
            '<grammar root="a">\n  <rules id="a">x</rules></grammar>',
            ["line 2, column 3:", "unexpected element <rules>"],
        ),
        ('<grammar root="a">hello<rule id="a">x</rule></grammar>', ["line 1, column 19:", "unexpected text 'hello'"]),
        ('<grammar root="a"><rule>x</rule></grammar>', ["line 1, column 19:", "needs an id"]),
        ('<grammar root="a"><rule id="a b">x</rule></grammar>', ["not a valid rule name"]),
        ('<grammar root="a"><rule id="a" scope="global">x</rule></grammar>', ['scope must be "public" or "private"']),
        ('<grammar root="a"><rule id="a"> </rule></grammar>', ["rule 'a' is empty"]),
        (
            '<grammar root="a"><rule id="a">\n<one-of>\n  <ruleref uri="#b"/></one-of></rule></grammar>',
            ["line 3, column 3:", "<one-of> may contain only <item> elements, found <ruleref>"],
        ),
        ('<grammar root="a"><rule id="a"><one-of> </one-of></rule></grammar>', ["needs at least one <item>"]),
        ('<grammar root="a"><rule id="a"><foo/></rule></grammar>', ["line 1, column 32:", "unexpected element <foo>"]),
        ('<grammar root="a"><rule id="a"><ruleref/></rule></grammar>', ["needs a uri"]),
        ('<grammar root="a"><rule id="a"><ruleref special="ANY"/></rule></grammar>', ["expected one of NULL, VOID"]),
        ('<grammar root="a"><rule id="a"><ruleref uri="#b" special="NULL"/></rule></grammar>', ["not both"]),
        ('<grammar root="a"><rule id="a"><token><tag/></token></rule></grammar>', ["may contain only text"]),
        ('<grammar root="a"><rule id="a"><token> </token></rule></grammar>', ["<token> is empty"]),
        (
            '<grammar root="a" xmlns:x="urn:x"><rule id="a"><x:foo/></rule></grammar>',
            ["line 1, column 48:", "not in the SRGS namespace"],
        ),
    ],
)
def test_xml_errors_say_where_and_what_is_wrong(text: str, expected: list[str]) -> None:
    message = error(text, XML)
    for part in expected:
        assert part in message, (part, message)


def test_xml_refuses_dtds_and_entities() -> None:
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE grammar [\n<!ENTITY lol "lol">\n'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        '<grammar root="a"><rule id="a">&lol2;</rule></grammar>'
    )
    assert error(laughs, XML).startswith("line 2, column 1: document type declarations")
    external = '<?xml version="1.0"?>\n<!DOCTYPE g SYSTEM "file:///etc/passwd">\n<grammar root="a"/>'
    assert "document type declarations" in error(external, XML)
    assert "XML syntax error" in error('<grammar root="a"><rule id="a">&xxe;</rule></grammar>', XML)


# -- no other exception escapes --------------------------------------------------------------------


def _compile_or_error(text: str, kind: str) -> None:
    try:
        g = compile_grammar(text, kind, max_states=2000)
    except GrammarError as exc:
        assert exc.message and exc.status == 400
        assert "cannot compile grammar" not in exc.message, exc.message  # i.e. no internal error was wrapped
    else:
        assert g.size >= 1


@pytest.mark.parametrize("text,kind", [(DIGITS_ABNF, ABNF), (DIGITS_XML, XML), (CARDS_ABNF, ABNF), (CARDS_XML, XML)])
def test_fuzz_truncations_and_mutations(text: str, kind: str) -> None:
    rng = random.Random(hash(text) & 0xFFFF)
    for cut in range(0, len(text) + 1, 3):
        _compile_or_error(text[:cut], kind)
    alphabet = list("$<>()[]{}|;/*+=\"'!#-~ \n0123456789aZ&;") + ["<item>", "</item>", "<one-of>", "$NULL", "<1->"]
    for _ in range(400):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                chars[i] = rng.choice(alphabet)
            elif op < 0.7:
                del chars[i]
            else:
                chars.insert(i, rng.choice(alphabet))
        _compile_or_error("".join(chars), kind)


@pytest.mark.parametrize("kind", [ABNF, XML])
def test_fuzz_random_bytes(kind: str) -> None:
    rng = random.Random(42)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        _compile_or_error(data.decode("utf-8", errors="replace"), kind)
        _compile_or_error(data.decode("latin-1"), kind)
        _compile_or_error("#ABNF 1.0;\nroot $a;\n$a = " + data.decode("latin-1"), kind)


def test_fuzz_random_token_soup() -> None:
    rng = random.Random(3)
    pieces = ["one", "two", "$a", "$b", "$NULL", "$VOID", "$GARBAGE", "(", ")", "[", "]", "|", "<2>", "<0->", "<1-3>"]
    pieces += ["*", "+", "/2/", "{t}", '"x y"', "!en-US", ";", "$b = ", "public", "root $b;"]
    for _ in range(1000):
        body = " ".join(rng.choices(pieces, k=rng.randint(1, 12)))
        _compile_or_error(f"#ABNF 1.0;\nroot $a;\n$a = {body};\n$b = three | $NULL;", ABNF)


def test_nul_characters_are_refused() -> None:
    assert error(H + "$a = o\x00ne;").startswith("line 3, column 7:")
