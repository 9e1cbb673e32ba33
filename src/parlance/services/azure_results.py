"""Watson recognition results as Azure's phrases (batch transcription files, short-audio REST results).

Azure gives each phrase four forms of its text: `lexical` (spoken words), `itn` (inverse text
normalization: numbers as digits, which is Watson's smart formatting), `maskedITN` (`itn` with profanity
masked) and `display` (`itn` with a capital and a full stop; profanity as the request's mode says). Times
are in ticks of 100 ns. Recognize with `timestamps` and `word_confidence` on, `smart_formatting` and
`profanity_filter` off (`WATSON_PARAMS`): the forms are derived here from the spoken words.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from parlance.services.formatting import PROFANITY, censor, smart_format

TICKS_PER_SECOND = 10_000_000
WATSON_PARAMS = {
    "timestamps": "true",
    "word_confidence": "true",
    "smart_formatting": "false",
    "profanity_filter": "false",
}
ProfanityMode = Literal["None", "Removed", "Tags", "Masked"]


def ticks(seconds: float) -> int:
    return round(seconds * TICKS_PER_SECOND)


def iso_duration(seconds: float) -> str:
    """ISO-8601 duration, as Azure writes them (`PT1.32S`, `PT1M5.2S`)."""
    minutes, rest = divmod(round(seconds, 2), 60)
    hours, minutes = divmod(int(minutes), 60)
    out = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return out + (f"{rest:g}S" if rest or out == "PT" else "")


def apply_profanity(text: str, mode: ProfanityMode) -> str:
    if mode == "Masked":
        return censor(text)
    if mode == "Removed":
        return " ".join(w for w in text.split(" ") if w.lower() not in PROFANITY)
    if mode == "Tags":
        return " ".join(f"<profanity>{w}</profanity>" if w.lower() in PROFANITY else w for w in text.split(" "))
    return text


def display_form(itn: str) -> str:
    text = itn.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if re.search(r"[.?!]$", text) else text + "."


def texts(spoken: str, mode: ProfanityMode) -> dict[str, str]:
    spoken = " ".join(spoken.split())
    itn = smart_format(spoken)
    return {
        "lexical": apply_profanity(spoken, mode),
        "itn": apply_profanity(itn, mode),
        "maskedITN": censor(itn),
        "display": display_form(apply_profanity(itn, mode)),
    }


def recognized_phrase(result: dict[str, Any], locale: str, mode: ProfanityMode, words: bool) -> dict[str, Any]:
    """One Watson result (a phrase between pauses) as one of Azure's `recognizedPhrases`."""
    best = result["alternatives"][0]
    stamps = best.get("timestamps") or []
    start, end = (stamps[0][1], stamps[-1][2]) if stamps else (0.0, 0.0)
    n_best: dict[str, Any] = {"confidence": best.get("confidence", 0.0), **texts(best["transcript"], mode)}
    if words:
        confidences = [c for _, c in best.get("word_confidence") or []]
        n_best["words"] = [
            {
                "word": word,
                "offset": iso_duration(s),
                "duration": iso_duration(e - s),
                "offsetInTicks": ticks(s),
                "durationInTicks": ticks(e - s),
                "offsetMilliseconds": round(s * 1000),
                "durationMilliseconds": round((e - s) * 1000),
                "confidence": confidences[i] if i < len(confidences) else 0.0,
            }
            for i, (word, s, e) in enumerate(stamps)
        ]
    return {
        "recognitionStatus": "Success",
        "channel": 0,
        "locale": locale,
        "offset": iso_duration(start),
        "duration": iso_duration(end - start),
        "offsetInTicks": ticks(start),
        "durationInTicks": ticks(end - start),
        "offsetMilliseconds": round(start * 1000),
        "durationMilliseconds": round((end - start) * 1000),
        "nBest": [n_best],
    }


def combined_phrase(phrases: list[dict[str, Any]]) -> dict[str, Any]:
    """All phrases' texts joined: Azure's `combinedRecognizedPhrases` entry for channel 0."""
    best = [p["nBest"][0] for p in phrases]
    out: dict[str, Any] = {"channel": 0}
    for key in ("lexical", "itn", "maskedITN", "display"):
        out[key] = " ".join(b[key] for b in best if b[key])
    return out


def transcription_file(
    source: str,
    timestamp: str,
    duration_seconds: float,
    watson: dict[str, Any],
    locale: str,
    mode: ProfanityMode,
    words: bool,
) -> dict[str, Any]:
    """One input's batch result (`kind: Transcription`, azure-api.md §4) from its Watson result."""
    phrases = [recognized_phrase(r, locale, mode, words) for r in watson.get("results", [])]
    return {
        "source": source,
        "timestamp": timestamp,
        "durationInTicks": ticks(duration_seconds),
        "durationMilliseconds": round(duration_seconds * 1000),
        "duration": iso_duration(duration_seconds),
        "combinedRecognizedPhrases": [combined_phrase(phrases)],
        "recognizedPhrases": phrases,
    }
