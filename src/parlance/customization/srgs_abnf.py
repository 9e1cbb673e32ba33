"""The ABNF form of SRGS 1.0 (`application/srgs`), parsed with a lark LALR(1) grammar.

Accepted: the `#ABNF 1.0 [charset];` header; `language`, `mode`, `root`, `tag-format`, `base`,
`lexicon`, `meta`/`http-equiv` and tag declarations in any order; `public`/`private` rule
definitions; alternatives with `/weight/`s; sequences; `( )`; `[ ]`; repeats `<n>`, `<n-m>`,
`<n->` (with an ignored `/prob/`) and the JSGF shorthands `*` and `+`; `$rule` references and the
special rules `$NULL`, `$VOID`, `$GARBAGE`; plain and "quoted" tokens; tags `{...}`, `{!{...}!}`
and `!lang` attachments (all ignored); `//` and `/* */` comments. External references
(`$<uri>`) and `mode dtmf` are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_analysis import Shift

from parlance.customization.grammar_fsa import (
    EPSILON,
    SPECIALS,
    Alt,
    GrammarError,
    Node,
    Ref,
    Repeat,
    RuleDef,
    RuleSet,
    Seq,
    Special,
    Words,
    at,
    normalize_words,
)

MAX_NESTING = 50  # levels of ( ) and [ ]

_LARK = r"""
start: header _declaration*
header: ABNF_HEADER ABNF_VERSION ABNF_CHARSET? SEMI

_declaration: language_decl | mode_decl | root_decl | other_decl | rule_def
language_decl: KW_LANGUAGE LANG_CODE SEMI
mode_decl: KW_MODE MODE_NAME SEMI
root_decl: KW_ROOT RULENAME SEMI
other_decl: (KW_TAG_FORMAT | KW_BASE | KW_LEXICON) ABNF_URI SEMI
          | (KW_META | KW_HTTP_EQUIV) QUOTED KW_IS QUOTED SEMI
          | TAG SEMI
rule_def: (KW_PUBLIC | KW_PRIVATE)? RULENAME EQUAL alternatives SEMI

alternatives: alternative (VBAR alternative)*
alternative: WEIGHT? element+
element: (TOKEN | QUOTED | RULENAME | EXTREF | TAG | group | optional) _postfix*
group: LPAR alternatives RPAR
optional: LSQB alternatives RSQB
_postfix: REPEAT | STAR | PLUS | LANG_ATTACH

ABNF_HEADER: "#ABNF"
ABNF_VERSION: /[0-9]+(\.[0-9]+)?/
ABNF_CHARSET: /[A-Za-z][A-Za-z0-9._:\-]*/
KW_LANGUAGE: "language"
KW_MODE: "mode"
KW_ROOT: "root"
KW_TAG_FORMAT: "tag-format"
KW_BASE: "base"
KW_LEXICON: "lexicon"
KW_META: "meta"
KW_HTTP_EQUIV: "http-equiv"
KW_IS: "is"
KW_PUBLIC: "public"
KW_PRIVATE: "private"
LANG_CODE: /[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*/
MODE_NAME: /[A-Za-z]+/
ABNF_URI: /<[^>\s]*>(~<[^>\s]*>)?/
SEMI: ";"
EQUAL: "="
VBAR: "|"
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
STAR: "*"
PLUS: "+"
RULENAME: /\$[^\W\d]\w*/
EXTREF: /\$<[^>]*>(~<[^>]*>)?/
TOKEN: /[^\s;|\/*+<>()\[\]{}$"!=#~]+/
QUOTED: /"(\\.|[^"\\])*"/
WEIGHT: /\/\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*\//
REPEAT: /<\s*[0-9]+\s*(-\s*[0-9]*\s*)?(\/\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*\/\s*)?>/
TAG: /\{!\{.*?\}!\}|\{[^}]*\}/s
LANG_ATTACH: /![A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*/

COMMENT: /\/\/[^\n]*/ | /\/\*(.|\n)*?\*\//
%ignore COMMENT
%ignore /[ \t\f\r\n\u00a0\ufeff]+/
"""

_DISPLAY = {
    "ABNF_HEADER": "'#ABNF'",
    "ABNF_VERSION": "'1.0'",
    "ABNF_CHARSET": "a character encoding",
    "LANG_CODE": "a language tag",
    "MODE_NAME": "'voice'",
    "ABNF_URI": "a URI in < >",
    "RULENAME": "a rule name ($name)",
    "EXTREF": "a rule name ($name)",
    "TOKEN": "a word",
    "QUOTED": 'a "quoted" token',
    "WEIGHT": "a weight (/2.0/)",
    "REPEAT": "a repeat (<n-m>)",
    "TAG": "a tag ({...})",
    "LANG_ATTACH": "a language attachment (!en-US)",
    "$END": "end of input",
}
_REPEAT = re.compile(r"<\s*([0-9]+)\s*(?:(-)\s*([0-9]*)\s*)?(?:/[^/]*/\s*)?>")
_WEIGHT = re.compile(r"/\s*([0-9.]+)\s*/")
_JSGF_REF = re.compile(r"<[^\W\d]\w*>")
_UNESCAPE = re.compile(r"\\(.)", re.S)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_LARK, parser="lalr", lexer="contextual", maybe_placeholders=False)


def _describe(terminal: str) -> str:
    if terminal in _DISPLAY:
        return _DISPLAY[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except (KeyError, AttributeError):
        return terminal
    return f"'{pattern.value}'" if pattern.type == "str" else terminal


def _expected(names: set[str] | frozenset[str] | None) -> str:
    if not names:
        return "something else"
    shown = sorted({_describe(n) for n in names}, key=lambda d: (not d.startswith("'"), d))
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


def _shown(text: str) -> str:
    text = text if len(text) <= 30 else text[:27] + "..."
    return repr(text) if "'" in text else f"'{text}'"


def _end_position(text: str) -> tuple[int, int]:
    line = text.count("\n") + 1
    return line, len(text) - (text.rfind("\n") + 1) + 1


def _acceptable(exc: UnexpectedInput, candidates: Iterable[str] | None) -> set[str]:
    """The terminals the parser would really take where it stopped: lark's sets come from the LALR
    state alone (e.g. both ')' and ']' after a word, whatever is open); this replays the reductions
    on a copy of the state stack for each candidate, like lark's `InteractiveParser.accepts`."""
    candidates = set(candidates or ())
    state = getattr(exc, "state", None)
    conf = getattr(state, "parse_conf", None)
    if conf is None or not candidates:
        return candidates
    ok = set()
    for terminal in candidates:
        stack = list(state.state_stack)
        while True:
            action = conf.states[stack[-1]].get(terminal)
            if action is None:
                break
            kind, arg = action
            if kind is Shift:
                ok.add(terminal)
                break
            if arg.expansion:
                del stack[-len(arg.expansion) :]
            stack.append(conf.states[stack[-1]][arg.origin.name][1])
            if terminal == "$END" and stack[-1] == conf.end_state:
                ok.add(terminal)
                break
    return ok or candidates


def _syntax_error(exc: UnexpectedInput, text: str) -> GrammarError:
    if isinstance(exc, UnexpectedToken):
        found = "end of input" if exc.token.type == "$END" else _shown(str(exc.token))
        expected = _acceptable(exc, getattr(exc, "accepts", None) or exc.expected)
        line, column = exc.line, exc.column
        if exc.token.type == "$END" or line is None or line < 1:
            line, column = _end_position(text)
        hint = ""
        if exc.token.type == "EQUAL":
            hint = " (missing ';' at the end of the previous rule?)"
        elif exc.token.type == "ABNF_URI" and "RULENAME" in expected and _JSGF_REF.fullmatch(str(exc.token)):
            hint = f" (a rule reference is written ${str(exc.token)[1:-1]} in SRGS, not {exc.token} as in JSGF)"
        return GrammarError(f"{at(line, column)}expected {_expected(expected)} but found {found}{hint}")
    if isinstance(exc, UnexpectedCharacters):
        found = _shown(exc.char) if exc.char.strip() else repr(exc.char)
        expected = _acceptable(exc, exc.allowed)
        return GrammarError(f"{at(exc.line, exc.column)}expected {_expected(expected)} but found {found}")
    if isinstance(exc, UnexpectedEOF):
        line, column = _end_position(text)
        return GrammarError(f"{at(line, column)}expected {_expected(set(exc.expected))} but found end of input")
    return GrammarError(f"{at(getattr(exc, 'line', None), getattr(exc, 'column', None))}syntax error")


def parse_abnf(text: str) -> RuleSet:
    """Parse ABNF SRGS into rules; `GrammarError` (with line and column) on anything wrong."""
    text = text.lstrip("\ufeff")
    if not text.lstrip().startswith("#ABNF"):
        first = text.lstrip()[:1]
        line = text[: len(text) - len(text.lstrip())].count("\n") + 1
        found = _shown(text.lstrip().split(None, 1)[0]) if first else "end of input"
        raise GrammarError(f"{at(line, 1)}expected the header '#ABNF 1.0;' but found {found}")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except LarkError as exc:  # pragma: no cover - defensive
        raise GrammarError(f"syntax error: {exc}") from None
    _check_nesting(tree)
    return _Converter().convert(tree)


def _first_token(tree: Tree | Token) -> Token | None:
    stack: list[Tree | Token] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Token):
            return node
        stack.extend(reversed(node.children))
    return None


def _check_nesting(tree: Tree) -> None:
    stack: list[tuple[Tree | Token, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Token):
            continue
        if node.data in ("group", "optional"):
            depth += 1
            if depth > MAX_NESTING:
                tok = _first_token(node)
                where = at(tok.line, tok.column) if tok is not None else ""
                raise GrammarError(f"{where}groups are nested too deeply (more than {MAX_NESTING} levels)")
        stack.extend((child, depth) for child in node.children)


class _Converter:
    """Lark tree -> `RuleSet` (recursion depth is bounded by `_check_nesting`)."""

    def convert(self, tree: Tree) -> RuleSet:
        rules = RuleSet()
        for child in tree.children:
            if not isinstance(child, Tree):
                continue
            if child.data == "header":
                version = child.children[1]
                if str(version) != "1.0":
                    raise GrammarError(f"{at(version.line, version.column)}unsupported ABNF version {version}; use 1.0")
            elif child.data == "mode_decl":
                mode = child.children[1]
                if str(mode).lower() == "dtmf":
                    raise GrammarError(f"{at(mode.line, mode.column)}DTMF grammars are not supported; use mode voice")
                if str(mode).lower() != "voice":
                    raise GrammarError(
                        f"{at(mode.line, mode.column)}expected 'voice' or 'dtmf' but found {_shown(mode)}"
                    )
            elif child.data == "root_decl":
                name = child.children[1]
                if rules.root is not None:
                    raise GrammarError(f"{at(name.line, name.column)}the root rule is declared twice")
                rules.root, rules.root_line, rules.root_column = str(name)[1:], name.line, name.column
            elif child.data == "rule_def":
                self._rule(child, rules)
        return rules

    def _rule(self, tree: Tree, rules: RuleSet) -> None:
        tokens = tree.children
        public = False
        if isinstance(tokens[0], Token) and tokens[0].type in ("KW_PUBLIC", "KW_PRIVATE"):
            public = tokens[0].type == "KW_PUBLIC"
            tokens = tokens[1:]
        name = tokens[0]
        body = self._alternatives(tokens[2])
        rules.add(RuleDef(str(name)[1:], body, public, name.line, name.column))

    def _alternatives(self, tree: Tree) -> Node:
        branches: list[tuple[Node, float]] = []
        for alt in tree.children:
            if isinstance(alt, Token):  # VBAR
                continue
            weight = 1.0
            items = alt.children
            if isinstance(items[0], Token) and items[0].type == "WEIGHT":
                weight = _weight(items[0])
                items = items[1:]
            nodes = [n for n in (self._element(e) for e in items) if n != EPSILON]
            branches.append((nodes[0] if len(nodes) == 1 else Seq(tuple(nodes)) if nodes else EPSILON, weight))
        return branches[0][0] if len(branches) == 1 else Alt(tuple(branches))

    def _element(self, tree: Tree) -> Node:
        head, *postfix = tree.children
        node = self._primary(head)
        for op in postfix:
            if op.type == "LANG_ATTACH":
                continue
            if op.type == "STAR":
                lo, hi = 0, None
            elif op.type == "PLUS":
                lo, hi = 1, None
            else:
                lo, hi = _repeat(op)
            node = Repeat(node, lo, hi)
        return node

    def _primary(self, head: Tree | Token) -> Node:
        if isinstance(head, Tree):
            body = self._alternatives(head.children[1])
            return Repeat(body, 0, 1) if head.data == "optional" else body
        if head.type == "TOKEN":
            return Words(normalize_words(str(head)))
        if head.type == "QUOTED":
            return Words(normalize_words(_UNESCAPE.sub(r"\1", str(head)[1:-1])))
        if head.type == "TAG":
            return EPSILON
        if head.type == "EXTREF":
            raise GrammarError(
                f"{at(head.line, head.column)}external rule references ({_shown(str(head))}) are not supported; "
                "define the rule in this grammar"
            )
        name = str(head)[1:]
        if name in SPECIALS:
            return Special(name)
        return Ref(name, head.line, head.column)


def _weight(tok: Token) -> float:
    match = _WEIGHT.fullmatch(str(tok))
    value = float(match.group(1)) if match else 0.0
    if not value > 0 or value == float("inf"):
        raise GrammarError(f"{at(tok.line, tok.column)}a weight must be a positive number, not {_shown(str(tok))}")
    return value


def _repeat(tok: Token) -> tuple[int, int | None]:
    match = _REPEAT.fullmatch(str(tok))
    assert match is not None  # the lexer matched the same pattern
    lo = int(match.group(1))
    if not match.group(2):
        return lo, lo
    if not match.group(3):
        return lo, None
    hi = int(match.group(3))
    if hi < lo:
        raise GrammarError(f"{at(tok.line, tok.column)}repeat {_shown(str(tok))}: the maximum is less than the minimum")
    return lo, hi
