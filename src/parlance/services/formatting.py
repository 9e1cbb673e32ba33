"""Post-processing of transcripts: smart formatting, profanity filtering, keyword spotting."""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any

from text_to_num import alpha2digit

from parlance.engines.base import Word

# Watson censors profanity in US English with asterisks. A short fixed list keeps this predictable
# and offline; `better-profanity` was considered but matches leetspeak and substrings we don't want.
PROFANITY = frozenset(
    "fuck fucking fucked fucker motherfucker shit shitty bullshit bitch bastard asshole cunt dick "
    "piss pissed cock prick slut whore damn goddamn".split()
)


def smart_format(transcript: str, language: str = "en-US") -> str:
    """Numbers to digits ("twenty five percent" → "25%"), as Watson's smart_formatting does, in the
    transcript's language: text2num reads English and Portuguese ("vinte e três por cento" → "23%").
    Japanese and Korean transcripts already show numerals as Whisper writes them (digits, before a
    counter), so they are left as they are."""
    code = language.split("-", 1)[0].lower()
    if code == "pt":
        return alpha2digit(re.sub(r"\bpor cento\b", "%", transcript), "pt").replace(" %", "%")
    if code != "en":
        return transcript
    text = alpha2digit(transcript, "en")
    return re.sub(r"(\d) percent\b", r"\1%", text)


def censor(transcript: str) -> str:
    return " ".join("*" * len(w) if w.lower() in PROFANITY else w for w in transcript.split(" "))


def redact(transcript: str) -> str:
    """Watson's numeric redaction: every digit of a number with three or more digits becomes "X".
    Digits spoken one by one come out of smart formatting spaced ("4 1 1 1"), so a run of numbers
    separated by single spaces counts as one number."""

    def mask(m: re.Match[str]) -> str:
        run = m.group(0)
        return re.sub(r"\d", "X", run) if sum(c.isdigit() for c in run) >= 3 else run

    return re.sub(r"\d(?:[\d.,]*\d)?(?: \d(?:[\d.,]*\d)?)*", mask, transcript)


def format_transcript(
    transcript: str, smart: bool, profanity: bool, redaction: bool = False, language: str = "en-US"
) -> str:
    """The transcript as shown: smart formatting, then redaction (which implies it), then masking."""
    text = smart_format(transcript, language) if smart or redaction else transcript
    text = redact(text) if redaction else text
    return censor(text) if profanity else text


TimedWord = tuple[str, float, float, float]  # word, start, end, confidence


def format_words(
    words: list[TimedWord], smart: bool, profanity: bool, redaction: bool = False, language: str = "en-US"
) -> list[TimedWord]:
    """The timed words as the transcript shows them: smart-formatted tokens get the times of the
    spoken words they replace ("twenty five" 1.0-1.6 -> "25" 1.0-1.6, with the lower confidence), and
    redaction and masking apply here as in the transcript (`format_transcript`). The formatter rewrites
    text, so its tokens are matched back to the spoken words by sequence alignment."""
    if (smart or redaction) and words:
        spoken = [w[0] for w in words]
        tokens = smart_format(" ".join(spoken), language).split()
        timed: list[TimedWord] = []
        matcher = SequenceMatcher(None, [w.lower() for w in spoken], [t.lower() for t in tokens], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                timed += [(tokens[j1 + k], *words[i1 + k][1:]) for k in range(i2 - i1)]
            elif op in ("replace", "insert"):
                # An inserted token ("%" on its own) takes the time of the word before it.
                span = words[i1:i2] or [timed[-1] if timed else words[i1]]
                n = j2 - j1
                for k in range(n):  # spread the spoken span over the tokens that replace it
                    lo = k * len(span) // n
                    part = span[lo : max(lo + 1, (k + 1) * len(span) // n)]
                    timed.append((tokens[j1 + k], part[0][1], part[-1][2], min(w[3] for w in part)))
        words = timed
        if redaction:  # digits become "X" one for one, so the tokens keep their places
            shown = redact(" ".join(w[0] for w in words)).split()
            words = [(t, *w[1:]) for t, w in zip(shown, words, strict=True)]
    if profanity:
        words = [(censor(w), s, e, c) for w, s, e, c in words]
    return words


def spot_keywords(
    keywords: list[str], threshold: float, words: list[tuple[str, float, float, float]]
) -> dict[str, list[dict[str, Any]]]:
    """Find each keyword (a word or phrase, case-insensitive) in (word, start, end, confidence) lists."""
    found: dict[str, list[dict[str, Any]]] = {}
    lowered = [w[0].lower() for w in words]
    for kw in keywords:
        parts = kw.lower().split()
        if not parts:
            continue
        for i in range(len(words) - len(parts) + 1):
            if lowered[i : i + len(parts)] != parts:
                continue
            span = words[i : i + len(parts)]
            confidence = min(w[3] for w in span)
            if confidence >= threshold:
                found.setdefault(kw, []).append(
                    {
                        "normalized_text": " ".join(w[0] for w in span),
                        "start_time": span[0][1],
                        "end_time": span[-1][2],
                        "confidence": round(confidence, 3),
                    }
                )
    return found


def word_alternatives(words: Iterable[Word], offset: float, threshold: float, profanity: bool) -> list[dict[str, Any]]:
    """Watson's `word_alternatives`: per word of the best transcript, the words the engine weighed for
    that stretch with a posterior of at least `threshold` (stretches with none are left out)."""
    out = []
    for w in words:
        kept = [{"confidence": p, "word": censor(t) if profanity else t} for t, p in w.alternatives if p >= threshold]
        if kept:
            out.append(
                {"start_time": round(w.start + offset, 2), "end_time": round(w.end + offset, 2), "alternatives": kept}
            )
    return out
