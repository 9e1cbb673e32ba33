"""Custom language models for Whisper: what training produces and what decoding reads back.

Whisper has no lexicon and no pluggable language model, so a next-generation custom model becomes:

1. a **biasing prompt** within Whisper's prompt budget (223 tokens, measured with the model's own
   tokenizer): user words first, in display form, then the corpora's most salient terms (frequent
   in the corpora, rare in general English), written as domain sentences from the corpora followed by
   a glossary line. Decoding passes it after `<|startofprev|>`, as faster-whisper does with
   `initial_prompt`/`hotwords`;
2. a **word n-gram LM** of the corpora (`ngram.NgramLM`, Kneser-Ney) that rescores the beam's n-best
   list: each word earns log P(word | history) − log P(<unk> | history), which is zero for words the
   corpora never saw, so general speech is left alone while domain word sequences win close calls;
3. **rewrite rules**: sounds-like phrases and plain spellings of custom words map to the display form
   ("fin tech" → "fintech", "a p r" → "APR", "fanny" → "Fannie"), case-insensitive, whole words.

Artifact layout in the model's directory (`ARTIFACT` names the JSON; `LM_FILE` the ARPA file):

    whisper_bias.json   {"format": 1, "prompt", "prompt_tokens", "terms": [{"display", "source",
                         "score"}], "rules": [{"pattern": [...], "replacement"}], "weight", "stats"}
    corpus.arpa         trigram ARPA of the corpora plus user words (absent when there is no text)
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import Any

from parlance.customization.languages import TextRules, rules_for
from parlance.customization.ngram import UNK, NgramLM
from parlance.engines.whisper.phonetic import PhoneticIndex, term_pronunciations
from parlance.engines.whisper.rewriter import Rewriter, Rule, phrase_key

ARTIFACT = "whisper_bias.json"
LM_FILE = "corpus.arpa"
FORMAT = 1
PROMPT_BUDGET = 223  # Whisper's max_length // 2 - 1: what faster-whisper keeps of a prompt
LM_ORDER = 3

Encoder = Callable[[str], list[int]]  # text -> token ids, no special tokens

ENGLISH = rules_for("en")


@dataclass(frozen=True)
class Term:
    display: str  # as it should appear in transcripts and the prompt
    source: str  # "user" | "corpus"
    score: float  # salience; user words rank above every corpus term


@dataclass
class WhisperBias:
    """A trained custom model as decoding uses it."""

    prompt: str
    prompt_tokens: list[int]
    terms: list[Term]
    rules: list[Rule]
    weight: float
    lm: NgramLM | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    pronunciations: dict[str, list[str]] = field(default_factory=dict)  # user words' display → ARPAbet

    def __post_init__(self) -> None:
        self.rewriter = Rewriter(self.rules)
        self.phonetic = PhoneticIndex(self.pronunciations)
        self.displays = {t.display.lower(): t.display for t in self.terms if t.source == "user"}

    # ---- scoring -------------------------------------------------------------------------------

    def lm_bonus(self, words: Sequence[str]) -> float:
        """Natural-log LM evidence for a word sequence beyond what unknown words get: the sum of
        ln P(word | history) - ln P(<unk> | history). Zero when the corpora know none of the words."""
        if self.lm is None or not words:
            return 0.0
        history: list[str] = ["<s>"]
        total = 0.0
        for word in (w.lower() for w in words):
            total += self.lm.logprob(word, history) - self.lm.logprob(UNK, history)
            history.append(word)
        return total * math.log(10)

    # ---- persistence ---------------------------------------------------------------------------

    def save(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.lm is not None:
            tmp = out_dir / (LM_FILE + ".tmp")
            self.lm.write_arpa(tmp)
            os.replace(tmp, out_dir / LM_FILE)
        doc = {
            "format": FORMAT,
            "prompt": self.prompt,
            "prompt_tokens": self.prompt_tokens,
            "terms": [t.__dict__ for t in self.terms],
            "rules": [{"pattern": list(r.pattern), "replacement": r.replacement} for r in self.rules],
            "weight": self.weight,
            "lm": LM_FILE if self.lm is not None else None,
            "stats": self.stats,
            "pronunciations": self.pronunciations,
        }
        tmp = out_dir / (ARTIFACT + ".tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
        os.replace(tmp, out_dir / ARTIFACT)

    @classmethod
    def load(cls, path: Path) -> WhisperBias:
        doc = json.loads((path / ARTIFACT).read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{path / ARTIFACT}: unsupported format {doc.get('format')!r}")
        lm = NgramLM.read_arpa(path / doc["lm"]) if doc.get("lm") else None
        return cls(
            prompt=doc["prompt"],
            prompt_tokens=[int(t) for t in doc["prompt_tokens"]],
            terms=[Term(**t) for t in doc["terms"]],
            rules=[Rule(tuple(r["pattern"]), r["replacement"]) for r in doc["rules"]],
            weight=float(doc["weight"]),
            lm=lm,
            stats=doc.get("stats", {}),
            pronunciations=doc.get("pronunciations") or {},  # absent in models trained before it existed
        )


_cache: dict[tuple[str, float], WhisperBias] = {}
_cache_lock = threading.Lock()


def load_cached(path: Path) -> WhisperBias:
    """`WhisperBias.load`, cached in memory by directory and artifact mtime (retraining invalidates)."""
    key = (str(path.resolve()), (path / ARTIFACT).stat().st_mtime)
    with _cache_lock:
        bias = _cache.get(key)
    if bias is None:
        bias = WhisperBias.load(path)
        with _cache_lock:
            for old in [k for k in _cache if k[0] == key[0]]:
                del _cache[old]
            _cache[key] = bias
    return bias


# ---- training ----------------------------------------------------------------------------------


@cache
def general_vocabulary() -> frozenset[str]:
    """Words of general American English: the CMU pronouncing dictionary shipped with PocketSphinx."""
    try:
        import pocketsphinx

        path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
        with open(path, encoding="utf-8", errors="replace") as f:
            return frozenset(line.split(" ", 1)[0].split("(", 1)[0].lower() for line in f if line.strip())
    except (ImportError, OSError):
        return frozenset()


def user_rules(words: Iterable[dict[str, Any]], rules: TextRules = ENGLISH) -> tuple[list[Term], list[Rule]]:
    """Terms and rewrite rules from Watson word objects (word, sounds_like, display_as, mapping_only).

    Each word is rewritten to its display form from its own spelling, its display form and each
    sounds-like phrase (as spoken words, also run together: "a p r" and "apr"); an all-capitals
    display form of up to six letters is also matched spelled out ("A P R").
    """
    terms: list[Term] = []
    found: list[Rule] = []
    seen: set[str] = set()
    for entry in words:
        word = str(entry.get("word", "")).strip()
        display = str(entry.get("display_as") or word).strip()
        if not word or not display or display.lower() in seen:
            continue
        seen.add(display.lower())
        if not entry.get("mapping_only"):  # mapping-only words rewrite output but are not learned
            terms.append(Term(display=display, source="user", score=0.0))
        spelled = [form for sounds in entry.get("sounds_like") or [] for form in rules.spellings(sounds)]
        sources = [word.replace("_", " ").replace("-", " "), display, *spelled]
        for phrase in sources:
            key = phrase_key(phrase, rules.words)
            if not key:
                continue
            found.append(Rule(key, display))
            if len(key) > 1:  # "a p r" may also come out as "apr", "fin tech" as "fintech"
                found.append(Rule(("".join(key),), display))
        if display.isupper() and len(display) <= 6 and display.isalpha():  # acronym: "A P R"
            found.append(Rule(tuple(display.lower()), display))
    # user-word order is the user's; keep it, but give earlier words a higher score
    ranked = [Term(t.display, t.source, float(len(terms) - i)) for i, t in enumerate(terms)]
    return ranked, list(dict.fromkeys(found))


def rank_corpus_terms(
    texts: Iterable[str], encode: Encoder, exclude: set[str], limit: int = 200, rules: TextRules = ENGLISH
) -> list[Term]:
    """The corpora's most salient words: frequent here, rare in general language.

    Rarity is how many BPE pieces Whisper's tokenizer needs for the word beyond the first (common
    words are one piece), plus, for English, one when the CMU dictionary does not know it.
    """
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    for text in texts:
        counts.update(rules.surface(text))
    general = general_vocabulary() if rules.code == "en" else None
    merged: Counter[str] = Counter()
    for surface, c in counts.items():
        key = surface.lower()
        merged[key] += c
        forms.setdefault(key, Counter())[surface] += c
    scored: list[Term] = []
    for key, c in merged.items():
        if key in exclude or len(key) < rules.min_term_chars or key.isdigit():
            continue
        surface = forms[key].most_common(1)[0][0]
        rarity = len(encode(" " + surface)) - 1 + (0 if general is None or key in general else 1)
        if rarity <= 0:
            continue
        scored.append(Term(display=surface, source="corpus", score=rarity * math.log1p(c)))
    scored.sort(key=lambda t: (-t.score, t.display))
    return scored[:limit]


def build_prompt(
    terms: Sequence[Term],
    sentences: Sequence[str],
    encode: Encoder,
    budget: int = PROMPT_BUDGET,
    rules: TextRules = ENGLISH,
) -> tuple[str, list[int]]:
    """Domain sentences that use the top terms, then a glossary of the terms, within `budget` tokens.

    User words are placed first: the glossary reserves room for all of them (lowest-ranked dropped
    if even they do not fit). Half of what is left goes to corpus sentences, chosen greedily to cover
    the highest-ranked terms not yet covered (short sentences preferred); the rest extends the
    glossary with corpus terms the sentences do not already show.
    """
    user = [t for t in terms if t.source == "user"]
    others = [t for t in terms if t.source != "user"]
    glossary: list[str] = []
    used = 0

    def add_to_glossary(term: Term, limit: int) -> bool:
        nonlocal used
        cost = len(encode((", " if glossary else " ") + term.display))
        if used + cost > limit:
            return False
        glossary.append(term.display)
        used += cost
        return True

    for term in user:
        if not add_to_glossary(term, budget - 2):  # 2: the closing period and a join
            break
    chosen, covered, spent = _cover(terms, sentences, encode, (budget - used) // 2, rules=rules)
    used += spent
    for term in others:
        if term.display.lower() not in covered and not add_to_glossary(term, budget - 2):
            break
    text = " ".join(chosen + ([", ".join(glossary) + "."] if glossary else []))
    tokens = encode(" " + text) if text else []
    while len(tokens) > budget and (chosen or glossary):  # joins can cost a token more than estimated
        if chosen:
            chosen.pop()
        else:
            glossary.pop()
        text = " ".join(chosen + ([", ".join(glossary) + "."] if glossary else []))
        tokens = encode(" " + text) if text else []
    return text, tokens


def _cover(
    terms: Sequence[Term],
    sentences: Sequence[str],
    encode: Encoder,
    budget: int,
    per_term: int = 20,
    rules: TextRules = ENGLISH,
) -> tuple[list[str], set[str], int]:
    """Greedy weighted set cover of `terms` by `sentences` within `budget` tokens.

    Only the first `per_term` sentences (in corpus order) of each term are candidates, which bounds
    the work on large corpora. Returns the chosen sentences, the terms they cover (lower-case) and
    their cost.
    """
    wanted = {t.display.lower(): t.score + 1.0 for t in terms}
    by_term: dict[str, list[str]] = {}
    for sentence in dict.fromkeys(sentences):
        for word in {w.lower() for w in rules.surface(sentence)} & wanted.keys():
            bucket = by_term.setdefault(word, [])
            if len(bucket) < per_term:
                bucket.append(sentence)
    pool: dict[str, set[str]] = {}
    for bucket in by_term.values():
        for sentence in bucket:
            pool[sentence] = {w.lower() for w in rules.surface(sentence)} & wanted.keys()
    chosen: list[str] = []
    covered: set[str] = set()
    spent = 0
    for _ in range(200):  # bounded: each round scans the pool
        if not pool or budget - spent < 8:
            break
        best = max(pool, key=lambda s: sum(wanted[w] for w in pool[s] - covered) / (1 + len(s)))
        gain = pool.pop(best) - covered
        if not gain:
            break
        text = best.strip() if best.strip()[-1:] in "。！？!?" else best.strip().rstrip(".") + "."
        cost = len(encode(" " + text))
        if spent + cost > budget:
            continue
        chosen.append(text)
        covered |= gain
        spent += cost
    return chosen, covered, spent


def train_bias(
    corpora: dict[str, str],
    words: list[dict[str, Any]],
    weight: float,
    encode: Encoder,
    progress: Callable[[int], None] = lambda _p: None,
    *,
    budget: int = PROMPT_BUDGET,
    rules: TextRules = ENGLISH,
) -> WhisperBias:
    """Build a `WhisperBias` from corpora and user words (the service has validated both)."""
    started = time.perf_counter()
    progress(1)
    user_terms, rewrites = user_rules(words, rules)
    user_terms = _corpus_words_first(user_terms, corpora.values(), rules)
    if not rules.spaced:  # segment the corpora as decoding will: custom words kept whole
        keep = Rewriter(rewrites).single_words
        rules = replace(rules, words=partial(rules.words, keep=keep), surface=partial(rules.surface, keep=keep))
    texts = list(corpora.values())
    lines = [s.strip() for text in texts for line in text.splitlines() for s in rules.sentences(line) if s.strip()]
    progress(5)

    lm_sentences = [toks for line in lines if (toks := rules.words(line))]
    lm_sentences += [list(phrase_key(t.display, rules.words)) for t in user_terms]
    progress(15)
    lm = None
    if lm_sentences:
        lm = NgramLM.train(lm_sentences, order=LM_ORDER, progress=lambda f: progress(15 + int(55 * f)))
    progress(72)

    exclude = {t.display.lower() for t in user_terms}
    corpus_terms = rank_corpus_terms(texts, encode, exclude, rules=rules)
    progress(85)
    terms = user_terms + corpus_terms
    short_lines = [line for line in lines if len(line) <= 200]
    prompt, tokens = build_prompt(terms, short_lines, encode, budget, rules)
    progress(95)
    stats = {
        "corpus_words": sum(len(s) for s in lm_sentences[: len(lm_sentences) - len(user_terms)]),
        "user_words": len(user_terms),
        "prompt_tokens": len(tokens),
        "lm_ngrams": lm.counts() if lm else [],
        "train_seconds": round(time.perf_counter() - started, 3),
    }
    pronunciations = term_pronunciations(words, rules.words) if rules.code == "en" else {}
    return WhisperBias(prompt, tokens, terms, rewrites, weight, lm, stats, pronunciations)


def _corpus_words_first(terms: list[Term], texts: Iterable[str], rules: TextRules) -> list[Term]:
    """User words that the corpora use first, then the rest, each group in the user's order: with more
    words than the prompt holds, the ones the domain's text shows in use are the likelier to be spoken."""
    seen = {w.lower() for text in texts for w in rules.surface(text)}
    used = [t for t in terms if t.display.lower() in seen]
    ordered = used + [t for t in terms if t.display.lower() not in seen]
    return [Term(t.display, t.source, float(len(ordered) - i)) for i, t in enumerate(ordered)]
