"""First-pass decoding of untranscribed adaptation audio, cached beside each stored member.

Training without transcripts adapts on what the base model recognizes confidently, so the audio must be
decoded first: that costs about a third of the audio's duration, far more than the adaptation itself.
Watson analyzes audio resources when they are added (`being_processed` -> `ok`), so the decoding is done
there, with the base model version training will use and no custom language model, and kept per member
(`m<i>.decoded.json`: the VAD segments with their words, times and confidences). A cached decoding is only
reused for the same version and the same custom language model revision; training with another one (a
`custom_language_model_id`, an upgrade to a new version) decodes again and replaces the cache.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parlance.audio.vad import split_utterances
from parlance.engines.base import CustomArtifact, DecodeOptions, LoadedModel, Word

CACHE_FORMAT = 1


@dataclass(frozen=True)
class DecodeKey:
    """What a first-pass decoding depends on besides the audio."""

    version: str
    language_id: str | None = None
    language_revision: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "language_id": self.language_id, "language_revision": self.language_revision}


@dataclass(frozen=True)
class DecodedSegment:
    start: float  # seconds in the member's audio
    end: float
    words: tuple[Word, ...]  # times from `start`


def cache_path(wav: Path) -> Path:
    return wav.with_suffix(".decoded.json")


def decode(model: LoadedModel, samples: np.ndarray, language: CustomArtifact | None) -> list[DecodedSegment]:
    """The member split at pauses (as training splits it) and each piece decoded: best words only."""
    options = DecodeOptions(custom=language)
    out = []
    for seg in split_utterances(samples):
        alternatives = model.transcribe(seg.samples, options, speech=seg.speech)
        out.append(DecodedSegment(seg.start, seg.end, alternatives[0].words if alternatives else ()))
    return out


def write(wav: Path, key: DecodeKey, segments: list[DecodedSegment]) -> None:
    """Written to a temporary name and renamed: a reader sees the old cache or the new one, never half."""
    body = {
        "format": CACHE_FORMAT,
        "key": key.as_json(),
        "segments": [
            {"start": s.start, "end": s.end, "words": [[w.text, w.start, w.end, w.confidence] for w in s.words]}
            for s in segments
        ],
    }
    path = cache_path(wav)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)


def read(wav: Path, key: DecodeKey) -> list[DecodedSegment] | None:
    """The cached decoding when it was made for `key`, else None."""
    try:
        body = json.loads(cache_path(wav).read_text())
    except (OSError, ValueError):
        return None
    if body.get("format") != CACHE_FORMAT or body.get("key") != key.as_json():
        return None
    return [
        DecodedSegment(s["start"], s["end"], tuple(Word(t, a, b, c) for t, a, b, c in s["words"]))
        for s in body["segments"]
    ]


def decoded(
    model: LoadedModel, wav: Path, samples: np.ndarray, key: DecodeKey, language: CustomArtifact | None
) -> list[DecodedSegment]:
    """The cached decoding for `key`, or a new one (which replaces the cache)."""
    cached = read(wav, key)
    if cached is not None:
        return cached
    segments = decode(model, samples, language)
    write(wav, key, segments)
    return segments
