"""Word n-gram language models: the one interpolated modified Kneser-Ney estimator of the project
(`kneser_ney`, on word ids, used by both engines' custom models) and a small back-off model over
strings (`NgramLM`) with ARPA in and out.

`NgramLM` works on token sequences (lists of strings); tokenizing and normalizing text is the
caller's business (`tokenize` below is a plain default: lower-case words, apostrophes kept).

    lm = NgramLM.train([["the", "board", "met"], ["the", "bank", "met"]], order=3)
    lm.score(["the", "board", "met"])     # log10 P(<s> the board met </s>)
    lm.logprob("met", ("the", "board"))   # log10 P(met | the board)
    lm.write_arpa("custom.arpa")          # standard ARPA back-off file (PocketSphinx, KenLM, SRILM read it)
    NgramLM.read_arpa("custom.arpa")      # the same model back, scoring identically

Smoothing is interpolated modified Kneser-Ney (Chen & Goodman 1998) with three discounts per order
estimated from count-of-counts, falling back to fixed discounts when the corpus is too small to
estimate them (the fallback is the caller's choice). The lowest order interpolates with a uniform
distribution over the vocabulary, so every word, `<unk>` included, gets a real probability.
Interpolated estimates are stored in back-off form (a probability per seen n-gram, a back-off
weight per context), which is exactly what ARPA holds, so `score` on a trained model and on the
same model read back from its ARPA file agree.

All probabilities are log10, as in ARPA files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NO_PROB = -99.0  # log10 "probability" ARPA files give <s>, which is never predicted
# Discounts D1, D2, D3+ used when the counts are too few to estimate them (NgramLM's choice).
FALLBACK_DISCOUNTS = (0.5, 0.75, 0.9)

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
        self._unk = probs[1].get((UNK,), NO_PROB)

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
        ids = {BOS: 0, EOS: 1, UNK: 2}
        stream: list[int] = []
        n_tokens = 0
        for tokens in sentences:
            stream.append(0)
            stream.extend(ids.setdefault(t, len(ids)) for t in tokens)
            stream += [1, -1]
            n_tokens += len(tokens)
        if n_tokens == 0:
            raise ValueError("no tokens to train on")
        tables = kneser_ney(np.array(stream, dtype=np.int64), len(ids), 0, 1, order, progress=progress)
        words = np.array(list(ids), dtype=object)
        probs: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
        bows: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
        for k in range(1, order + 1):
            grams = [tuple(g) for g in words[tables.grams[k]].tolist()]
            probs[k] = dict(zip(grams, tables.logprobs[k].tolist(), strict=True))
            if k < order:
                contexts = np.flatnonzero(tables.is_context[k]).tolist()
                bows[k] = {grams[i]: tables.backoffs[k][i] for i in contexts}
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


# ---- the estimator --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KneserNeyTables:
    """An estimated back-off model as arrays, one table per order k = 1..order (index 0 unused).

    `grams[k]` holds the k-grams as rows of word ids, sorted; for k = 1 it is every id of the
    vocabulary in id order. `logprobs[k]` is log10 P(last word | the others) of each row (NO_PROB for
    <s>), `backoffs[k]` the log10 back-off weight of each row as a context of order k + 1 (0.0 where
    it is none, and for the highest order), `is_context[k]` whether it is one.
    """

    order: int
    grams: list[np.ndarray]
    logprobs: list[np.ndarray]
    backoffs: list[np.ndarray]
    is_context: list[np.ndarray]


def id_stream(sentences: Iterable[np.ndarray], bos: int, eos: int) -> np.ndarray:
    """The token stream `kneser_ney` reads: each sentence as <s> ids </s>, then a -1 separator."""
    parts = [np.concatenate([[bos], np.asarray(s, dtype=np.int64), [eos, -1]]) for s in sentences]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def kneser_ney(
    stream: np.ndarray,
    vocabulary_size: int,
    bos: int,
    eos: int,
    order: int = 3,
    *,
    extra_unigrams: np.ndarray | None = None,
    fallback_discounts: tuple[float, float, float] = FALLBACK_DISCOUNTS,
    progress: Callable[[float], None] | None = None,
) -> KneserNeyTables:
    """Interpolated modified Kneser-Ney estimation over word ids 0..vocabulary_size-1.

    `stream` holds the sentences as <s> … </s> runs of ids; an id < 0 breaks n-grams (it separates
    sentences and stands for words left out of the model). Counts, per order k:

    * the highest order: raw counts;
    * 1 < k < order: continuation counts (how many distinct words were seen before the gram), or the
      raw count for grams nothing was seen before (sentence starts, grams right after a break);
    * unigrams: continuation counts plus `extra_unigrams` (counts for words to know without
      context); <s> gets none, as it is never predicted.

    Discounts D1, D2, D3+ per order come from count-of-counts (`fallback_discounts` when there are
    too few). The unigram distribution interpolates with a uniform one over every id but <s>.
    Vectorized with numpy (a k-gram is numbered by its prefix's row and its last word), so a
    million-word corpus over a 130k-word vocabulary takes about a second.
    """
    report = progress or (lambda _f: None)
    n = int(vocabulary_size)
    tokens = np.asarray(stream, dtype=np.int64)
    vocab_ids = np.arange(n, dtype=np.int64)

    # Tables per order: row ids of every stream position's k-gram (-1 where none), raw counts,
    # each row's prefix row (order k-1), suffix row (order k-1, the gram without its first word).
    valid = tokens >= 0
    row_at = np.where(valid, tokens, -1)  # unigram rows are word ids
    grams: list[np.ndarray] = [np.zeros((0, 0), np.int64), vocab_ids[:, None]]
    raw: list[np.ndarray] = [np.zeros(0), np.bincount(tokens[valid], minlength=n).astype(np.float64)]
    prefix: list[np.ndarray] = [np.zeros(0, np.int64)] * 2
    suffix: list[np.ndarray] = [np.zeros(0, np.int64), vocab_ids]
    for k in range(2, order + 1):
        length = max(len(tokens) - k + 1, 0)
        valid = valid[:length] & (tokens[k - 1 : k - 1 + length] >= 0)
        at = np.flatnonzero(valid)
        keys = row_at[at] * n + tokens[at + k - 1]
        rows, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        next_row_at = np.full(length, -1, dtype=np.int64)
        next_row_at[at] = inverse.reshape(-1)
        prefix.append(rows // n)
        suffix.append(row_at[at[first] + 1])  # the k-1 gram starting one word later
        grams.append(np.column_stack([grams[k - 1][rows // n], rows % n]))
        raw.append(counts.astype(np.float64))
        row_at = next_row_at
        report(0.3 * (k - 1) / order)

    adjusted: list[np.ndarray] = [np.zeros(0)] * (order + 1)
    adjusted[order] = raw[order].copy()
    for k in range(order - 1, 0, -1):
        continuation = np.bincount(suffix[k + 1], minlength=len(raw[k])).astype(np.float64)
        adjusted[k] = continuation if k == 1 else np.where(continuation > 0, continuation, raw[k])
    if extra_unigrams is not None:
        adjusted[1] = adjusted[1] + extra_unigrams
    adjusted[1][bos] = 0.0
    report(0.5)

    logprobs: list[np.ndarray] = [np.zeros(0)] * (order + 1)
    backoffs = [np.zeros(len(g)) for g in grams]
    is_context = [np.zeros(len(g), dtype=bool) for g in grams]
    a1 = adjusted[1]
    disc = _discount_of(a1, _discounts(a1[a1 > 0], fallback_discounts))
    total = a1.sum()
    if total > 0:
        probs = np.maximum(a1 - disc, 0) / total + disc.sum() / total / (n - 1)
    else:
        probs = np.full(n, 1.0 / (n - 1))
    probs[bos] = 0.0
    logprobs[1] = np.log10(np.where(probs > 0, probs, 1e-99))
    logprobs[1][bos] = NO_PROB
    for k in range(2, order + 1):
        counts, context = adjusted[k], prefix[k]
        disc = _discount_of(counts, _discounts(counts, fallback_discounts))
        context_total = np.bincount(context, weights=counts, minlength=len(grams[k - 1]))
        has = context_total > 0
        gamma = np.divide(
            np.bincount(context, weights=disc, minlength=len(has)), context_total, where=has, out=np.zeros(len(has))
        )
        probs = (counts - disc) / context_total[context] + gamma[context] * probs[suffix[k]]
        logprobs[k] = np.log10(probs)
        backoffs[k - 1] = np.where(has, np.log10(np.maximum(gamma, 1e-99)), 0.0)
        is_context[k - 1] = has
        report(0.5 + 0.5 * k / order)
    report(1.0)
    return KneserNeyTables(order, grams, logprobs, backoffs, is_context)


def _discounts(counts: np.ndarray, fallback: tuple[float, float, float]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from count-of-counts (Chen & Goodman 1998)."""
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == c)) for c in (1, 2, 3, 4))
    if n1 and n2 and n3 and n4:
        y = n1 / (n1 + 2 * n2)
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if all(0 < di < i + 1 for i, di in enumerate(d)):
            return d
    return fallback


def _discount_of(counts: np.ndarray, d: tuple[float, float, float]) -> np.ndarray:
    """Each count's discount: D1 for 1, D2 for 2, D3+ from 3 on, none for 0."""
    return np.where(counts >= 3, d[2], np.where(counts == 2, d[1], np.where(counts == 1, d[0], 0.0)))
