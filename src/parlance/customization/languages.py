"""Per-language text rules: how transcripts and corpora are cut into words beyond US English.

Watson's next-generation transcripts, without `smart_formatting`, are spoken-style words separated by
spaces. For each language that means:

- **English** (`en`): `spoken.spoken_words` (lower case, numerals and abbreviations spelled out).
- **Brazilian Portuguese** (`pt`): lower case, no punctuation, hyphenated words kept whole ("guarda-chuva",
  "diga-me"), integers and percentages spelled out in Portuguese with `num2words` ("23" → "vinte e três").
- **Korean** (`ko`): words are the space-separated eojeol Korean already writes, punctuation dropped; numerals
  stay as written, because Korean reads a numeral native or Sino-Korean by the counter that follows it
  ("3개" is "세 개", "3층" is "삼 층"), which a digit-by-digit rule would get wrong.
- **Japanese** (`ja`): Japanese has no spaces, so words are morphemes from MeCab with UniDic (`fugashi` +
  `unidic-lite`), the short units a Japanese word count uses; punctuation dropped, numerals as written.

The same rules count a corpus's words, cut the n-gram LM's sentences and match custom words, so a custom
word and a transcript are always split alike.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parlance.customization.spoken import spoken_words

Splitter = Callable[[str], list[str]]

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)  # letters and digits, inner ' and - kept
_PT_NUMBER = re.compile(r"^(\d+)(%?)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_JA_SENTENCE = re.compile(r"(?<=[。！？!?])\s*")


@dataclass(frozen=True)
class TextRules:
    code: str  # Whisper's language code
    words: Splitter  # transcript-style words of a written text
    surface: Splitter  # written words, case kept (corpus term ranking, prompts)
    sentences: Splitter  # one line of text into sentences
    min_term_chars: int  # shorter corpus words are never prompt terms
    spaced: bool = True  # written with spaces between words (False: words come from a segmenter)


def whisper_code(language: str) -> str:
    """Watson's locale ("ja-JP") or Whisper's code ("ja") to Whisper's code."""
    return language.split("-", 1)[0].lower()


def rules_for(language: str) -> TextRules:
    """The rules of a language (Watson locale or Whisper code); English rules for the others."""
    return _RULES.get(whisper_code(language), _RULES["en"])


def corpus_sentences(text: str, language: str) -> list[list[str]]:
    """A corpus as sentences of words, for word counts: Watson's previous-generation normalization for
    English, the language's own word rules otherwise."""
    code = whisper_code(language)
    if code not in _RULES or code == "en":
        from parlance.customization.text import normalize_corpus

        return normalize_corpus(text)
    rules = _RULES[code]
    return [ws for line in text.splitlines() for s in rules.sentences(line) if (ws := rules.words(s))]


# ---- Portuguese --------------------------------------------------------------------------------


def _pt_number(token: str) -> list[str]:
    from num2words import num2words

    m = _PT_NUMBER.match(token)
    if not m or len(m.group(1)) > 15:
        return [token]
    words = num2words(int(m.group(1)), lang="pt_BR").replace(",", " ").split()
    return words + (["por", "cento"] if m.group(2) else [])


def portuguese_words(text: str) -> list[str]:
    out: list[str] = []
    for token in re.findall(r"\d+%|" + _WORD.pattern, text.replace("’", "'")):
        out.extend(_pt_number(token) if token[0].isdigit() else [token.lower()])
    return out


# ---- Korean ------------------------------------------------------------------------------------


def korean_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


# ---- Japanese ----------------------------------------------------------------------------------

_tagger_local = threading.local()  # a MeCab tagger is not safe to share between threads


def _tagger() -> Any:
    tagger = getattr(_tagger_local, "tagger", None)
    if tagger is None:
        import fugashi

        tagger = _tagger_local.tagger = fugashi.Tagger()
    return tagger


_JA_SKIP = frozenset({"補助記号", "空白"})  # UniDic's parts of speech for punctuation and blanks


def japanese_words(text: str) -> list[str]:
    """Morphemes (UniDic short units) with punctuation dropped; Latin letters lower-cased."""
    words = []
    for node in _tagger()(text):
        if node.feature.pos1 in _JA_SKIP:
            continue
        surface = node.surface.strip()
        if surface and _WORD.search(surface):
            words.append(surface.lower())
    return words


def japanese_surface(text: str) -> list[str]:
    return [n.surface for n in _tagger()(text) if n.feature.pos1 not in _JA_SKIP and _WORD.search(n.surface)]


def _english_surface(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text)


def _english_sentences(line: str) -> list[str]:
    return re.split(r"(?<=[a-z]{3}[.!?])\s+(?=[A-Z])", line)  # not after "Mr." or "A. P. R."


def _sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE.split(line) if s.strip()]


def _ja_sentences(line: str) -> list[str]:
    return [s for s in _JA_SENTENCE.split(line) if s.strip()]


_RULES = {
    "en": TextRules("en", spoken_words, _english_surface, _english_sentences, 3),
    "pt": TextRules("pt", portuguese_words, _english_surface, _sentences, 3),
    "ko": TextRules("ko", korean_words, lambda t: _WORD.findall(t), _sentences, 2),
    "ja": TextRules("ja", japanese_words, japanese_surface, _ja_sentences, 2, spaced=False),
}
