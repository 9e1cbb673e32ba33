"""Custom words found by how they sound: spans of a Whisper transcript whose pronunciation is close to a
custom word's ("sub rogation" → subrogation, "lies in a pril" → lisinopril).

Whisper writes a word it does not expect as common words that sound alike or respells it with a syllable
lost; the n-best list often holds no better spelling. Training stores each custom word's pronunciations
(CMU ARPAbet without stress, from the word, its display form and its sounds-like entries, through the same
dictionary + espeak-ng G2P that PocketSphinx custom words use). Decoding pronounces the transcript's words
with the CMU dictionary (dictionary pieces and letter rules for words it lacks), finds spans within a
normalized edit distance of a custom word's coarse phones, and proposes the replacement; `WhisperModel`
accepts it only when the audio agrees (teacher-forced scoring), so a sound-alike in general speech stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

MAX_SPAN_WORDS = 4
MAX_DISTANCE = 0.34  # normalized edit distance of coarse phone strings (0 identical, 1 nothing in common)
MIN_PHONES = 3  # shorter words ("win") match too much general speech by sound alone


# Coarse phones: Whisper's respellings keep a word's consonant skeleton but lose vowel quality and voicing
# ("subpoena" S AH P IY N AH → "subbino" S AH B B AY N OW), so all vowels are one symbol and voicing pairs merge.
_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
_VOICING = {"B": "P", "D": "T", "G": "K", "V": "F", "Z": "S", "JH": "CH", "ZH": "SH", "DH": "TH"}


def coarse(phone: str) -> str:
    return "V" if phone in _VOWELS else _VOICING.get(phone, phone)


@dataclass(frozen=True)
class SoundMatch:
    start: int  # word span [start, end) of the transcript
    end: int
    display: str
    distance: float


@cache
def cmu_dictionary() -> dict[str, str]:
    """Lower-case word → first pronunciation (PocketSphinx's en-us CMU dictionary); empty without it."""
    try:
        import pocketsphinx

        path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
        out: dict[str, str] = {}
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                word, _, phones = line.strip().partition(" ")
                if phones and "(" not in word:
                    out.setdefault(word, phones.strip())
        return out
    except (ImportError, OSError):
        return {}


def term_pronunciations(words: Iterable[dict], spoken: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """display form → pronunciations of a user word (from its spelling, display form and sounds-likes)."""
    from parlance.engines.pocketsphinx.dictionary import Pronouncer

    entries = [w for w in words if w.get("word") and not w.get("mapping_only")]
    pronouncer = Pronouncer(cmu_dictionary_tuples())
    forms: dict[str, list[list[str]]] = {}
    for w in entries:
        display = str(w.get("display_as") or w["word"]).strip()
        texts = [str(w["word"]).replace("_", " "), display, *(w.get("sounds_like") or [])]
        forms.setdefault(display, []).extend(tokens for t in texts if (tokens := [x.lower() for x in spoken(t)]))
    pronouncer.prepare({tok for token_lists in forms.values() for tokens in token_lists for tok in tokens})
    out: dict[str, list[str]] = {}
    for display, token_lists in forms.items():
        prons = [" ".join(p for tok in tokens for p in pronouncer.pronounce(tok)) for tokens in token_lists]
        if display.isupper() and display.isalpha() and len(display) <= 6:  # an acronym is also spelled out
            prons.append(" ".join(pronouncer.spelled(display)))
        out[display] = list(dict.fromkeys(p for p in prons if p))
    return out


@lru_cache(maxsize=65536)
def word_phones(word: str) -> list[str]:
    """A transcript word's phones: the CMU dictionary's, or for a word it lacks (Whisper's respellings,
    "subbino") the cheapest split into dictionary words with letter rules for the rest (no espeak-ng
    process at decode time)."""
    from parlance.engines.pocketsphinx.g2p import decompose

    pron = cmu_dictionary().get(word)
    if pron:
        return pron.split()
    if not word.isalpha():
        return []
    return decompose(word, lambda piece: p.split() if (p := cmu_dictionary().get(piece)) else None)


@cache
def cmu_dictionary_tuples() -> dict[str, tuple[str, ...]]:
    return {w: (p,) for w, p in cmu_dictionary().items()}


class PhoneticIndex:
    """Custom words' pronunciations, searched for in transcripts."""

    def __init__(self, pronunciations: dict[str, list[str]]) -> None:
        self._symbols: dict[str, str] = {}
        self.forms: list[tuple[str, str]] = []  # (display, phones as one symbol per phone)
        for display, prons in pronunciations.items():
            for pron in prons:
                coded = self._code(pron.split())
                if len(coded) >= MIN_PHONES:
                    self.forms.append((display, coded))

    def __bool__(self) -> bool:
        return bool(self.forms)

    def _code(self, phones: Sequence[str]) -> str:
        return "".join(self._symbols.setdefault(coarse(p), chr(0x100 + len(self._symbols))) for p in phones)

    def matches(self, words: Sequence[str], max_distance: float = MAX_DISTANCE) -> list[SoundMatch]:
        """Spans of `words` that sound like a custom word (best word per span), closest first. A custom word
        already in the transcript ends a span and is not proposed again."""
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import cdist

        if not self.forms:
            return []
        known = {display.lower() for display, _ in self.forms}
        lowered = [w.lower() for w in words]
        spans: list[tuple[int, int]] = []
        codes: list[str] = []
        for i in range(len(lowered)):
            phones: list[str] = []
            for j in range(i, min(i + MAX_SPAN_WORDS, len(lowered))):
                if lowered[j] in known:  # a custom word already found
                    break
                phones += word_phones(lowered[j])
                spans.append((i, j + 1))
                codes.append("".join(self._symbols.get(coarse(p), "?") for p in phones))
        if not spans:
            return []
        targets = [code for _, code in self.forms]
        distances = cdist(codes, targets, scorer=Levenshtein.normalized_distance, workers=1)
        found: list[SoundMatch] = []
        for k, (start, end) in enumerate(spans):
            row = distances[k]
            best = int(row.argmin())
            display = self.forms[best][0]
            if row[best] <= max_distance and display.lower() not in lowered:
                found.append(SoundMatch(start, end, display, float(row[best])))
        found.sort(key=lambda m: (m.distance, m.start - m.end))
        return found
