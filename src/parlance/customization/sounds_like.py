"""Watson's rules for a custom word's `sounds_like` entries (checked when words are added, for every engine)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from parlance.customization.text import normalize_sentence

MAX_SOUNDS_LIKE = 5
MAX_SOUNDS_LIKE_CHARS = 40
_SOUNDS_LIKE_CHARS = re.compile(r"^[^\W\d_]+(?:[\s.'\-_]+[^\W\d_]*)*\.?$", re.UNICODE)


def validate_sounds_like(entries: Iterable[str]) -> list[dict[str, str]]:
    """Watson-style `error` objects for invalid `sounds_like` entries; empty when all are valid."""
    entries = list(entries)
    errors: list[dict[str, str]] = []
    if len(entries) > MAX_SOUNDS_LIKE:
        errors.append({"sounds_like": f"At most {MAX_SOUNDS_LIKE} sounds_like entries are allowed."})
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            errors.append({str(entry): "A sounds_like entry must not be empty."})
        elif any(ch.isdigit() for ch in entry):
            example = " ".join(normalize_sentence(entry)) or "seventy five dollars"
            errors.append({entry: f"Numbers are not allowed in sounds_like. You can try for example '{example}'."})
        elif len(entry) > MAX_SOUNDS_LIKE_CHARS:
            errors.append({entry: f"A sounds_like entry may have at most {MAX_SOUNDS_LIKE_CHARS} characters."})
        elif not _SOUNDS_LIKE_CHARS.match(entry.strip()):
            errors.append({entry: "Only letters, spaces, apostrophes, periods and hyphens are allowed in sounds_like."})
    return errors
