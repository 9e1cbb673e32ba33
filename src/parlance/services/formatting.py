"""Post-processing of transcripts: smart formatting, profanity filtering, keyword spotting."""

from __future__ import annotations

import re
from typing import Any

from text_to_num import alpha2digit

# Watson censors profanity in US English with asterisks. A short fixed list keeps this predictable
# and offline; `better-profanity` was considered but matches leetspeak and substrings we don't want.
PROFANITY = frozenset(
    "fuck fucking fucked fucker motherfucker shit shitty bullshit bitch bastard asshole cunt dick "
    "piss pissed cock prick slut whore damn goddamn".split()
)


def smart_format(transcript: str) -> str:
    """Numbers to digits ("twenty five percent" → "25 %"), as Watson's smart_formatting does."""
    text = alpha2digit(transcript, "en")
    return re.sub(r"(\d) percent\b", r"\1%", text)


def censor(transcript: str) -> str:
    return " ".join("*" * len(w) if w.lower() in PROFANITY else w for w in transcript.split(" "))


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
