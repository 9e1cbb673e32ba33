"""The XML form of SRGS 1.0 (`application/srgs+xml`), read with the standard library's expat.

The parser refuses any document type declaration (so no DTD, no entity declarations, no external
entities: the protections `defusedxml` applies), ignores the declared encoding (the body is
decoded text) and records each element's line and column for error messages.

Accepted: `<grammar root version mode xml:lang tag-format xml:base>` with `<meta>`, `<metadata>`,
`<lexicon>`, `<tag>` (ignored) and `<rule id scope>`; in rules, plain text tokens (double quotes
group a multiword token), `<token>`, `<item repeat repeat-prob weight>`, `<one-of>`,
`<ruleref uri="#id">`, `<ruleref special="NULL|VOID|GARBAGE">`, `<tag>` and `<example>` (ignored).
Elements may be in the SRGS namespace or in none. External rule references are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

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

SRGS_NS = "http://www.w3.org/2001/06/grammar"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_DEPTH = 100  # element nesting
_NAME = re.compile(r"[^\W\d]\w*")
_REPEAT = re.compile(r"\s*([0-9]+)\s*(?:(-)\s*([0-9]*)\s*)?")
_WEIGHT = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*")
_TEXT_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')
_RULE_CHILDREN = {"token", "ruleref", "item", "one-of", "tag", "example"}


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


@dataclass
class _Element:
    tag: str  # local name
    ns: str
    attrs: dict[str, str]
    line: int
    column: int
    children: list[_Element | _Text] = field(default_factory=list)


@dataclass
class _Text:
    text: str
    line: int
    column: int


def _read(text: str) -> _Element:
    """Parse XML into `_Element`s; `GrammarError` with the position on malformed or refused input."""
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = []
    roots: list[_Element] = []

    def position() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def refuse_doctype(*_: object) -> None:
        line, column = position()
        index = text.find("<!DOCTYPE")
        if index >= 0:
            line = text.count("\n", 0, index) + 1
            column = index - (text.rfind("\n", 0, index) + 1) + 1
        raise _Refused(f"{at(line, column)}document type declarations (<!DOCTYPE>, <!ENTITY>) are not allowed")

    def refuse_entity(*_: object) -> None:
        line, column = position()
        raise _Refused(f"{at(line, column)}entity declarations and external entities are not allowed")

    def start(name: str, attrs: dict[str, str]) -> None:
        ns, _, local = name.rpartition(" ")
        line, column = position()
        if len(stack) >= MAX_DEPTH:
            raise _Refused(f"{at(line, column)}elements are nested too deeply (more than {MAX_DEPTH} levels)")
        el = _Element(local, ns, {_attr_name(k): v for k, v in attrs.items()}, line, column)
        if stack:
            stack[-1].children.append(el)
        else:
            roots.append(el)
        stack.append(el)

    def end(_: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if not stack:
            return
        children = stack[-1].children
        if children and isinstance(children[-1], _Text):
            children[-1].text += data
        else:
            line, column = position()
            children.append(_Text(data, line, column))

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except _Refused as exc:
        raise GrammarError(exc.message) from None
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise GrammarError(f"{at(exc.lineno, exc.offset + 1)}XML syntax error: {message}") from None
    except (ValueError, UnicodeError, RecursionError) as exc:  # pragma: no cover - defensive
        raise GrammarError(f"the grammar is not well-formed XML: {exc}") from None
    if not roots:  # pragma: no cover - expat reports "no element found" first
        raise GrammarError("the grammar has no <grammar> element")
    return roots[0]


def _attr_name(name: str) -> str:
    ns, _, local = name.rpartition(" ")
    if ns == XML_NS:
        return "xml:" + local
    return local if not ns or ns == SRGS_NS else name


def _where(node: _Element | _Text) -> str:
    return at(node.line, node.column)


def parse_xml(text: str) -> RuleSet:
    """Parse XML SRGS into rules; `GrammarError` (with line and column) on anything wrong."""
    root = _read(text.lstrip("\ufeff"))
    _check_ns(root)
    if root.tag != "grammar":
        raise GrammarError(f"{_where(root)}expected the root element <grammar> but found <{root.tag}>")
    version = root.attrs.get("version")
    if version is not None and version.strip() != "1.0":
        raise GrammarError(f'{_where(root)}unsupported SRGS version {version!r}; use version="1.0"')
    mode = root.attrs.get("mode", "voice").strip().lower()
    if mode != "voice":
        raise GrammarError(f'{_where(root)}mode "{mode}" is not supported; only voice grammars (mode="voice") are')
    rules = RuleSet()
    if "root" in root.attrs:
        name = root.attrs["root"].strip()
        if not _NAME.fullmatch(name):
            raise GrammarError(f"{_where(root)}root={name!r} is not a valid rule name")
        rules.root, rules.root_line, rules.root_column = name, root.line, root.column
    for child in root.children:
        if isinstance(child, _Text):
            _no_text(child, "<grammar>")
            continue
        _check_ns(child)
        if child.tag == "rule":
            rules.add(_rule(child))
        elif child.tag not in ("meta", "metadata", "lexicon", "tag"):
            raise GrammarError(
                f"{_where(child)}unexpected element <{child.tag}> in <grammar>; expected one of "
                "<rule>, <meta>, <metadata>, <lexicon>, <tag>"
            )
    return rules


def _check_ns(el: _Element) -> None:
    if el.ns and el.ns != SRGS_NS:
        raise GrammarError(f"{_where(el)}element <{el.tag}> is not in the SRGS namespace {SRGS_NS}")


def _no_text(node: _Text, parent: str) -> None:
    if node.text.strip():
        offset = len(node.text) - len(node.text.lstrip())
        before = node.text[:offset]
        line = node.line + before.count("\n")
        column = (offset - before.rfind("\n")) if "\n" in before else node.column + offset
        word = node.text.split()[0][:30]
        raise GrammarError(f"{at(line, column)}unexpected text {word!r} in {parent}; expected only elements")


def _rule(el: _Element) -> RuleDef:
    name = el.attrs.get("id", "").strip()
    if not name:
        raise GrammarError(f'{_where(el)}<rule> needs an id attribute (<rule id="name">)')
    if not _NAME.fullmatch(name):
        raise GrammarError(f"{_where(el)}rule id {name!r} is not a valid rule name")
    scope = el.attrs.get("scope", "private").strip()
    if scope not in ("public", "private"):
        raise GrammarError(f'{_where(el)}scope must be "public" or "private", not {scope!r}')
    if not any(isinstance(c, _Element) or c.text.strip() for c in el.children):
        raise GrammarError(
            f'{_where(el)}rule {name!r} is empty; use <ruleref special="NULL"/> for a rule that matches nothing'
        )
    return RuleDef(name, _sequence(el, f'<rule id="{name}">'), scope == "public", el.line, el.column)


def _sequence(el: _Element, where: str) -> Node:
    items: list[Node] = []
    for child in el.children:
        if isinstance(child, _Text):
            for match in _TEXT_TOKEN.finditer(child.text):
                words = normalize_words(match.group(1) if match.group(1) is not None else match.group(2))
                if words:
                    items.append(Words(words))
            continue
        _check_ns(child)
        node = _expansion(child, where)
        if node != EPSILON:
            items.append(node)
    if not items:
        return EPSILON
    return items[0] if len(items) == 1 else Seq(tuple(items))


def _expansion(el: _Element, parent: str) -> Node:
    if el.tag == "token":
        for c in el.children:
            if isinstance(c, _Element):
                raise GrammarError(f"{_where(c)}<token> may contain only text, found <{c.tag}>")
        text = "".join(c.text for c in el.children if isinstance(c, _Text))
        words = normalize_words(text.replace('"', " "))
        if not words:
            raise GrammarError(f"{_where(el)}<token> is empty")
        return Words(words)
    if el.tag == "ruleref":
        return _ruleref(el)
    if el.tag in ("tag", "example"):
        return EPSILON
    if el.tag == "one-of":
        return _one_of(el)
    if el.tag == "item":
        return _item(el)
    raise GrammarError(
        f"{_where(el)}unexpected element <{el.tag}> in {parent}; expected text or one of "
        + ", ".join(f"<{t}>" for t in sorted(_RULE_CHILDREN))
    )


def _ruleref(el: _Element) -> Node:
    uri, special = el.attrs.get("uri"), el.attrs.get("special")
    if uri is not None and special is not None:
        raise GrammarError(f"{_where(el)}<ruleref> takes either uri or special, not both")
    if special is not None:
        if special.strip() not in SPECIALS:
            raise GrammarError(f"{_where(el)}special={special!r}: expected one of NULL, VOID, GARBAGE")
        return Special(special.strip())
    if uri is None:
        raise GrammarError(f'{_where(el)}<ruleref> needs a uri ("#rulename") or special attribute')
    uri = uri.strip()
    if not uri.startswith("#"):
        raise GrammarError(
            f"{_where(el)}external rule references (uri={uri!r}) are not supported; "
            'refer to a rule of this grammar with uri="#name"'
        )
    name = uri[1:]
    if not _NAME.fullmatch(name):
        raise GrammarError(f"{_where(el)}uri={uri!r} does not name a rule")
    if name in SPECIALS:
        return Special(name)
    return Ref(name, el.line, el.column)


def _one_of(el: _Element) -> Node:
    branches: list[tuple[Node, float]] = []
    for child in el.children:
        if isinstance(child, _Text):
            _no_text(child, "<one-of>")
            continue
        _check_ns(child)
        if child.tag in ("tag", "example"):
            continue
        if child.tag != "item":
            raise GrammarError(f"{_where(child)}<one-of> may contain only <item> elements, found <{child.tag}>")
        weight = 1.0
        if "weight" in child.attrs:
            match = _WEIGHT.fullmatch(child.attrs["weight"])
            weight = float(match.group(1)) if match else 0.0
            if not weight > 0 or weight == float("inf"):
                raise GrammarError(
                    f"{_where(child)}weight={child.attrs['weight']!r}: a weight must be a positive number"
                )
        branches.append((_item(child), weight))
    if not branches:
        raise GrammarError(f"{_where(el)}<one-of> needs at least one <item>")
    return branches[0][0] if len(branches) == 1 else Alt(tuple(branches))


def _item(el: _Element) -> Node:
    node = _sequence(el, "<item>")
    repeat = el.attrs.get("repeat")
    if repeat is None:
        return node
    match = _REPEAT.fullmatch(repeat)
    if not match:
        raise GrammarError(f'{_where(el)}repeat={repeat!r}: expected "n", "n-m" or "n-"')
    lo = int(match.group(1))
    if not match.group(2):
        hi: int | None = lo
    elif not match.group(3):
        hi = None
    else:
        hi = int(match.group(3))
        if hi < lo:
            raise GrammarError(f"{_where(el)}repeat={repeat!r}: the maximum is less than the minimum")
    return Repeat(node, lo, hi)
