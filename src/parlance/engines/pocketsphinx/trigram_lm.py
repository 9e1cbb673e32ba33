"""Trigram language models for PocketSphinx as numpy arrays: read/write its binary trie format,
estimate a Kneser-Ney model from token ids, and interpolate two models into one.

Why this module exists: PocketSphinx 5 decodes with exactly one n-gram model and offers no way to
interpolate two at run time from Python (its `lmctl` sets only *select* a model), and its own
`NGramModel.write(..., "arpa")` crashes on the bundled `en-us.lm.bin` (the trie holds a few
phantom bigram slots its ARPA writer trips over). So a custom model is built offline:

1. `read_trie_bin` parses the bundled binary trie (`"Trie Language Model"` files, the format of
   `ngram_model_trie.c` / `lm_trie.c`) straight into arrays, ~1 s, cached per file.
2. `train_kn` estimates an interpolated modified Kneser-Ney trigram model from the corpora
   (the project's one estimator, `customization.ngram.kneser_ney`).
3. `interpolate` mixes the two linearly, P = (1-w) P_base + w P_custom, over the union of their
   n-grams (each model evaluated with its own back-off), and recomputes back-off weights so the
   result is again a normalized back-off model (what SRILM's `ngram -mix-lm` does).
4. `write_trie_bin` writes the binary trie PocketSphinx loads directly (with the same 16-bit
   quantization its own writer uses), so a 3.7 M n-gram model is written in about a second.

All log probabilities here are log10, as in ARPA files. Word ids index `TrigramLM.words`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from parlance.customization.ngram import BOS, EOS, NO_PROB, id_stream, kneser_ney

_TRIE_HEADER = b"Trie Language Model"
_LOG10_TO_SPHINX = math.log(10) / math.log(1.0001)  # PocketSphinx stores log base 1.0001 floats
_QUANT_BITS = 16
_QUANT_BINS = 1 << _QUANT_BITS
_EMPTY_BIN = -float(0x7F800000)  # what PocketSphinx's make_bins puts in an empty first bin


@dataclass
class TrigramLM:
    """A back-off trigram model over `words` (log10).

    Unigrams are indexed by word id. Bigrams are sorted by (context, word) and trigrams by
    (u, v, word); `bi_bo` is the back-off weight of the bigram as a trigram context.
    """

    words: list[str]
    uni_p: np.ndarray
    uni_bo: np.ndarray
    bi_v: np.ndarray
    bi_w: np.ndarray
    bi_p: np.ndarray
    bi_bo: np.ndarray
    tri_u: np.ndarray
    tri_v: np.ndarray
    tri_w: np.ndarray
    tri_p: np.ndarray
    _index: tuple[dict[str, int], np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.words)

    @property
    def counts(self) -> tuple[int, int, int]:
        return len(self.words), len(self.bi_w), len(self.tri_w)

    def bigram_keys(self, vocab: int | None = None) -> np.ndarray:
        v = vocab or self.size
        return self.bi_v.astype(np.int64) * v + self.bi_w

    def trigram_keys(self, vocab: int | None = None) -> np.ndarray:
        v = vocab or self.size
        return (self.tri_u.astype(np.int64) * v + self.tri_v) * v + self.tri_w

    def word_ids(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def extend_vocabulary(self, new_words: list[str]) -> TrigramLM:
        """The same model over `words + new_words` (new words get probability 0)."""
        n = len(new_words)
        if not n:
            return self
        return TrigramLM(
            self.words + list(new_words),
            np.concatenate([self.uni_p, np.full(n, -np.inf)]),
            np.concatenate([self.uni_bo, np.zeros(n)]),
            self.bi_v, self.bi_w, self.bi_p, self.bi_bo,
            self.tri_u, self.tri_v, self.tri_w, self.tri_p,
        )  # fmt: skip

    def logprob(self, word: str, context: tuple[str, ...] = ()) -> float:
        """log10 P(word | context) with back-off (one n-gram at a time: for checks and tests)."""
        if self._index is None:
            self._index = (self.word_ids(), self.bigram_keys(), self.trigram_keys())
        ids, keys2, keys3 = self._index
        w = ids.get(word)
        if w is None:
            return -np.inf
        ctx = [ids.get(c) for c in context[-2:]]
        while None in ctx:  # an unknown context word: only what follows it counts
            ctx = ctx[ctx.index(None) + 1 :]
        c = np.array(ctx, dtype=np.int64)
        if len(c) == 2:
            return float(lookup3(self, c[:1], c[1:], np.array([w]), keys2, keys3)[0])
        if len(c) == 1:
            return float(lookup2(self, c, np.array([w]), keys2)[0])
        return float(self.uni_p[w])

    def save(self, path: Path) -> None:
        np.savez(
            path, words=np.array(self.words, dtype=object), **{
                k: getattr(self, k) for k in
                ("uni_p", "uni_bo", "bi_v", "bi_w", "bi_p", "bi_bo", "tri_u", "tri_v", "tri_w", "tri_p")
            },
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> TrigramLM:
        with np.load(path, allow_pickle=True) as z:
            return cls(list(z["words"]), *(z[k] for k in (
                "uni_p", "uni_bo", "bi_v", "bi_w", "bi_p", "bi_bo", "tri_u", "tri_v", "tri_w", "tri_p")))  # fmt: skip


# ---- back-off lookups (vectorized) --------------------------------------------------------------


def _unique(a: np.ndarray, return_counts: bool = False):
    """Sorted unique values (sort-based: much faster than numpy's hash unique on int64 keys)."""
    a = np.sort(a, kind="stable")
    if len(a) == 0:
        return (a, np.zeros(0, dtype=np.int64)) if return_counts else a
    first = np.concatenate([[True], a[1:] != a[:-1]])
    values = a[first]
    if not return_counts:
        return values
    starts = np.flatnonzero(first)
    return values, np.diff(np.append(starts, len(a)))


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union of two sorted key arrays (timsort merges the two runs in linear time)."""
    return _unique(np.concatenate([a, b]))


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique values of a sorted array and, per element, the index of its value."""
    first = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]) if len(sorted_keys) else np.zeros(0, bool)
    return sorted_keys[first], np.cumsum(first) - 1


def _find(keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each query in sorted `keys` and whether it is there."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=np.int64), np.zeros(len(query), dtype=bool)
    idx = np.searchsorted(keys, query)
    idx_clipped = np.minimum(idx, len(keys) - 1)
    return idx_clipped, keys[idx_clipped] == query


def lookup2(lm: TrigramLM, v: np.ndarray, w: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """log10 P(w | v) with back-off, for arrays of ids."""
    keys = lm.bigram_keys() if keys is None else keys
    backoff = lm.uni_bo[v] + lm.uni_p[w]
    if len(keys) == 0:
        return backoff
    idx, found = _find(keys, v.astype(np.int64) * lm.size + w)
    return np.where(found, lm.bi_p[idx], backoff)


def lookup3(
    lm: TrigramLM, u: np.ndarray, v: np.ndarray, w: np.ndarray,
    keys2: np.ndarray | None = None, keys3: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """log10 P(w | u v) with back-off, for arrays of ids."""
    keys2 = lm.bigram_keys() if keys2 is None else keys2
    keys3 = lm.trigram_keys() if keys3 is None else keys3
    n = lm.size
    lower = lookup2(lm, v, w, keys2)
    if len(keys2):
        idx2, found2 = _find(keys2, u.astype(np.int64) * n + v)
        lower += np.where(found2, lm.bi_bo[idx2], 0.0)
    if len(keys3) == 0:
        return lower
    idx3, found3 = _find(keys3, (u.astype(np.int64) * n + v) * n + w)
    return np.where(found3, lm.tri_p[idx3], lower)


# ---- the PocketSphinx binary trie ---------------------------------------------------------------


def _required_bits(value: int) -> int:
    return int(value).bit_length()


def _base_size(entries: int, total_bits: int) -> int:
    return ((1 + entries) * total_bits + 7) // 8 + 8


def _read_bits(mem: np.ndarray, total_bits: int, n: int, offset: int, bits: int) -> np.ndarray:
    """Field `bits` wide at `offset` in each of n packed entries `total_bits` wide (LSB first)."""
    pos = np.arange(n, dtype=np.int64) * total_bits + offset
    gathered = mem[(pos >> 3)[:, None] + np.arange(8)]
    values = np.ascontiguousarray(gathered).view("<u8").ravel()
    return ((values >> (pos & 7).astype(np.uint64)) & np.uint64((1 << bits) - 1)).astype(np.int64)


class _BitWriter:
    """Packs fixed-width entries LSB-first, like PocketSphinx's bitarr.c (fields <= 32 bits)."""

    def __init__(self, entries: int, total_bits: int) -> None:
        self.total_bits = total_bits
        self.size = _base_size(entries, total_bits)
        self.words = np.zeros(self.size // 8 + 2, dtype="<u8")

    def write(self, index: np.ndarray, offset: int, bits: int, values: np.ndarray) -> None:
        pos = index.astype(np.int64) * self.total_bits + offset
        values = values.astype(np.uint64) & np.uint64((1 << bits) - 1)
        # Entries are >= 33 bits wide, so entries i and i+4 never share a 64-bit word: writing each
        # residue class separately makes every fancy-indexed OR free of duplicate targets.
        for r in range(4):
            sel = slice(r, None, 4)
            p, v = pos[sel], values[sel]
            word, shift = p >> 6, (p & 63).astype(np.uint64)
            self.words[word] |= v << shift
            spill = (shift + np.uint64(bits)) > 64
            if spill.any():
                self.words[word[spill] + 1] |= v[spill] >> (np.uint64(64) - shift[spill])

    def tobytes(self) -> bytes:
        return self.words.view(np.uint8)[: self.size].tobytes()


def read_trie_bin(path: Path) -> TrigramLM:
    """Parse a PocketSphinx binary trie trigram model (e.g. the bundled `en-us.lm.bin`)."""
    data = np.fromfile(path, dtype=np.uint8)
    if data[: len(_TRIE_HEADER)].tobytes() != _TRIE_HEADER:
        raise ValueError(f"{path} is not a PocketSphinx binary trie language model")
    off = len(_TRIE_HEADER)
    order = int(data[off])
    off += 1
    if order != 3:
        raise ValueError(f"{path}: only trigram models can be customized (this one is order {order})")
    counts = np.frombuffer(data[off : off + 12].tobytes(), "<u4").astype(np.int64)
    off += 12 + 4  # counts, then an unused int
    n_quant = (order - 2) * 2 * _QUANT_BINS + _QUANT_BINS
    quant = np.frombuffer(data[off : off + 4 * n_quant].tobytes(), "<f4").astype(np.float64)
    off += 4 * n_quant
    n1 = int(counts[0])
    unigrams = np.frombuffer(
        data[off : off + 12 * (n1 + 1)].tobytes(), dtype=[("p", "<f4"), ("bo", "<f4"), ("next", "<u4")]
    )
    off += 12 * (n1 + 1)
    word_bits = _required_bits(n1)
    mid_bits = word_bits + 32 + _required_bits(int(counts[2]))
    mid_size = _base_size(int(counts[1]), mid_bits)
    mid = data[off : off + mid_size]
    off += mid_size
    long_bits = word_bits + _QUANT_BITS
    long_size = _base_size(int(counts[2]), long_bits)
    longest = data[off : off + long_size]
    off += long_size
    n_chars = int(np.frombuffer(data[off : off + 4].tobytes(), "<u4")[0])
    words = [w.decode("utf-8") for w in data[off + 4 : off + 4 + n_chars].tobytes().split(b"\0")[:-1]]
    if len(words) != n1:
        raise ValueError(f"{path}: {len(words)} word strings for {n1} unigrams")

    # The header counts may include a few never-filled slots; the sentinels give the real extents.
    uni_next = unigrams["next"].astype(np.int64)
    n2 = int(uni_next[n1])
    next_bits = mid_bits - word_bits - 32
    bi_ctx = _read_bits(mid, mid_bits, n2, 0, word_bits)
    bi_q = _read_bits(mid, mid_bits, n2, word_bits, 32)
    bi_next = _read_bits(mid, mid_bits, n2 + 1, word_bits + 32, next_bits)
    n3 = int(bi_next[n2])
    tri_u = _read_bits(longest, long_bits, n3, 0, word_bits)
    tri_q = _read_bits(longest, long_bits, n3, word_bits, _QUANT_BITS)
    bi_word = np.repeat(np.arange(n1, dtype=np.int64), np.diff(uni_next))
    parent = np.repeat(np.arange(n2, dtype=np.int64), np.diff(bi_next))

    scale = 1.0 / _LOG10_TO_SPHINX
    bi_p = quant[:_QUANT_BINS][bi_q >> 16] * scale
    bi_bo = quant[_QUANT_BINS : 2 * _QUANT_BINS][bi_q & 0xFFFF] * scale
    tri_p = quant[2 * _QUANT_BINS :][tri_q] * scale
    uni_p = unigrams["p"][:n1].astype(np.float64) * scale
    uni_bo = unigrams["bo"][:n1].astype(np.float64) * scale
    uni_p[uni_p < -98.0] = NO_PROB

    bi_order = np.argsort(bi_ctx * n1 + bi_word, kind="stable")
    tri_v, tri_w = bi_ctx[parent], bi_word[parent]
    tri_order = np.argsort((tri_u * n1 + tri_v) * n1 + tri_w, kind="stable")
    return TrigramLM(
        words, uni_p, uni_bo,
        bi_ctx[bi_order].astype(np.int32), bi_word[bi_order].astype(np.int32),
        bi_p[bi_order], bi_bo[bi_order],
        tri_u[tri_order].astype(np.int32), tri_v[tri_order].astype(np.int32),
        tri_w[tri_order].astype(np.int32), tri_p[tri_order],
    )  # fmt: skip


def _quantize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """16-bit quantization as lm_trie_quant.c does it: centers are the means of equal-count slices
    of the sorted values, and each value gets the code of its nearest center."""
    n = len(values)
    if n == 0:
        return np.zeros(_QUANT_BINS, np.float32), np.zeros(0, np.int64)
    ordered = np.sort(values.astype(np.float64))
    bounds = (n * np.arange(_QUANT_BINS + 1, dtype=np.int64)) // _QUANT_BINS
    csum = np.concatenate([[0.0], np.cumsum(ordered)])
    count = np.diff(bounds)
    nonempty = count > 0
    centers = np.full(_QUANT_BINS, np.nan)
    centers[nonempty] = (csum[bounds[1:]] - csum[bounds[:-1]])[nonempty] / count[nonempty]
    # Empty bins repeat the previous center (the first one gets PocketSphinx's "-inf").
    fill = np.where(nonempty, np.arange(_QUANT_BINS), 0)
    np.maximum.accumulate(fill, out=fill)
    centers = centers[fill]
    centers[np.isnan(centers)] = _EMPTY_BIN
    centers = centers.astype(np.float32)
    return centers, _encode(centers, values.astype(np.float32))


def _encode(centers: np.ndarray, values: np.ndarray, exact: bool = False) -> np.ndarray:
    """Nearest-center codes, as bins_encode() picks them."""
    if not exact and len(values) > 4 * len(centers):
        # Large arrays: look codes up on a fine grid over the value range (O(n), no sorting of
        # the values); a value lands on the nearest center or, within a grid step, its neighbour.
        lo, hi = float(values.min()), float(values.max())
        if hi > lo:
            cells = 1 << 20
            step = (hi - lo) / cells
            grid = (lo + (np.arange(cells, dtype=np.float64) + 0.5) * step).astype(np.float32)
            table = _encode(centers, grid, exact=True)
            cell = np.minimum(((values - lo) / step).astype(np.int64), cells - 1)
            return table[cell]
    above = np.searchsorted(centers, values, side="left")
    inner = np.clip(above, 1, len(centers) - 1)
    lower, upper = centers[inner - 1], centers[inner]
    code = inner - ((values - lower) < (upper - values))
    return np.where(above == 0, 0, np.where(above >= len(centers), len(centers) - 1, code)).astype(np.int64)


def write_trie_bin(lm: TrigramLM, path: Path) -> None:
    """Write `lm` in PocketSphinx's binary trie format (loads with `Decoder(lm=path)`)."""
    n1 = lm.size
    bi_v, bi_w, bi_p, bi_bo = lm.bi_v.astype(np.int64), lm.bi_w.astype(np.int64), lm.bi_p, lm.bi_bo
    # Trie order: bigrams by (word, context), trigrams by (word, v, u). The trie reaches a
    # trigram through its suffix bigram (v, w), so a missing suffix gets a back-off-valued entry.
    mid_order = np.argsort(bi_w * n1 + bi_v, kind="stable")
    bi_v, bi_w, bi_p, bi_bo = bi_v[mid_order], bi_w[mid_order], bi_p[mid_order], bi_bo[mid_order]
    tri_u, tri_v, tri_w = (a.astype(np.int64) for a in (lm.tri_u, lm.tri_v, lm.tri_w))
    long_order = np.argsort((tri_w * n1 + tri_v) * n1 + tri_u, kind="stable")
    tri_u, tri_v, tri_w, tri_p = tri_u[long_order], tri_v[long_order], tri_w[long_order], lm.tri_p[long_order]
    mid_keys = bi_w * n1 + bi_v
    parent, found = _find(mid_keys, tri_w * n1 + tri_v)
    if len(tri_w) and not found.all():
        missing = _unique((tri_w * n1 + tri_v)[~found])
        mw, mv = missing // n1, missing % n1
        bi_v, bi_w = np.concatenate([bi_v, mv]), np.concatenate([bi_w, mw])
        bi_p = np.concatenate([bi_p, lm.uni_bo[mv] + lm.uni_p[mw]])
        bi_bo = np.concatenate([bi_bo, np.zeros(len(missing))])
        order = np.argsort(bi_w * n1 + bi_v, kind="stable")
        bi_v, bi_w, bi_p, bi_bo = bi_v[order], bi_w[order], bi_p[order], bi_bo[order]
        parent, found = _find(bi_w * n1 + bi_v, tri_w * n1 + tri_v)
    n2, n3 = len(bi_w), len(tri_w)
    uni_next = np.concatenate([[0], np.cumsum(np.bincount(bi_w, minlength=n1))])
    bi_next = np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=n2))]).astype(np.int64)
    uni_next = uni_next.astype(np.int64)

    to_sphinx = _LOG10_TO_SPHINX
    bins_p2, codes_p2 = _quantize(bi_p * to_sphinx)
    bins_bo2, codes_bo2 = _quantize(bi_bo * to_sphinx)
    bins_p3, codes_p3 = _quantize(tri_p * to_sphinx)

    word_bits = _required_bits(n1)
    next_bits = _required_bits(n3)
    mid_bits = word_bits + 32 + next_bits
    mid = _BitWriter(n2, mid_bits)
    idx2 = np.arange(n2, dtype=np.int64)
    mid.write(idx2, 0, word_bits, bi_v)
    mid.write(idx2, word_bits, 32, (codes_p2 << 16) | codes_bo2)
    mid.write(np.arange(n2 + 1, dtype=np.int64), word_bits + 32, next_bits, bi_next)
    long_bits = word_bits + _QUANT_BITS
    longest = _BitWriter(n3, long_bits)
    idx3 = np.arange(n3, dtype=np.int64)
    longest.write(idx3, 0, word_bits, tri_u)
    longest.write(idx3, word_bits, _QUANT_BITS, codes_p3)

    unigrams = np.zeros(n1 + 1, dtype=[("p", "<f4"), ("bo", "<f4"), ("next", "<u4")])
    unigrams["p"][:n1] = np.where(np.isfinite(lm.uni_p), lm.uni_p, NO_PROB) * to_sphinx
    unigrams["bo"][:n1] = lm.uni_bo * to_sphinx
    unigrams["next"] = uni_next
    word_blob = b"".join(w.encode("utf-8") + b"\0" for w in lm.words)

    tmp = Path(f"{path}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(_TRIE_HEADER)
        f.write(bytes([3]))
        f.write(np.array([n1, n2, n3], dtype="<u4").tobytes())
        f.write(np.array([1], dtype="<i4").tobytes())
        f.write(np.concatenate([bins_p2, bins_bo2, bins_p3]).astype("<f4").tobytes())
        f.write(unigrams.tobytes())
        f.write(mid.tobytes())
        f.write(longest.tobytes())
        f.write(np.array([len(word_blob)], dtype="<u4").tobytes())
        f.write(word_blob)
    os.replace(tmp, path)


def read_trie_words(path: Path) -> list[str]:
    """Just the vocabulary of a binary trie model (skips the n-gram arrays)."""
    with open(path, "rb") as f:
        head = f.read(len(_TRIE_HEADER) + 1 + 12)
        if head[: len(_TRIE_HEADER)] != _TRIE_HEADER:
            raise ValueError(f"{path} is not a PocketSphinx binary trie language model")
        order = head[len(_TRIE_HEADER)]
        f.seek(len(_TRIE_HEADER) + 1)
        counts = [int(c) for c in np.frombuffer(f.read(4 * order), "<u4")]
        off = len(_TRIE_HEADER) + 1 + 4 * order
        if order > 1:
            off += 4 + 4 * ((order - 2) * 2 * _QUANT_BINS + _QUANT_BINS)
        off += 12 * (counts[0] + 1)
        word_bits = _required_bits(counts[0])
        for i in range(1, order):
            quant_bits = 32 + _required_bits(counts[i + 1]) if i < order - 1 else _QUANT_BITS
            off += _base_size(counts[i], word_bits + quant_bits)
        f.seek(off)
        n_chars = int(np.frombuffer(f.read(4), "<u4")[0])
        return [w.decode("utf-8") for w in f.read(n_chars).split(b"\0")[:-1]]


@lru_cache(maxsize=4)
def _cached_trie(path: str, mtime: float, size: int) -> TrigramLM:
    return read_trie_bin(Path(path))


def load_base_lm(path: Path) -> TrigramLM:
    """`read_trie_bin`, cached in memory per file (keyed by path, mtime and size)."""
    st = path.stat()
    return _cached_trie(str(path), st.st_mtime, st.st_size)


# ---- estimation ---------------------------------------------------------------------------------

# PocketSphinx custom models were tuned with these when the corpus is too small to estimate discounts.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


def _group_sum(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)


def train_kn(sentences: list[np.ndarray], words: list[str], extra_unigrams: np.ndarray | None = None) -> TrigramLM:
    """Interpolated modified Kneser-Ney trigram model over the vocabulary `words` (`ngram.kneser_ney`).

    `sentences` hold word ids (without <s>/</s>; ids < 0 are words left out of the model and
    break n-grams). The lowest order interpolates with a uniform distribution over all of
    `words`, so every word of the vocabulary gets some probability. `extra_unigrams` adds
    counts for words that should be known without context (e.g. user words with no corpus use).
    """
    ids = {w: i for i, w in enumerate(words)}
    stream = id_stream(sentences, ids[BOS], ids[EOS])
    kn = kneser_ney(
        stream, len(words), ids[BOS], ids[EOS], 3, extra_unigrams=extra_unigrams, fallback_discounts=FALLBACK_DISCOUNTS
    )
    bigrams, trigrams = kn.grams[2].astype(np.int32), kn.grams[3].astype(np.int32)
    return TrigramLM(
        list(words), kn.logprobs[1], kn.backoffs[1],
        bigrams[:, 0], bigrams[:, 1], kn.logprobs[2], kn.backoffs[2],
        trigrams[:, 0], trigrams[:, 1], trigrams[:, 2], kn.logprobs[3],
    )  # fmt: skip


# ---- interpolation ------------------------------------------------------------------------------


def _backoff_weights(num_sum: np.ndarray, den_sum: np.ndarray) -> np.ndarray:
    """log10 of (1 - sum of explicit probs) / (1 - sum of their lower-order probs), guarded."""
    num = np.maximum(1.0 - num_sum, 1e-7)
    den = np.maximum(1.0 - den_sum, 1e-7)
    return np.log10(num / den)


def _mixed(keys: np.ndarray, base_keys: np.ndarray, base_p: np.ndarray, fallback) -> np.ndarray:
    """Base-model log10 probabilities for every key of the sorted union `keys`: stored values
    where the base model has the n-gram, `fallback(mask)` (its back-off estimate) elsewhere."""
    out = np.empty(len(keys))
    pos = np.searchsorted(keys, base_keys)
    out[pos] = base_p
    new = np.ones(len(keys), dtype=bool)
    new[pos] = False
    if new.any():
        out[new] = fallback(new)
    return out


def interpolate(base: TrigramLM, custom: TrigramLM, weight: float, progress=None) -> TrigramLM:
    """Linear interpolation (1-weight)*base + weight*custom over the same vocabulary (same ids).

    The result holds the union of both models' n-grams; each probability is the mixture of the
    two models' back-off estimates, and back-off weights are recomputed so every context
    distribution sums to one (up to quantization of the base model).
    """
    if base.words != custom.words:
        raise ValueError("both models must share one vocabulary")
    n = base.size
    lam = float(weight)
    report = progress or (lambda _p: None)

    with np.errstate(divide="ignore", under="ignore"):
        pm1 = (1 - lam) * 10**base.uni_p + lam * 10**custom.uni_p
        bos = base.word_ids().get(BOS)
        if bos is not None:
            pm1[bos] = 0.0
        uni_p = np.log10(np.maximum(pm1, 1e-99))
    if bos is not None:
        uni_p[bos] = NO_PROB
    report(0.1)

    bkeys2, ckeys2 = base.bigram_keys(), custom.bigram_keys()
    k2 = _union(bkeys2, ckeys2)
    v2, w2 = k2 // n, k2 % n
    pb2 = _mixed(k2, bkeys2, base.bi_p, lambda m: lookup2(base, v2[m], w2[m], bkeys2))
    pm2 = (1 - lam) * 10**pb2 + lam * 10 ** lookup2(custom, v2, w2, ckeys2)
    report(0.35)
    ctx, _ = _runs(v2)
    bo = _backoff_weights(_group_sum(v2, pm2, n), _group_sum(v2, pm1[w2], n))
    uni_bo = np.zeros(n)
    uni_bo[ctx] = bo[ctx]
    report(0.45)

    bkeys3, ckeys3 = base.trigram_keys(), custom.trigram_keys()
    k3 = _union(bkeys3, ckeys3)
    u3, v3, w3 = k3 // (n * n), (k3 // n) % n, k3 % n
    pb3 = _mixed(k3, bkeys3, base.tri_p, lambda m: lookup3(base, u3[m], v3[m], w3[m], bkeys2, bkeys3))
    pm3 = (1 - lam) * 10**pb3 + lam * 10 ** lookup3(custom, u3, v3, w3, ckeys2, ckeys3)
    report(0.7)
    # The mixed bigram estimate of each trigram's word (its suffix bigram is in k2 as a rule).
    idx, found = _find(k2, v3 * n + w3)
    lower = np.where(found, pm2[idx], 10 ** uni_bo[v3] * pm1[w3])
    ctx_keys, ctx_inv = _runs(k3 // n)
    ctx_bo = _backoff_weights(np.bincount(ctx_inv, weights=pm3), np.bincount(ctx_inv, weights=lower))
    bi_bo = np.zeros(len(k2))
    idx, found = _find(k2, ctx_keys)
    bi_bo[idx[found]] = ctx_bo[found]
    report(0.8)
    return TrigramLM(
        base.words, uni_p, uni_bo,
        v2.astype(np.int32), w2.astype(np.int32), np.log10(np.maximum(pm2, 1e-99)), bi_bo,
        u3.astype(np.int32), v3.astype(np.int32), w3.astype(np.int32), np.log10(np.maximum(pm3, 1e-99)),
    )  # fmt: skip


def boost_words(lm: TrigramLM, word_ids: np.ndarray, log10_boost: float) -> TrigramLM:
    """`lm` with every probability of the given words (unigram, bigram and trigram, so in every
    context) raised by `log10_boost`; back-off weights are left alone.

    The result is no longer normalized: it is a bias, as contextual-biasing boosts are, which makes
    the decoder prefer those words where their acoustics are close (a normalized model would have
    to take the mass from the words they compete with, which is the same in effect).
    """
    if not log10_boost or len(word_ids) == 0:
        return lm
    on = np.zeros(lm.size, dtype=bool)
    on[np.asarray(word_ids, dtype=np.int64)] = True
    uni_p = np.where(on & np.isfinite(lm.uni_p) & (lm.uni_p > NO_PROB), lm.uni_p + log10_boost, lm.uni_p)
    return TrigramLM(
        lm.words, uni_p, lm.uni_bo,
        lm.bi_v, lm.bi_w, np.where(on[lm.bi_w], lm.bi_p + log10_boost, lm.bi_p), lm.bi_bo,
        lm.tri_u, lm.tri_v, lm.tri_w, np.where(on[lm.tri_w], lm.tri_p + log10_boost, lm.tri_p),
    )  # fmt: skip
