"""Decoding audio as its bytes arrive (a WebSocket request), for the formats whose samples can be cut at any
byte: the raw types (l16, mu-law, A-law) and 16-bit PCM WAV. Each `feed` returns the 16 kHz chunks the new
bytes complete, so a stream is recognized while it lasts and never held whole.

Container formats (Ogg, WebM, FLAC, MP3) need a demuxer that can read ahead; `StreamDecoder.incremental`
tells the caller to collect those bytes and decode them at once (`decoded_chunks`). A WAV whose header says
anything but 16-bit PCM is collected too, and decoded by `finish`.
"""

from __future__ import annotations

import struct

import numpy as np

from parlance.audio.decode import (
    _CONTAINERS,
    _G711,
    _RAW,
    DEFAULT_MAX_SECONDS,
    _check_rate_and_channels,
    _check_supported,
    _detect_byteorder,
    _raw_spec,
    _RawSpec,
    byteorder_votes,
    decoded_chunks,
    parse_content_type,
)
from parlance.audio.output import Resampler
from parlance.errors import InvalidAudio

_WAV_TYPES = frozenset(m for m, fmt in _CONTAINERS.items() if fmt == "wav")
_PCM, _EXTENSIBLE = 1, 0xFFFE
_BYTE_ORDER_PROBE = 32000  # bytes of l16 without an endianness parameter looked at to tell its byte order
# ... unless the samples so far already tell it: this many more votes for one order than for the other, and
# four times as many. Speech read in the wrong order steps by hundreds on nearly every sample, so 50 ms of
# sound settle it, where waiting for the probe held back every result of a stream by a second (the first
# interim result came 1.05 s after speech started, bench/streaming.py).
_BYTE_ORDER_VOTES = 800
_MAX_HEADER = 1 << 20  # bytes of WAV chunks looked through for `data` before giving up on streaming it


class StreamDecoder:
    """One request's audio, fed in pieces of any size; `finish` once it has all arrived."""

    def __init__(self, content_type: str | None, *, max_seconds: float = DEFAULT_MAX_SECONDS) -> None:
        self._ctype = parse_content_type(content_type)
        _check_supported(self._ctype)  # 415 at the start message, not after the audio
        self._spec = _raw_spec(self._ctype) if self._ctype.mime in _RAW else None  # 400 for bad parameters
        self._resampler = Resampler(max_seconds)
        self._pending = bytearray()
        self._collect = False  # decode everything at `finish` (a WAV that is not 16-bit PCM)
        self._header_done = self._spec is not None
        self._produced = 0

    @staticmethod
    def incremental(content_type: str | None) -> bool:
        """Whether audio of this type is decoded as it arrives (else: collect it, decode it at the end)."""
        mime = parse_content_type(content_type).mime
        return (mime in _RAW and mime != "audio/basic") or mime in _WAV_TYPES

    def feed(self, data: bytes) -> list[np.ndarray]:
        self._pending += data
        if not self._header_done:
            self._read_header()
        if self._collect or not self._header_done:
            return []
        return self._decode(final=False)

    def finish(self) -> list[np.ndarray]:
        """The samples left; InvalidAudio if the request held none."""
        if self._collect or not self._header_done:
            data, self._pending = bytes(self._pending), bytearray()
            if not data:
                raise InvalidAudio("The audio is empty (no audio was sent)")
            # not a WAV we can stream after all: as a whole, with every check of `decode_audio`
            return list(decoded_chunks([(data, str(self._ctype))], resampler=self._resampler))
        chunks = self._decode(final=True) + self._resampler.end_part()
        self._produced += sum(len(c) for c in chunks)
        if not self._produced:
            raise InvalidAudio("The audio contains no samples")
        return chunks

    def _decode(self, *, final: bool) -> list[np.ndarray]:
        spec = self._spec
        assert spec is not None
        width = 2 if spec.encoding == "l16" else 1
        frame_bytes = width * spec.channels
        if spec.byteorder is None and spec.encoding == "l16":
            if len(self._pending) < _BYTE_ORDER_PROBE and not final and not _settled(self._pending, spec.channels):
                return []
            order = _detect_byteorder(bytes(self._pending), spec.channels)
            spec = self._spec = _RawSpec(spec.encoding, spec.rate, spec.channels, order)
        frames = len(self._pending) // frame_bytes
        if not frames:
            return []
        dtype = np.dtype(f"{spec.byteorder}i2") if spec.encoding == "l16" else np.dtype(np.uint8)
        codes = np.frombuffer(self._pending, dtype=dtype, count=frames * spec.channels)
        pcm = codes.astype(np.float32) / 32768.0 if spec.encoding == "l16" else _G711[spec.encoding][codes]
        del codes  # a view of the pending bytes, which are resized next
        del self._pending[: frames * frame_bytes]
        chunks = self._resampler.push(pcm.reshape(frames, spec.channels).mean(axis=1, dtype=np.float32), spec.rate)
        self._produced += sum(len(c) for c in chunks)
        return chunks

    def _read_header(self) -> None:
        """Find the format and the start of the samples of a WAV (or decide to collect the audio)."""
        data = bytes(self._pending[:_MAX_HEADER])
        if len(data) < 12:
            return
        if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
            self._collect = True  # not a WAV (a mislabelled container?): `decode_audio` sniffs it
            return
        at, fmt = 12, None
        while at + 8 <= len(data):
            chunk_id, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
            if chunk_id == b"data":
                if fmt is None:
                    self._collect = True
                    return
                self._start_samples(fmt, at + 8)
                return
            if at + 8 + size > len(data):
                break
            if chunk_id == b"fmt ":
                fmt = data[at + 8 : at + 8 + size]
            at += 8 + size + (size & 1)
        if len(self._pending) >= _MAX_HEADER:
            self._collect = True

    def _start_samples(self, fmt: bytes, offset: int) -> None:
        if len(fmt) < 16:
            raise InvalidAudio("The WAV header's fmt chunk is too short")
        tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
        if tag == _EXTENSIBLE and len(fmt) >= 26:
            tag = struct.unpack_from("<H", fmt, 24)[0]  # the sub-format GUID starts with the format tag
        _check_rate_and_channels(rate, channels, "wav", "audio/wav")
        if tag != _PCM or bits != 16:
            self._collect = True
            return
        self._spec = _RawSpec("l16", rate, channels, "<")
        del self._pending[:offset]
        self._header_done = True


def _settled(pending: bytearray, channels: int) -> bool:
    """Whether the l16 bytes so far tell their byte order beyond doubt (`_BYTE_ORDER_VOTES`)."""
    little, big = byteorder_votes(bytes(pending), channels)
    return max(little, big) - min(little, big) >= _BYTE_ORDER_VOTES and max(little, big) >= 4 * min(little, big)
