"""Corpus text normalization with Watson previous-generation semantics.

Watson's previous-generation models turn corpus text into the words a speaker would say before
counting them: numbers and symbols become words ("$75" -> "seventy five dollars"), text inside
`() <> [] {}` is ignored, punctuation is dropped, and everything is matched case-insensitively.

    normalize_corpus("We paid $75 (net) on 3/15.\\nRates rose 3.5%!")
    -> [["we", "paid", "seventy", "five", "dollars", "on", "march", "fifteenth"],
        ["rates", "rose", "three", "point", "five", "percent"]]

Tokens keep inner apostrophes, hyphens and underscores ("o'neil", "state-of-the-art", "new_york"),
because Watson joins compound words with `-` or `_`. A single letter written with a period ("A.")
stays a letter token ("a."), the style of US English `sounds_like` entries ("A. P. R.").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

__all__ = ["normalize_corpus", "normalize_sentence", "count_words", "number_to_words", "tokenize"]

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
_MONTHS = "january february march april may june july august september october november december".split()
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
               "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", "", "")}  # fmt: skip
_SCALE_WORDS = {"k": "thousand", "m": "million", "mm": "million", "bn": "billion", "b": "billion",
                "thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion"}  # fmt: skip
_SYMBOLS = {
    "&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number ",
    "°": " degrees ", "×": " times ", "½": " and a half ", "¼": " and a quarter ",
}  # fmt: skip
_MAX_NUMBER = 10**15


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(ONES[n])
    elif n or not words:
        words.append(ONES[n])
    return words


def number_to_words(n: int) -> list[str]:
    """Cardinal number as words: 1234 -> one thousand two hundred thirty four."""
    if n < 0:
        return ["minus", *number_to_words(-n)]
    if n >= _MAX_NUMBER:
        return [ONES[int(d)] for d in str(n)]
    words: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            words += [*_below_thousand(n // value), name]
            n %= value
    if n or not words:
        words += _below_thousand(n)
    return words


def ordinal_words(n: int) -> list[str]:
    """Ordinal number as words: 21 -> twenty first."""
    words = number_to_words(n)
    last = words[-1]
    if last in ORDINAL_WORDS:
        words[-1] = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


def year_words(n: int) -> list[str]:
    """A year the way it is said: 1999 -> nineteen ninety nine, 2005 -> two thousand five."""
    if 2000 <= n <= 2009 or n % 1000 == 0 or not 1000 <= n <= 2099:
        return number_to_words(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return [*number_to_words(hi), "hundred"]
    return [*number_to_words(hi), *(["oh", ONES[lo]] if lo < 10 else number_to_words(lo))]


def _digits(s: str) -> list[str]:
    return [ONES[int(d)] for d in s]


def _decimal_words(whole: str, frac: str) -> list[str]:
    words = number_to_words(int(whole)) if whole else []
    return [*words, "point", *_digits(frac)] if frac else words


def _plain_number(text: str) -> list[str]:
    """'1,234' / '3.5' / '007' -> words; digits are read one by one past the largest scale."""
    text = text.replace(",", "")
    whole, _, frac = text.partition(".")
    if whole and len(whole) > 1 and whole.startswith("0"):
        return [*_digits(whole), *(["point", *_digits(frac)] if frac else [])]
    return _decimal_words(whole, frac)


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_RULES: list[tuple[re.Pattern[str], object]] = []


def _rule(pattern: str):
    def register(fn):
        _RULES.append((re.compile(pattern, re.IGNORECASE), fn))
        return fn

    return register


@_rule(rf"([$€£¥])\s?({_NUM})(?:\s?(k|mm|m|bn|b|thousand|million|billion|trillion)\b)?")
def _money(m: re.Match[str]) -> list[str]:
    one, many, cent, cents = _CURRENCIES[m.group(1)]
    amount, scale = m.group(2).replace(",", ""), m.group(3)
    whole, _, frac = amount.partition(".")
    if scale:
        return [*_decimal_words(whole, frac), _SCALE_WORDS[scale.lower()], many]
    words = number_to_words(int(whole or "0"))
    words.append(one if whole in ("1", "01") else many)
    if frac and cent and len(frac) <= 2 and int(frac.ljust(2, "0")):
        c = int(frac.ljust(2, "0"))
        words += ["and", *number_to_words(c), cent if c == 1 else cents]
    elif frac and cent and int(frac):
        words = [*_decimal_words(whole, frac), many]
    return words


@_rule(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
def _iso_date(m: re.Match[str]) -> list[str]:
    year, month, day = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return [*_digits(m.group(1)), *number_to_words(month), *number_to_words(day)]
    return [_MONTHS[month - 1], *ordinal_words(day), *year_words(year)]


@_rule(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b")
def _us_date(m: re.Match[str]) -> list[str]:
    month, day = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return [*number_to_words(month), "slash", *number_to_words(day)]
    words = [_MONTHS[month - 1], *ordinal_words(day)]
    if m.group(3):
        y = int(m.group(3))
        words += year_words(y if len(m.group(3)) == 4 else 2000 + y)
    return words


@_rule(r"\b(\d{1,2}):(\d{2})\b")
def _time(m: re.Match[str]) -> list[str]:
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes == 0:
        return [*number_to_words(hours), "o'clock"]
    return [*number_to_words(hours), *(["oh", ONES[minutes]] if minutes < 10 else number_to_words(minutes))]


@_rule(r"\b(\d+)(st|nd|rd|th)\b")
def _ordinal(m: re.Match[str]) -> list[str]:
    return ordinal_words(int(m.group(1)))


@_rule(rf"({_NUM})\s?%")
def _percent(m: re.Match[str]) -> list[str]:
    return [*_plain_number(m.group(1)), "percent"]


@_rule(r"(?<![\d.,])(1[1-9]\d\d|20\d\d)(s?)(?![\d.,]*\d)")
def _year(m: re.Match[str]) -> list[str]:
    words = year_words(int(m.group(1)))
    if m.group(2):  # 1990s -> nineteen nineties
        words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
    return words


@_rule(_NUM)
def _number(m: re.Match[str]) -> list[str]:
    return _plain_number(m.group(0))


_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}|<[^<>]*>")
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "vs": "versus", "etc": "et cetera",
                  "jr": "junior", "sr": "senior", "st": "saint", "prof": "professor", "inc": "inc",
                  "corp": "corp", "ltd": "limited", "co": "co", "no": "number"}  # fmt: skip
_ABBREVIATION = re.compile(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.(?=\s+\S)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<!\b[A-Za-z])[.!?;]+(?=\s|$)")
_LETTER_DOT = re.compile(r"\b([A-Za-z])\.(?=\s|$|[^\w])")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-", "–": " ", "—": " "})


def _strip_bracketed(text: str) -> str:
    previous = None
    while previous != text:  # nested brackets: remove innermost first
        previous, text = text, _BRACKETED.sub(" ", text)
    return text


_EXPANDABLE = re.compile(r"[\d$€£¥&%+=@#°×½¼]")
_APOSTROPHE_S = re.compile(r"\s+'(s|d|ll)\b")
_WORDS = re.compile(r"[^\W_]+(?:['_-][^\W_]+)*\x00?")


def _expand(text: str) -> str:
    if not _EXPANDABLE.search(text):  # most corpus lines: nothing to spell out
        return text
    for pattern, fn in _RULES:
        text = pattern.sub(lambda m, fn=fn: " " + " ".join(fn(m)) + " ", text)  # type: ignore[operator]
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    return _APOSTROPHE_S.sub(r"'\1", text)  # "1999's" -> "nineteen ninety nine's"


def _abbreviation(m: re.Match[str]) -> str:
    word = m.group(1).lower()
    if word == "no" and not re.match(r"\s*\d", m.string[m.end() :]):
        return m.group(0)  # "no." before a number is "number"; otherwise it ends a sentence
    return _ABBREVIATIONS[word]


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of already expanded text; single letters written "A." stay "a."."""
    if "." in text:
        text = _LETTER_DOT.sub(lambda m: m.group(1) + "\x00", text)
        return [raw.replace("\x00", ".") for raw in _WORDS.findall(text.lower())]
    return _WORDS.findall(text.lower())


def normalize_sentence(text: str) -> list[str]:
    """One sentence (or any short text, e.g. a `sounds_like` entry) to spoken-form tokens."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return tokenize(_expand(_ABBREVIATION.sub(_abbreviation, _strip_bracketed(text))))


def _split_sentences(text: str) -> Iterable[str]:
    for line in text.splitlines():
        start = 0
        for m in _SENTENCE_END.finditer(line):
            yield line[start : m.end()]
            start = m.end()
        yield line[start:]


def normalize_corpus(text: str) -> list[list[str]]:
    """Corpus text to sentences of normalized tokens; empty sentences are dropped.

    Sentences end at line breaks and at `. ! ? ;` followed by a space (but not after a single
    letter such as "A." or after a number's digits, so "A. P. R." and "3. quarter" stay whole).
    Bracketed text is removed across lines before splitting.
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _ABBREVIATION.sub(_abbreviation, _strip_bracketed(text))
    sentences = []
    for chunk in _split_sentences(text):
        tokens = tokenize(_expand(chunk))
        if tokens:
            sentences.append(tokens)
    return sentences


def count_words(sentences: Iterable[Iterable[str]]) -> Counter[str]:
    """Occurrences of each token over all sentences."""
    counter: Counter[str] = Counter()
    for sentence in sentences:
        counter.update(sentence)
    return counter
