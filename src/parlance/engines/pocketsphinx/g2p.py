"""Pronunciations (CMU ARPAbet, no stress, as in PocketSphinx's en-us dictionary) for words that
are not in the dictionary.

Choice of method, in order:

1. **espeak-ng**, when its binary is installed (Debian `espeak-ng`): its English letter-to-sound
   rules plus exception lists are the most robust offline G2P at hand, and it needs no data
   downloads. Its IPA output (`--ipa --sep=_`) is mapped phone by phone to ARPAbet. All words of
   a training run go through one process call, so it costs tens of milliseconds.
   (Python G2P packages such as g2p_en need NLTK data downloaded at run time, which we cannot do.)
2. **Dictionary decomposition**, always available: split the word into the fewest dictionary
   words (preferring long pieces), e.g. "fintech" -> fin + tech, "sarbanes" -> sar + banes; domain
   jargon is often built that way, and CMUdict's pronunciations of the parts beat letter rules.
   Letters no piece covers get a plain letter-to-phone rule.

Letter names ("A." style tokens) and words spelled with hyphens/underscores are handled by the
caller (`SphinxDictionary.pronounce`), which pronounces their parts.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable

# IPA (as espeak-ng writes it for en-us) -> ARPAbet. Longest symbols are matched first.
_IPA = {
    "aɪə": "AY ER", "aɪɚ": "AY ER", "aʊɚ": "AW ER", "ɑːɹ": "AA R", "ɔːɹ": "AO R", "oːɹ": "AO R",
    "ɛɹ": "EH R", "ɪɹ": "IH R", "ʊɹ": "UH R", "iə": "IY AH", "eə": "EH R", "ʊə": "UH R",
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH",
    "ɑː": "AA", "ɔː": "AO", "ɜː": "ER", "iː": "IY", "uː": "UW", "oː": "OW", "əl": "AH L",
    "ɑ": "AA", "ɒ": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɚ": "ER", "ɜ": "ER", "ɝ": "ER",
    "ɪ": "IH", "ᵻ": "IH", "ɨ": "IH", "i": "IY", "ɛ": "EH", "e": "EH", "a": "AE", "ɔ": "AO", "o": "OW",
    "ʊ": "UH", "u": "UW", "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "g": "G",
    "f": "F", "v": "V", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH",
    "m": "M", "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "r": "R", "ɹ": "R", "w": "W", "j": "Y",
    "ʔ": "T", "ɾ": "T", "x": "K", "ç": "HH", "ʍ": "W", "ɬ": "L", "n̩": "AH N", "l̩": "AH L", "m̩": "AH M",
}  # fmt: skip
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
_IPA_DROP = re.compile("[ˈˌ‖|ː̩̃ʰ'-]")

# Fallback letter -> phone rules for letters no dictionary piece covers.
_LETTER_PHONES = {
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH",
    "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P", "q": "K", "r": "R",
    "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S", "y": "IY", "z": "Z",
}  # fmt: skip
_DIGRAPHS = {"ch": "CH", "sh": "SH", "th": "TH", "ph": "F", "ck": "K", "ng": "NG", "ee": "IY", "oo": "UW",
             "ea": "IY", "ou": "AW", "ai": "EY", "ay": "EY", "oa": "OW", "qu": "K W", "wh": "W"}  # fmt: skip


def ipa_to_arpabet(ipa: str) -> list[str]:
    """Map espeak-ng IPA (phones separated by `_` or not) to ARPAbet phones."""
    phones: list[str] = []
    for chunk in ipa.split("_"):
        chunk = _IPA_DROP.sub("", chunk)
        while chunk:
            for key in _IPA_KEYS:
                if chunk.startswith(key):
                    phones += _IPA[key].split()
                    chunk = chunk[len(key) :]
                    break
            else:
                chunk = chunk[1:]  # unknown symbol: skip it
    return phones


@functools.lru_cache(maxsize=1)
def espeak_binary() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def espeak_pronounce(words: Iterable[str], timeout: float = 60.0) -> dict[str, list[str]]:
    """ARPAbet pronunciations from espeak-ng for plain alphabetic words (one process call)."""
    binary = espeak_binary()
    todo = sorted({w for w in words if re.fullmatch(r"[a-z']+", w)})
    if not binary or not todo:
        return {}
    try:
        run = subprocess.run(
            [binary, "-q", "-v", "en-us", "--ipa", "--sep=_"],
            input="\n".join(todo) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    lines = [line.strip() for line in run.stdout.splitlines() if line.strip()]
    if len(lines) != len(todo):  # espeak merged or split a line: don't guess which is which
        return {}
    result = {}
    for word, line in zip(todo, lines, strict=True):
        phones = ipa_to_arpabet(line.replace(" ", "_"))
        if phones:
            result[word] = phones
    return result


def letter_rules(letters: str) -> list[str]:
    """Crude spelling -> phones for short leftovers (digraphs first, then single letters)."""
    phones: list[str] = []
    i = 0
    while i < len(letters):
        pair = letters[i : i + 2]
        if pair in _DIGRAPHS:
            phones += _DIGRAPHS[pair].split()
            i += 2
            continue
        ch = letters[i]
        if ch == "e" and i == len(letters) - 1 and i > 0:  # silent final e
            i += 1
            continue
        if i > 0 and letters[i - 1] == ch and ch not in "aeiou":  # doubled consonant
            i += 1
            continue
        phones += _LETTER_PHONES.get(ch, "").split()
        i += 1
    return phones


def decompose(word: str, lookup: Callable[[str], list[str] | None], min_piece: int = 2) -> list[str]:
    """Pronounce `word` as the cheapest split into dictionary words (letter rules fill gaps).

    Cost: 1 per dictionary piece, plus 1.5 per letter covered by rules; pieces shorter than
    `min_piece` letters are not taken from the dictionary (their entries are letter names).
    """
    n = len(word)
    inf = float("inf")
    best: list[tuple[float, int, list[str]]] = [(0.0, 0, [])] + [(inf, 0, [])] * n
    for end in range(1, n + 1):
        cost_here, back, phones_here = inf, 0, []
        for start in range(max(0, end - 20), end):
            prev = best[start][0]
            if prev == inf:
                continue
            piece = word[start:end]
            pron = lookup(piece) if len(piece) >= min_piece else None
            if pron:
                cost = prev + 1.0
                phones = pron
            elif end - start <= 3:
                cost = prev + 1.5 * (end - start)
                phones = letter_rules(piece)
            else:
                continue
            if cost < cost_here:
                cost_here, back, phones_here = cost, start, phones
        best[end] = (cost_here, back, phones_here)
    parts: list[list[str]] = []
    end = n
    while end > 0:
        _, start, phones = best[end]
        parts.append(phones)
        end = start
    return [p for part in reversed(parts) for p in part]
