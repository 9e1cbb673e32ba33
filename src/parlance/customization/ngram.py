"""A small word n-gram language model: counting, interpolated modified Kneser-Ney, ARPA in and out.

The model works on token sequences (lists of strings); tokenizing and normalizing text is the
caller's business (`tokenize` below is a plain default: lower-case words, apostrophes kept).

    lm = NgramLM.train([["the", "board", "met"], ["the", "bank", "met"]], order=3)
    lm.score(["the", "board", "met"])     # log10 P(<s> the board met </s>)
    lm.logprob("met", ("the", "board"))   # log10 P(met | the board)
    lm.write_arpa("custom.arpa")          # standard ARPA back-off file (PocketSphinx, KenLM, SRILM read it)
    NgramLM.read_arpa("custom.arpa")      # the same model back, scoring identically

Smoothing is interpolated modified Kneser-Ney (Chen & Goodman 1998) with three discounts per order
estimated from count-of-counts, falling back to fixed discounts when the corpus is too small to
estimate them. The lowest order interpolates with a uniform distribution over the vocabulary, so
`<unk>` gets a real probability. Interpolated estimates are stored in back-off form (a probability
per seen n-gram, a back-off weight per context), which is exactly what ARPA holds, so `score` on a
trained model and on the same model read back from its ARPA file agree.

All probabilities are log10, as in ARPA files.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_FLOOR = -99.0  # log10 "probability" ARPA files give <s>, which is never predicted

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

Ngram = tuple[str, ...]


def tokenize(text: str) -> list[str]:
    """Lower-case words of `text` (letters and digits, inner apostrophes kept; punctuation dropped)."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


def sentences(text: str, tokenizer: Callable[[str], list[str]] = tokenize) -> Iterable[list[str]]:
    """One token list per non-empty line of `text` (corpora hold one sentence a line)."""
    for line in text.splitlines():
        tokens = tokenizer(line)
        if tokens:
            yield tokens


class NgramLM:
    """A back-off n-gram model: `probs[k]` maps k-grams to log10 P(last | rest), `bows[k]` maps
    k-gram contexts to log10 back-off weights. Build one with `train` or `read_arpa`."""

    def __init__(self, order: int, probs: list[dict[Ngram, float]], bows: list[dict[Ngram, float]]) -> None:
        if order < 1 or len(probs) != order + 1 or len(bows) != order + 1:
            raise ValueError("order must be >= 1, and probs/bows must hold order + 1 tables (index 0 unused)")
        self.order = order
        self.probs = probs
        self.bows = bows
        self._unk = probs[1].get((UNK,), _FLOOR)

    # ---- queries -------------------------------------------------------------------------------

    @property
    def vocab(self) -> set[str]:
        """Every word with a unigram probability (includes <s>, </s> and <unk>)."""
        return {g[0] for g in self.probs[1]}

    def counts(self) -> list[int]:
        """Number of n-grams of each order, `counts()[k-1]` for order k (as in an ARPA header)."""
        return [len(self.probs[k]) for k in range(1, self.order + 1)]

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 P(word | context); only the last `order - 1` context words matter."""
        context = tuple(context[len(context) - self.order + 1 :]) if self.order > 1 else ()
        backoff = 0.0
        while True:
            gram = (*context, word)
            p = self.probs[len(gram)].get(gram)
            if p is not None:
                return backoff + p
            if not context:
                return backoff + self._unk
            backoff += self.bows[len(context)].get(context, 0.0)
            context = context[1:]

    def score(self, tokens: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a token sequence, by default as a whole sentence (<s> … </s>)."""
        history: list[str] = [BOS] if bos else []
        total = 0.0
        for word in [*tokens, EOS] if eos else tokens:
            total += self.logprob(word, history)
            history.append(word)
        return total

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """Per-token perplexity (</s> counted as a token) over whole sentences."""
        total, n = 0.0, 0
        for tokens in sentences:
            total += self.score(tokens)
            n += len(tokens) + 1
        return 10 ** (-total / n) if n else float("inf")

    # ---- training ------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        sentences: Iterable[Sequence[str]],
        order: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> NgramLM:
        """Estimate an interpolated modified Kneser-Ney model from token sequences.

        Args:
            sentences: one token list per sentence; <s> and </s> are added here.
            order: highest n-gram order (3 = trigram).
            progress: called with a fraction 0..1 as the work advances.
        Raises:
            ValueError: when `sentences` holds no tokens at all.
        """
        if order < 1:
            raise ValueError("order must be >= 1")
        report = progress or (lambda _f: None)

        # Raw counts of the highest order; lower orders are derived below.
        top: Counter[Ngram] = Counter()
        starts: list[Counter[Ngram]] = [Counter() for _ in range(order + 1)]  # k-grams opening at <s>
        n_tokens = 0
        for tokens in sentences:
            padded = (BOS, *tokens, EOS)
            n = len(padded)
            n_tokens += n - 2
            if n >= order:
                top.update(zip(*(padded[i:] for i in range(order)), strict=False))
            else:  # a sentence shorter than the order: its longest gram opens at <s>
                starts[n][padded] += 1
            for k in range(1, min(order, n)):
                starts[k][padded[:k]] += 1
        if n_tokens == 0:
            raise ValueError("no tokens to train on")
        report(0.3)

        # Kneser-Ney adjusted counts: raw counts for the highest order and for grams opening with <s>
        # (nothing can precede them), continuation counts N1+(. g) for all other lower-order grams.
        adjusted: list[dict[Ngram, int]] = [{} for _ in range(order + 1)]
        adjusted[order] = dict(top)
        for k in range(order - 1, 0, -1):
            cont: Counter[Ngram] = Counter(g[1:] for g in adjusted[k + 1])
            cont.update(starts[k])  # disjoint keys: <s> never follows anything
            adjusted[k] = dict(cont)
            report(0.3 + 0.2 * (order - k) / order)

        # Every prefix and suffix of a stored gram is stored one order down, as ARPA requires: each
        # gram either opens at <s> (so do its prefixes) or has a predecessor (so it is a suffix).
        # <s> is a context only: it gets no unigram probability mass.
        adjusted[1].pop((BOS,), None)
        vocab = {g[0] for g in adjusted[1]} | {EOS}

        discounts = [_discounts(adjusted[k]) for k in range(order + 1)]
        probs: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
        bows: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
        lin_probs: dict[Ngram, float] = {}  # interpolated probabilities of the order below (linear)
        uniform = 1.0 / (len(vocab) + 1)  # +1 for <unk>
        for k in range(1, order + 1):
            d1, d2, d3 = discounts[k]
            total: dict[Ngram, int] = {}
            # per context: how many of its grams were seen once, twice, three times or more
            kinds: tuple[dict[Ngram, int], ...] = ({}, {}, {})
            for gram, c in adjusted[k].items():
                h = gram[:-1]
                total[h] = total.get(h, 0) + c
                kind = kinds[2 if c >= 3 else c - 1]
                kind[h] = kind.get(h, 0) + 1
            n1, n2, n3 = kinds
            gamma = {h: (d1 * n1.get(h, 0) + d2 * n2.get(h, 0) + d3 * n3.get(h, 0)) / t for h, t in total.items()}
            current: dict[Ngram, float] = {}
            for gram, c in adjusted[k].items():
                h = gram[:-1]
                d = d1 if c == 1 else d2 if c == 2 else d3
                lower = uniform if k == 1 else lin_probs[gram[1:]]
                current[gram] = (c - d) / total[h] + gamma[h] * lower
            if k == 1:
                unk_p = gamma[()] * uniform
                current[(UNK,)] = unk_p
            probs[k] = {g: math.log10(p) for g, p in current.items()}
            if k > 1:
                bows[k - 1] = {h: math.log10(g) for h, g in gamma.items() if g > 0}
            lin_probs = current
            report(0.5 + 0.5 * k / order)
        probs[1][(BOS,)] = _FLOOR
        return cls(order, probs, bows)

    # ---- ARPA ----------------------------------------------------------------------------------

    def write_arpa(self, path: str | Path) -> None:
        """Write the model as an ARPA back-off file (log10 probabilities and back-off weights)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write("\\data\\\n")
            for k in range(1, self.order + 1):
                f.write(f"ngram {k}={len(self.probs[k])}\n")
            for k in range(1, self.order + 1):
                f.write(f"\n\\{k}-grams:\n")
                bows = self.bows[k] if k < self.order else {}
                lines = []
                for gram, p in self.probs[k].items():
                    b = bows.get(gram)
                    words = " ".join(gram)
                    lines.append(f"{p:.6f}\t{words}\t{b:.6f}\n" if b is not None else f"{p:.6f}\t{words}\n")
                f.writelines(lines)
            f.write("\n\\end\\\n")

    @classmethod
    def read_arpa(cls, path: str | Path) -> NgramLM:
        """Read an ARPA back-off file (as written by `write_arpa`, SRILM or KenLM)."""
        order = 0
        probs: list[dict[Ngram, float]] = [{}]
        bows: list[dict[Ngram, float]] = [{}]
        section = 0
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.strip()
                if not line:
                    continue
                if line.startswith("\\"):
                    if line.endswith("-grams:"):
                        section = int(line[1:].split("-", 1)[0])
                    elif line == "\\end\\":
                        break
                    continue
                if section == 0:
                    if line.startswith("ngram "):
                        order = max(order, int(line[6:].split("=", 1)[0]))
                        probs.append({})
                        bows.append({})
                    continue
                parts = line.split()
                gram = tuple(parts[1 : 1 + section])
                probs[section][gram] = float(parts[0])
                if len(parts) > section + 1:
                    bows[section][gram] = float(parts[section + 1])
        if order == 0:
            raise ValueError(f"{path}: not an ARPA file (no \\data\\ section)")
        return cls(order, probs, bows)


def _discounts(counts: dict[Ngram, int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from count-of-counts (Chen & Goodman 1998)."""
    n = Counter(c for c in counts.values() if 1 <= c <= 4)
    n1, n2, n3, n4 = n[1], n[2], n[3], n[4]
    if n1 and n2 and n3 and n4:
        y = n1 / (n1 + 2 * n2)
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if all(0 < di < i + 1 for i, di in enumerate(d)):
            return d
    return (0.5, 0.75, 0.9)  # too little data to estimate: moderate fixed discounts
