"""Audio in: decode request bodies to 16 kHz mono float32, then split them into utterances."""

from __future__ import annotations

from parlance.audio.decode import (
    ACCEPTED_TYPES,
    DEFAULT_MAX_SECONDS,
    ContentType,
    decode_audio,
    parse_content_type,
    sniff_format,
)
from parlance.audio.vad import Segment, has_speech, split_utterances

__all__ = [
    "ACCEPTED_TYPES",
    "DEFAULT_MAX_SECONDS",
    "ContentType",
    "Segment",
    "decode_audio",
    "has_speech",
    "parse_content_type",
    "sniff_format",
    "split_utterances",
]
