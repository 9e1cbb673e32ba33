"""Watson grammars: W3C SRGS 1.0, Type-3 (regular) grammars, compiled into word automata.

`compile_grammar(text, media_type)` takes a grammar in the ABNF form (`application/srgs`) or the
XML form (`application/srgs+xml`) and returns a `Grammar` (see `grammar_fsa`), or raises
`GrammarError` (a 400 `BadRequest`) with the line, column and what was expected. No other
exception escapes, whatever the input.

Supported beyond plain rules: weights, repeats, the special rules `$NULL`, `$VOID` and `$GARBAGE`;
tags and language attachments are accepted and ignored. Refused: recursive rules (not Type-3),
external rule references, DTMF mode, DTDs and entities in XML, grammars that expand to more than
`max_states` states, and grammars that accept no word sequence.
"""

from __future__ import annotations

from parlance.customization.grammar_fsa import FSA, GARBAGE, MAX_STATES, Grammar, GrammarError, build_grammar
from parlance.customization.srgs_abnf import parse_abnf
from parlance.customization.srgs_xml import parse_xml

__all__ = ["ABNF", "FSA", "GARBAGE", "MAX_STATES", "XML", "Grammar", "GrammarError", "compile_grammar"]

ABNF = "application/srgs"
XML = "application/srgs+xml"
MAX_GRAMMAR_CHARS = 2_000_000


def media_type_of(content_type: str) -> str:
    """`Application/SRGS; charset=utf-8` -> `application/srgs`."""
    return content_type.split(";", 1)[0].strip().lower()


def compile_grammar(text: str, media_type: str, *, max_states: int = MAX_STATES) -> Grammar:
    """Compile SRGS text of the given media type (case-insensitive, parameters ignored)."""
    kind = media_type_of(media_type or "")
    if kind not in (ABNF, XML):
        raise GrammarError(f"unsupported grammar media type {media_type!r}; use {ABNF} (ABNF) or {XML} (XML)")
    if not isinstance(text, str):
        raise GrammarError("the grammar must be text")
    if len(text) > MAX_GRAMMAR_CHARS:
        raise GrammarError(f"the grammar is too large: more than {MAX_GRAMMAR_CHARS} characters")
    if "\x00" in text:
        raise GrammarError(f"{_position(text, text.index(chr(0)))}the grammar contains a NUL character")
    try:
        rules = parse_abnf(text) if kind == ABNF else parse_xml(text)
        return build_grammar(rules, max_states=max_states, media_type=kind)
    except GrammarError:
        raise
    except RecursionError:
        raise GrammarError("the grammar is nested too deeply") from None
    except Exception as exc:  # a parser defect must still be a 400 naming the grammar, never a 500
        raise GrammarError(f"cannot compile grammar: {type(exc).__name__}: {exc}") from None


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}: "
