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

Splitter = Callable[..., list[str]]  # text -> words; unspaced languages also take `keep` (words kept whole)

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
    spellings: Callable[[str], list[str]] = lambda text: [text]  # how else a sounds-like may be written


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


def _kept_apart(text: str, keep: frozenset[str]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, kept) around occurrences of `keep` strings, longest first."""
    if not keep:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(k) for k in sorted(keep, key=len, reverse=True)), re.IGNORECASE)
    pieces: list[tuple[str, bool]] = []
    last = 0
    for m in pattern.finditer(text):
        pieces += [(text[last : m.start()], False), (m.group(0), True)]
        last = m.end()
    return pieces + [(text[last:], False)]


def japanese_surface(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """Morphemes (UniDic short units), punctuation dropped. A segmentation depends on the context
    ("ミライズ" alone is one word, in "アプリはミライズという" two), so the `keep` strings (custom words)
    are cut out first and stay whole."""
    words: list[str] = []
    for piece, kept in _kept_apart(text, keep):
        if kept:
            words.append(piece)
            continue
        words += [n.surface for n in _tagger()(piece) if n.feature.pos1 not in _JA_SKIP and _WORD.search(n.surface)]
    return words


def japanese_words(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """`japanese_surface` with Latin letters lower-cased, as transcripts show them."""
    return [w.lower() for w in japanese_surface(text, keep)]


def kana_spellings(text: str) -> list[str]:
    """A reading in hiragana and in katakana: Whisper writes a word it does not know in either
    ("りんぎ" or "リンギ"), whichever script the user wrote the sounds-like in."""
    katakana = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)
    hiragana = "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)
    return list(dict.fromkeys([text, katakana, hiragana]))


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
    "ja": TextRules("ja", japanese_words, japanese_surface, _ja_sentences, 2, spaced=False, spellings=kana_spellings),
}


# ---- custom words --------------------------------------------------------------------------------

MAX_JA_CHARS = 25  # Watson: Japanese words and sounds-likes of at most 25 characters
_KANA = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc\u30fb\u309b\u309c\s]+$")  # hiragana, katakana, ー, ・
_HANGUL = re.compile(r"^[\uac00-\ud7a3\s]+$")  # Hangul syllables


def sounds_like_errors(entries: list[str], language: str) -> list[dict[str, str]]:
    """Watson-style `error` objects for rules of the model's language, beyond the common ones
    (`sounds_like.validate_sounds_like`): a Japanese pronunciation is written in kana (what a Japanese
    user writes a reading in: furigana), at most 25 characters; a Korean one in Hangul syllables."""
    code = whisper_code(language)
    errors: list[dict[str, str]] = []
    for entry in entries:
        text = entry.strip()
        if code == "ja" and len(text) > MAX_JA_CHARS:
            errors.append({entry: f"A Japanese sounds_like entry may have at most {MAX_JA_CHARS} characters."})
        elif code == "ja" and not _KANA.match(text):
            errors.append({entry: "A Japanese sounds_like entry must be written in full-width hiragana or katakana."})
        elif code == "ko" and not _HANGUL.match(text):
            errors.append({entry: "A Korean sounds_like entry must be written in Hangul."})
    return errors
