"""Word-level finite automata for SRGS grammars: the shared rule AST, its compilation into an
automaton, and the compiled `Grammar` (membership, nearest in-grammar sentence, PocketSphinx FSG).

Both SRGS forms (ABNF in `srgs_abnf`, XML in `srgs_xml`) parse into a `RuleSet` of `Node` trees;
`build_grammar` checks it (undefined rules, recursion, root) and expands it, starting at the root
rule, into an automaton by a Thompson-style construction that builds each expansion *between* two
given states (so alternatives of plain words share their end points and cost no extra states),
then trims useless states and collapses trivial epsilon arcs. The automaton keeps epsilon arcs
(`word is None`); PocketSphinx's FSG format has them too.

Arc labels are lower-case words; `GARBAGE` (`"<garbage>"`) is a wildcard that matches any one word.
`$GARBAGE` compiles to a loop of it, i.e. any run of words, possibly empty.
"""

from __future__ import annotations

import heapq
import json
import random
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from parlance.errors import BadRequest

GARBAGE = "<garbage>"
MAX_STATES = 20000
ARCS_PER_STATE = 10  # arcs allowed per allowed state (a 20000-state grammar may have 200000 arcs)
WORK_PER_STATE = 20  # expansion steps allowed per allowed state (bounds expansions that add no state)
SPECIALS = ("NULL", "VOID", "GARBAGE")


class GrammarError(BadRequest):
    """A grammar that cannot be compiled: syntax, undefined or recursive rules, limits, empty language."""


def at(line: int | None, column: int | None = None) -> str:
    """`line 3, column 12: ` (or `line 3: `, or nothing) as a message prefix."""
    if line is None or line < 1:
        return ""
    return f"line {line}, column {column}: " if column is not None and column >= 1 else f"line {line}: "


# -- rule AST --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Words:
    """A sequence of words (one token, possibly multiword); no words matches the empty string."""

    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    branches: tuple[tuple[Node, float], ...]  # (expansion, weight)


@dataclass(frozen=True, slots=True)
class Repeat:
    node: Node
    lo: int
    hi: int | None  # None: unbounded


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Special:
    kind: str  # NULL | VOID | GARBAGE


Node = Words | Seq | Alt | Repeat | Ref | Special
EPSILON = Words(())


@dataclass(frozen=True, slots=True)
class RuleDef:
    name: str
    body: Node
    public: bool = False
    line: int | None = None
    column: int | None = None


@dataclass
class RuleSet:
    """What a parser hands over: rules by name and the declared root."""

    rules: dict[str, RuleDef] = field(default_factory=dict)
    root: str | None = None
    root_line: int | None = None
    root_column: int | None = None

    def add(self, rule: RuleDef) -> None:
        if rule.name in SPECIALS:
            raise GrammarError(f"{at(rule.line, rule.column)}${rule.name} is a special rule and cannot be defined")
        first = self.rules.get(rule.name)
        if first is not None:
            where = f" (first on line {first.line})" if first.line else ""
            raise GrammarError(f"{at(rule.line, rule.column)}rule ${rule.name} is defined twice{where}")
        self.rules[rule.name] = rule


def normalize_words(text: str) -> tuple[str, ...]:
    """A token's words for matching and output: lower case, split on white space, apostrophes kept."""
    return tuple(text.lower().split())


def _refs(node: Node) -> Iterable[Ref]:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Ref):
            yield n
        elif isinstance(n, Seq):
            stack.extend(reversed(n.items))
        elif isinstance(n, Alt):
            stack.extend(b for b, _ in reversed(n.branches))
        elif isinstance(n, Repeat):
            stack.append(n.node)


def check_rules(rules: RuleSet) -> str:
    """Validate references and the root; return the root rule's name."""
    graph: dict[str, list[Ref]] = {}
    for rule in rules.rules.values():
        graph[rule.name] = []
        for ref in _refs(rule.body):
            if ref.name not in rules.rules:
                raise GrammarError(f"{at(ref.line)}rule ${ref.name} is not defined")
            graph[rule.name].append(ref)
    if rules.root is None:
        public = [r.name for r in rules.rules.values() if r.public]
        hint = f"; add e.g. `root ${public[0]};`" if public else ""
        raise GrammarError(f"the grammar has no root rule{hint}")
    if rules.root not in rules.rules:
        raise GrammarError(f"{at(rules.root_line)}root rule ${rules.root} is not defined")
    _check_acyclic(graph)
    return rules.root


def _check_acyclic(graph: dict[str, list[Ref]]) -> None:
    """Reject any cycle of rule references (only Type-3, non-recursive grammars are supported)."""
    state: dict[str, int] = {}  # 1 on the DFS path, 2 done
    for top in graph:
        if state.get(top):
            continue
        path: list[str] = [top]
        iters = [iter(graph[top])]
        state[top] = 1
        while iters:
            ref = next(iters[-1], None)
            if ref is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            mark = state.get(ref.name)
            if mark == 1:
                cycle = [*path[path.index(ref.name) :], ref.name]
                chain = " -> ".join(f"${n}" for n in cycle)
                raise GrammarError(
                    f"{at(ref.line)}rule ${ref.name} is recursive ({chain}); "
                    "only regular (Type-3) grammars without recursive rule references are supported"
                )
            if not mark:
                state[ref.name] = 1
                path.append(ref.name)
                iters.append(iter(graph[ref.name]))


# -- automaton -------------------------------------------------------------------------------------

Arc = tuple[int, int, str | None, float]  # (src, dst, word or None for epsilon, weight)


@dataclass(frozen=True)
class FSA:
    """States are 0..num_states-1; arc weights are relative within their source state."""

    num_states: int
    start: int
    finals: frozenset[int]
    arcs: tuple[Arc, ...]


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, rules: dict[str, RuleDef], max_states: int) -> None:
        self.rules = rules
        self.max_states = max_states
        self.max_arcs = max_states * ARCS_PER_STATE
        self.max_work = max_states * WORK_PER_STATE
        self.n = 0
        self.arcs: list[Arc] = []

    def state(self) -> int:
        if self.n >= self.max_states:
            raise _TooLarge
        self.n += 1
        return self.n - 1

    def arc(self, src: int, dst: int, word: str | None, weight: float = 1.0) -> None:
        if len(self.arcs) >= self.max_arcs:
            raise _TooLarge
        self.arcs.append((src, dst, word, weight))

    def build(self, root: Node) -> FSA:
        start, final = self.state(), self.state()
        stack: list[tuple[Node, int, int]] = [(root, start, final)]
        work = 0
        while stack:
            node, src, dst = stack.pop()
            work += 1
            if work > self.max_work:
                raise _TooLarge
            if isinstance(node, Words):
                prev = src
                for i, word in enumerate(node.words):
                    nxt = dst if i == len(node.words) - 1 else self.state()
                    self.arc(prev, nxt, word)
                    prev = nxt
                if not node.words:
                    self.arc(src, dst, None)
            elif isinstance(node, Seq):
                if not node.items:
                    self.arc(src, dst, None)
                    continue
                prev = src
                for i, item in enumerate(node.items):
                    nxt = dst if i == len(node.items) - 1 else self.state()
                    stack.append((item, prev, nxt))
                    prev = nxt
            elif isinstance(node, Alt):
                weighted = any(w != 1.0 for _, w in node.branches)
                for branch, weight in node.branches:
                    if weighted:  # the weight goes on an epsilon into the branch (merged away later)
                        entry = self.state()
                        self.arc(src, entry, None, weight)
                        stack.append((branch, entry, dst))
                    else:
                        stack.append((branch, src, dst))
            elif isinstance(node, Repeat):
                self._repeat(node, src, dst, stack)
            elif isinstance(node, Ref):
                stack.append((self.rules[node.name].body, src, dst))
            elif node.kind == "NULL":
                self.arc(src, dst, None)
            elif node.kind == "GARBAGE":
                loop = self.state()
                self.arc(src, loop, None)
                self.arc(loop, loop, GARBAGE)
                self.arc(loop, dst, None)
            # VOID: no path at all
        return FSA(self.n, start, frozenset({final}), tuple(self.arcs))

    def _repeat(self, node: Repeat, src: int, dst: int, stack: list[tuple[Node, int, int]]) -> None:
        lo, hi = node.lo, node.hi
        if hi == 0:
            self.arc(src, dst, None)
            return
        cur = src
        for i in range(lo):
            nxt = dst if hi == lo and i == lo - 1 else self.state()
            stack.append((node.node, cur, nxt))
            cur = nxt
        if hi is None:  # loop on a fresh state so nothing else can re-enter the loop
            loop = self.state()
            self.arc(cur, loop, None)
            stack.append((node.node, loop, loop))
            self.arc(loop, dst, None)
        elif hi > lo:
            for i in range(lo, hi):
                self.arc(cur, dst, None)  # stop here
                nxt = dst if i == hi - 1 else self.state()
                stack.append((node.node, cur, nxt))
                cur = nxt


def _optimize(fsa: FSA) -> FSA:
    """Trim useless states, drop epsilon self-loops, merge states joined by a lone epsilon; renumber."""
    finals = set(fsa.finals)
    start = fsa.start
    live = _useful(fsa.num_states, start, finals, fsa.arcs)
    finals &= live
    weight: dict[tuple[int, int, str | None], float] = {}
    out: dict[int, set[tuple[int, int, str | None]]] = {q: set() for q in live}
    inc: dict[int, set[tuple[int, int, str | None]]] = {q: set() for q in live}

    def add(s: int, d: int, w: str | None, p: float) -> None:
        if w is None and s == d:
            return
        key = (s, d, w)
        if key in weight:  # parallel duplicates fold into one arc
            weight[key] += p
            return
        weight[key] = p
        out[s].add(key)
        inc[d].add(key)

    def drop(key: tuple[int, int, str | None]) -> float:
        out[key[0]].discard(key)
        inc[key[1]].discard(key)
        return weight.pop(key)

    for s, d, w, p in fsa.arcs:
        if s in live and d in live:
            add(s, d, w, p)
    queue = deque(sorted(live))
    queued = set(queue)
    while queue:
        q = queue.popleft()
        queued.discard(q)
        q_out, q_in = out[q], inc[q]
        touched: set[int] = set()
        if q not in finals and len(q_out) == 1 and next(iter(q_out))[2] is None:
            # q's only way on is an epsilon to t: q and t are equivalent, send q's arrivals to t
            t = next(iter(q_out))[1]
            drop(next(iter(q_out)))
            for key in sorted(q_in, key=_key_order):
                add(key[0], t, key[2], drop(key))
                touched.add(key[0])
            if q == start:
                start = t
            touched.add(t)
        elif q != start and len(q_in) == 1 and next(iter(q_in))[2] is None:
            # q's only way in is an epsilon from p: give q's departures (and finality) to p
            p = next(iter(q_in))[0]
            w = drop(next(iter(q_in)))
            total = sum(weight[key] for key in q_out)
            for key in sorted(q_out, key=_key_order):
                share = drop(key)
                add(p, key[1], key[2], w * share / total)
                touched.add(key[1])
            if q in finals:
                finals.discard(q)
                finals.add(p)
            touched.add(p)
        for s in touched:
            if s not in queued:
                queued.add(s)
                queue.append(s)
    return _renumber(start, finals, [(s, d, w, p) for (s, d, w), p in weight.items()])


def _key_order(key: tuple[int, int, str | None]) -> tuple[int, int, str]:
    return key[0], key[1], key[2] or ""


def _dedup(arcs: Iterable[Arc]) -> list[Arc]:
    seen: dict[tuple[int, int, str | None], float] = {}
    for s, d, w, p in arcs:
        seen[(s, d, w)] = seen.get((s, d, w), 0.0) + p
    return [(s, d, w, p) for (s, d, w), p in seen.items()]


def _useful(n: int, start: int, finals: set[int], arcs: Iterable[Arc]) -> set[int]:
    fwd: dict[int, list[int]] = {}
    bwd: dict[int, list[int]] = {}
    for s, d, _, _ in arcs:
        fwd.setdefault(s, []).append(d)
        bwd.setdefault(d, []).append(s)

    def reach(seeds: Iterable[int], graph: dict[int, list[int]]) -> set[int]:
        seen = set(seeds)
        stack = list(seen)
        while stack:
            for t in graph.get(stack.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return seen

    return reach([start], fwd) & reach(finals, bwd)


def _renumber(start: int, finals: set[int], arcs: Iterable[Arc]) -> FSA:
    """States in breadth-first order from the start; arcs sorted."""
    out: dict[int, list[Arc]] = {}
    for a in arcs:
        out.setdefault(a[0], []).append(a)
    order = {start: 0}
    queue = deque([start])
    while queue:
        q = queue.popleft()
        for a in sorted(out.get(q, []), key=lambda a: (a[2] or "", a[1])):
            if a[1] not in order:
                order[a[1]] = len(order)
                queue.append(a[1])
    new_arcs = sorted(
        ((order[s], order[d], w, p) for s, d, w, p in arcs if s in order and d in order),
        key=lambda a: (a[0], a[1], a[2] is not None, a[2] or ""),
    )
    return FSA(len(order), 0, frozenset(order[f] for f in finals if f in order), tuple(new_arcs))


def build_grammar(rules: RuleSet, *, max_states: int = MAX_STATES, media_type: str = "") -> Grammar:
    """Check a parsed rule set and compile it, from its root rule, into a `Grammar`."""
    root = check_rules(rules)
    try:
        raw = _Builder(rules.rules, max_states).build(Ref(root))
    except _TooLarge:
        raise GrammarError(
            f"the grammar is too large: it expands to more than {max_states} states "
            f"(or {max_states * ARCS_PER_STATE} arcs), the limit"
        ) from None
    fsa = _optimize(raw)
    if not fsa.finals:
        raise GrammarError(
            f"the grammar accepts no utterance: every path from the root rule ${root} goes through $VOID"
        )
    grammar = Grammar(fsa, root=root, media_type=media_type)
    if not any(a[2] is not None for a in fsa.arcs):
        raise GrammarError(f"the grammar accepts only the empty utterance: the root rule ${root} matches no word")
    return grammar


def _spelling_similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def pronunciation_similarity(prons: Mapping[str, Sequence[str]]) -> Callable[[str, str], float]:
    """A `closest` similarity comparing pronunciations (word -> phone strings such as "EY T", e.g. a
    PocketSphinx dictionary from `engines.pocketsphinx.dictionary.read_dictionary`): the best ratio
    of matching phones over the two words' pronunciations, so "ate" -> "eight" and "for" -> "four"
    score 1. Words without a pronunciation fall back to spelling."""

    def similarity(a: str, b: str) -> float:
        pa, pb = prons.get(a), prons.get(b)
        if not pa or not pb:
            return _spelling_similarity(a, b)
        return max(SequenceMatcher(None, x.split(), y.split()).ratio() for x in pa for y in pb)

    return similarity


# -- the compiled grammar --------------------------------------------------------------------------

_FSG_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass
class Grammar:
    """A compiled grammar: a word automaton plus the queries the service needs."""

    fsa: FSA
    root: str = ""
    media_type: str = ""
    _out: dict[int, list[Arc]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        out: dict[int, list[Arc]] = {}
        for a in self.fsa.arcs:
            out.setdefault(a[0], []).append(a)
        self._out = out

    @property
    def size(self) -> int:
        """Number of states."""
        return self.fsa.num_states

    def vocabulary(self) -> set[str]:
        return {a[2] for a in self.fsa.arcs if a[2] is not None and a[2] != GARBAGE}

    # -- membership ---------------------------------------------------------------------------
    def _closure(self, states: Iterable[int]) -> set[int]:
        seen = set(states)
        stack = list(seen)
        while stack:
            for _, d, w, _ in self._out.get(stack.pop(), ()):
                if w is None and d not in seen:
                    seen.add(d)
                    stack.append(d)
        return seen

    def accepts(self, words: Sequence[str]) -> bool:
        """Whether the word sequence is a sentence of the grammar (case-insensitive)."""
        current = self._closure([self.fsa.start])
        for word in words:
            word = word.lower()
            nxt = {d for q in current for _, d, w, _ in self._out.get(q, ()) if w == word or w == GARBAGE}
            if not nxt:
                return False
            current = self._closure(nxt)
        return bool(current & self.fsa.finals)

    # -- nearest sentence ---------------------------------------------------------------------
    def closest(
        self, words: Sequence[str], *, similarity: Callable[[str, str], float] | None = None
    ) -> tuple[list[str], int]:
        """The sentence of the grammar nearest to `words` by word-level edit distance, and that distance.

        Shortest path over (words consumed, state): an arc's word matching the next word costs 0,
        substituting it 1, taking an arc without consuming a word (a deletion) 1, skipping a word
        (an insertion) 1; a garbage arc matches any word at no cost and outputs that word. Ties go
        to fewer insertions and deletions, then to substitutions by more similar words
        (`similarity(hyp_word, grammar_word)` in [0, 1], by default difflib's spelling ratio, so
        "too" becomes "two" rather than "eight").
        """
        hyp = [w.lower() for w in words]
        n, states, finals, out = len(hyp), self.fsa.num_states, self.fsa.finals, self._out
        begin = self.fsa.start  # search node: i * states + q (i words consumed, in state q)
        similar = similarity or _spelling_similarity
        unlike: dict[tuple[int, str], float] = {}  # (hypothesis position, grammar word) -> 1 - similarity
        # cost = (edits, insertions + deletions, dissimilarity of the substitutions), compared in order
        dist: dict[int, tuple[int, int, float]] = {begin: (0, 0, 0.0)}
        back: dict[int, tuple[int, str | None]] = {}
        heap: list[tuple[int, int, float, int]] = [(0, 0, 0.0, begin)]
        done: set[int] = set()
        best = -1
        while heap:
            edits, indels, mismatch, key = heapq.heappop(heap)
            if key in done:
                continue
            done.add(key)
            i, q = divmod(key, states)
            if i == n and q in finals:
                best = key
                break
            moves: list[tuple[int, int, int, float, str | None]] = []
            if i < n:
                moves.append((key + states, 1, 1, 0.0, None))  # hypothesis word i is not in the sentence
            for _, d, w, _ in out.get(q, ()):
                if w is None:
                    moves.append((i * states + d, 0, 0, 0.0, None))
                elif w == GARBAGE:
                    if i < n:
                        moves.append(((i + 1) * states + d, 0, 0, 0.0, hyp[i]))
                else:
                    if i < n:
                        if hyp[i] == w:
                            moves.append(((i + 1) * states + d, 0, 0, 0.0, w))
                        else:
                            if (i, w) not in unlike:
                                unlike[(i, w)] = 1.0 - min(1.0, max(0.0, float(similar(hyp[i], w))))
                            moves.append(((i + 1) * states + d, 1, 0, unlike[(i, w)], w))
                    moves.append((i * states + d, 1, 1, 0.0, w))  # sentence word missing from the hypothesis
            for nkey, e, x, u, word in moves:
                cost = (edits + e, indels + x, mismatch + u)
                if nkey not in done and (nkey not in dist or cost < dist[nkey]):
                    dist[nkey] = cost
                    back[nkey] = (key, word)
                    heapq.heappush(heap, (*cost, nkey))
        if best < 0:
            raise ValueError("the grammar accepts no sentence")
        sentence: list[str] = []
        key = best
        while key != begin:
            key, word = back[key]
            if word is not None:
                sentence.append(word)
        sentence.reverse()
        return sentence, dist[best][0]

    # -- sampling -----------------------------------------------------------------------------
    def sample(self, rng: random.Random, n: int, max_words: int = 1000) -> list[list[str]]:
        """`n` random sentences, arcs chosen by weight; stopping at a final state that has
        departures is one more choice with the mean weight. `<garbage>` is emitted as is."""
        result: list[list[str]] = []
        while len(result) < n:
            q, sentence, steps = self.fsa.start, [], 0
            while steps < 100 * max_words and len(sentence) <= max_words:
                steps += 1
                arcs = self._out.get(q, [])
                weights = [a[3] for a in arcs]
                if q in self.fsa.finals:
                    if not arcs:
                        break
                    arcs = [*arcs, None]
                    weights.append(sum(weights) / len(weights))
                choice = rng.choices(arcs, weights)[0]
                if choice is None:
                    break
                if choice[2] is not None:
                    sentence.append(choice[2])
                q = choice[1]
            else:
                continue  # too long: try again
            if q in self.fsa.finals and len(sentence) <= max_words:
                result.append(sentence)
        return result

    # -- PocketSphinx -------------------------------------------------------------------------
    def to_fsg(self, name: str = "grammar") -> str:
        """PocketSphinx FSG text. Arc probabilities are the weights normalised per state. A single
        final state is added (reached by epsilons) unless there is exactly one without departures.
        FSG has no wildcard, so `<garbage>` arcs become epsilons (dropped when they loop); the
        decoder's filler words ([SPEECH], [NOISE], silence, allowed at every state) absorb the extra
        speech. With `$GARBAGE (call | dial) (mom | dad | home | the office) $GARBAGE` and extra words
        around the command, 12 of 15 utterances (3 voices) came out right; adding explicit [SPEECH]
        loops where the grammar has $GARBAGE changed none of them."""
        fsa = self.fsa
        arcs: list[tuple[int, int, str | None, float]] = []
        for s, d, w, p in fsa.arcs:
            if w == GARBAGE:
                w = None
            if w is None and s == d:
                continue
            arcs.append((s, d, w, p))
        finals = sorted(fsa.finals)
        num = fsa.num_states
        if len(finals) == 1 and not any(a[0] == finals[0] for a in arcs):
            final = finals[0]
        else:
            final = num
            num += 1
            arcs.extend((f, final, None, 1.0) for f in finals)
        arcs = _dedup(arcs)
        total: dict[int, float] = {}
        for s, _, _, p in arcs:
            total[s] = total.get(s, 0.0) + p
        label = _FSG_NAME.sub("_", name) or "grammar"
        lines = [f"FSG_BEGIN {label}", f"NUM_STATES {num}", f"START_STATE {fsa.start}", f"FINAL_STATE {final}"]
        for s, d, w, p in sorted(arcs, key=lambda a: (a[0], a[1], a[2] or "")):
            prob = p / total[s]
            lines.append(f"TRANSITION {s} {d} {prob:.6g}" + (f" {w}" if w is not None else ""))
        lines.append("FSG_END")
        return "\n".join(lines) + "\n"

    # -- storage ------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "parlance-grammar-fsa",
                "version": 1,
                "root": self.root,
                "media_type": self.media_type,
                "num_states": self.fsa.num_states,
                "start": self.fsa.start,
                "finals": sorted(self.fsa.finals),
                "arcs": [list(a) for a in self.fsa.arcs],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> Grammar:
        """Inverse of `to_json`; raises ValueError on anything that is not a stored automaton."""
        try:
            obj = json.loads(data) if isinstance(data, str | bytes) else data
            if not isinstance(obj, dict) or obj.get("format") != "parlance-grammar-fsa" or obj.get("version") != 1:
                raise ValueError("not a stored grammar automaton")
            n = obj["num_states"]
            if type(n) is not int or n < 1 or type(obj["start"]) is not int or not 0 <= obj["start"] < n:
                raise ValueError("bad state count or start state")
            finals = frozenset(obj["finals"])
            arcs: list[Arc] = []
            for s, d, w, p in obj["arcs"]:
                if type(s) is not int or type(d) is not int or not (0 <= s < n and 0 <= d < n):
                    raise ValueError("arc state out of range")
                if not (w is None or isinstance(w, str)) or not isinstance(p, int | float) or not p > 0:
                    raise ValueError("bad arc label or weight")
                arcs.append((s, d, w, float(p)))
            if any(type(f) is not int or not 0 <= f < n for f in finals):
                raise ValueError("final state out of range")
            fsa = FSA(n, obj["start"], finals, tuple(arcs))
            return cls(fsa, root=str(obj.get("root", "")), media_type=str(obj.get("media_type", "")))
        except ValueError:
            raise
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a stored grammar automaton: {exc}") from None
