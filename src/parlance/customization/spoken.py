"""Written text to Watson's next-generation spoken-style words.

Watson's next-generation models, without `smart_formatting`, return lower-case spoken words with no
punctuation ("mister smith paid three dollars"), while a written transcript (Whisper's) reads
("Mr. Smith paid $3."). `spoken_words` bridges the two; grammar selection compares in these words too.
"""

from __future__ import annotations

import re

from parlance.customization.text import ONES, ORDINAL_WORDS
from parlance.customization.text import number_to_words as number_words

_ABBREVIATIONS = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "st": "saint",
    "jr": "junior",
    "sr": "senior",
    "vs": "versus",
    "etc": "et cetera",
}
_TOKEN = re.compile(r"\$?\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th|s|%)?|[^\W_]+(?:'[^\W_]+)*'?", re.UNICODE)


def _year_words(n: int) -> list[str]:
    """1990 → nineteen ninety; 2005 → two thousand five; 1900 → nineteen hundred."""
    hi, lo = divmod(n, 100)
    if n % 1000 < 10 and n >= 2000:
        return number_words(n)
    tail = ["hundred"] if lo == 0 else (["oh", ONES[lo]] if lo < 10 else number_words(lo))
    return number_words(hi) + tail


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in ORDINAL_WORDS:
        last = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:-1] + [last]


def _numeral_words(token: str) -> list[str]:
    dollars = token.startswith("$")
    token = token.lstrip("$")
    suffix = ""
    m = re.fullmatch(r"(\d+(?:,\d{3})*(?:\.\d+)?)(st|nd|rd|th|s|%)?", token)
    if not m:
        return [token]
    digits, suffix = m.group(1), m.group(2) or ""
    whole, _, frac = digits.replace(",", "").partition(".")
    n = int(whole)
    plain = "," not in digits and not frac and not dollars
    words = _year_words(n) if plain and len(whole) == 4 and 1100 <= n <= 2099 else number_words(n)
    if dollars and len(frac) == 2:  # $3.50 → three dollars fifty cents
        cents = int(frac)
        return words + ["dollar" if n == 1 else "dollars"] + (number_words(cents) + ["cents"] if cents else [])
    if frac:
        words += ["point"] + [ONES[int(d)] for d in frac]
    if suffix in ("st", "nd", "rd", "th"):
        words = _ordinal(words)
    elif suffix == "s":  # 1990s → nineteen nineties
        last = words[-1]
        words[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
    elif suffix == "%":
        words.append("percent")
    if dollars:
        words.append("dollar" if n == 1 and not frac else "dollars")
    return words


def spoken_words(text: str) -> list[str]:
    """Lower-case spoken-style words of a written fragment: punctuation dropped, apostrophes kept,
    hyphenated words split, common abbreviations and numerals spelled out."""
    out: list[str] = []
    for token in _TOKEN.findall(text.replace("’", "'").replace("‘", "'")):
        if token[0].isdigit() or token[0] == "$":
            out.extend(_numeral_words(token))
            continue
        word = token.lower().strip("'")
        if not word:
            continue
        expansion = _ABBREVIATIONS.get(word)
        out.extend(expansion.split() if expansion else [word])
    return out
