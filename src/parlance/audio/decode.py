"""Decode request bodies of every accepted content type to mono float32 PCM at 16 kHz.

Container formats (WAV, FLAC, Ogg, MP3, WebM) go through PyAV in memory; the raw telephony
formats (l16, mu-law, A-law) are decoded with numpy. Channels are averaged to mono and the
result is resampled with libswresample. Every failure is reported as a `ParlanceError`.

Memory stays bounded whatever the input claims: the sample rate and channel count are checked
from the header before anything is decoded (a WAV claiming 1 Hz would otherwise be upsampled
16000-fold), the duration limit is checked from the header and again as decoding proceeds, and
the audio is decoded, downmixed and resampled a frame or block at a time, either into the one output
array (`decode_parts`, through `ResampledOutput`) or as a generator of chunks that a consumer handles
as they come (`decoded_chunks`: recognition holds only the utterance in progress).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from parlance.audio.output import ResampledOutput, Resampler
from parlance.engines.base import SAMPLE_RATE
from parlance.errors import (
    BadRequest,
    InvalidAudio,
    ParlanceError,
    UnsupportedMediaType,
)

DEFAULT_MAX_SECONDS = 3 * 3600.0
# Watson: l16 takes at most 16 channels and WAV at most 9; audio below 8 kHz (narrowband's rate)
# fails. Above 192 kHz nothing is speech, and refusing it bounds the work per second of audio.
MAX_RAW_CHANNELS = 16
MAX_CHANNELS = {"wav": 9}
MAX_CONTAINER_CHANNELS = 16
MIN_RATE, MAX_RATE = 8000, 192000

# Declared MIME type -> PyAV demuxer. Aliases beyond Watson's list are accepted quietly.
_CONTAINERS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "audio/mp3": "mp3",
    "audio/mpeg": "mp3",
    "audio/webm": "webm",
}
_RAW = ("audio/l16", "audio/mulaw", "audio/alaw", "audio/basic")
_SNIFFED = ("", "application/octet-stream")
_CODECS = ("opus", "vorbis")
ACCEPTED_TYPES = (
    "audio/alaw",
    "audio/basic",
    "audio/flac",
    "audio/l16",
    "audio/mp3",
    "audio/mpeg",
    "audio/mulaw",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "application/octet-stream",
)
_FORMAT_NAMES = {"wav": "WAV", "flac": "FLAC", "ogg": "Ogg", "mp3": "MP3", "webm": "WebM", "au": "Sun AU"}
_MIN_CONTAINER_BYTES = 16
_RAW_CHUNK = 1 << 16  # samples per resampler call on the raw path
_SNIFF_PROBE_SECONDS = 10


@dataclass(frozen=True)
class ContentType:
    """A parsed Content-Type header: lower-cased `mime` ("" if absent) and lower-cased `params`."""

    mime: str
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join([self.mime, *(f"{k}={v}" for k, v in self.params.items())])


@dataclass(frozen=True)
class _RawSpec:
    encoding: str  # "l16" | "mulaw" | "alaw"
    rate: int
    channels: int
    byteorder: str | None  # "<" | ">" | None (auto-detect)


def parse_content_type(header: str | None) -> ContentType:
    """Parse e.g. ``"Audio/L16 ; rate=16000; Endianness=big-endian"`` (case and spaces ignored)."""
    if header is None or not header.strip():
        return ContentType("")
    mime, *parts = header.split(";")
    params: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if sep and key.strip():
            params[key.strip().lower()] = value.strip().strip('"').strip().lower()
    return ContentType(mime.strip().lower(), params)


def decode_audio(
    data: bytes, content_type: str | ContentType | None, *, max_seconds: float = DEFAULT_MAX_SECONDS
) -> np.ndarray:
    """Decode `data` to mono float32 in [-1, 1] at `SAMPLE_RATE` Hz.

    Raises UnsupportedMediaType (415) for types we do not accept, BadRequest (400) for missing or
    invalid parameters, InvalidAudio (400) for empty or undecodable audio or a sample rate or channel
    count out of bounds, and PayloadTooLarge (413) when the audio lasts longer than `max_seconds`.
    """
    return decode_parts([(data, content_type)], max_seconds=max_seconds)


def decode_parts(
    parts: Iterable[tuple[bytes, str | ContentType | None]], *, max_seconds: float = DEFAULT_MAX_SECONDS
) -> np.ndarray:
    """Decode several audio files one after the other into one array, as `decode_audio` does each;
    together they may last at most `max_seconds`."""
    out = ResampledOutput(max_seconds)
    try:
        for chunk in decoded_chunks(parts, resampler=out):
            out.write(chunk)
    except BaseException:
        # The error's traceback keeps these frames alive, possibly in a cycle that only the garbage
        # collector frees (an idle server may not run it for long): hold no samples there.
        out.discard()
        raise
    return out.result()


def decoded_chunks(
    parts: Iterable[tuple[bytes, str | ContentType | None]],
    *,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    resampler: Resampler | None = None,
) -> Iterator[np.ndarray]:
    """The samples `decode_parts` returns, as a generator of short chunks: a consumer that handles each
    chunk as it comes never holds the whole audio. Errors (as `decode_audio`'s) are raised when reached, so
    chunks of valid audio may come before an error about what follows them."""
    resampler = resampler or Resampler(max_seconds)
    for data, content_type in parts:
        produced = 0
        for mono, rate in _source_blocks(resampler, data, content_type):
            for chunk in resampler.push(mono, rate):
                produced += len(chunk)
                yield chunk
        for chunk in resampler.end_part():
            produced += len(chunk)
            yield chunk
        if not produced:
            raise InvalidAudio("The audio contains no samples")


def _source_blocks(
    out: Resampler, data: bytes, content_type: str | ContentType | None
) -> Iterator[tuple[np.ndarray, int]]:
    """Mono float32 blocks at the source rate, after the checks that need only the header."""
    ctype = content_type if isinstance(content_type, ContentType) else parse_content_type(content_type)
    _check_supported(ctype)
    spec = _raw_spec(ctype) if ctype.mime in _RAW else None
    if not data:
        raise InvalidAudio("The audio is empty (the request body has 0 bytes)")
    if spec is not None and not (ctype.mime == "audio/basic" and data.startswith(b".snd")):
        return _decode_raw(out, data, spec)
    return _decode_container(out, data, ctype)


def _check_supported(ctype: ContentType) -> None:
    if ctype.mime not in _CONTAINERS and ctype.mime not in _RAW and ctype.mime not in _SNIFFED:
        raise UnsupportedMediaType(
            f"Content type '{ctype.mime}' is not supported. Accepted types: {', '.join(ACCEPTED_TYPES)}"
        )
    codecs = ctype.params.get("codecs")
    if codecs is not None and ctype.mime in ("audio/ogg", "audio/webm") and codecs not in _CODECS:
        raise UnsupportedMediaType(
            f"Codec '{codecs}' is not supported for {ctype.mime}. Accepted codecs: {', '.join(_CODECS)}"
        )


# ---------------------------------------------------------------------------------------------
# Raw formats: l16, mu-law, A-law


def _raw_spec(ctype: ContentType) -> _RawSpec:
    if ctype.mime == "audio/basic":
        return _RawSpec("mulaw", 8000, 1, None)
    if "rate" not in ctype.params:
        raise BadRequest(f"The rate parameter is required for {ctype.mime}, e.g. '{ctype.mime};rate=16000'")
    rate = _int_param(ctype, "rate", MIN_RATE, MAX_RATE)
    channels = _int_param(ctype, "channels", 1, MAX_RAW_CHANNELS) if "channels" in ctype.params else 1
    endianness = ctype.params.get("endianness")
    orders = {None: None, "little-endian": "<", "big-endian": ">"}
    if endianness not in orders:
        raise BadRequest(f"Invalid endianness '{endianness}' for {ctype.mime}; use big-endian or little-endian")
    return _RawSpec(ctype.mime.removeprefix("audio/"), rate, channels, orders[endianness])


def _int_param(ctype: ContentType, name: str, low: int, high: int) -> int:
    value = ctype.params[name]
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"Invalid {name} '{value}' for {ctype.mime}: must be an integer from {low} to {high}")
    return int(value)


def _decode_raw(out: Resampler, data: bytes, spec: _RawSpec) -> Iterator[tuple[np.ndarray, int]]:
    width = 2 if spec.encoding == "l16" else 1
    frame_bytes = width * spec.channels
    frames = len(data) // frame_bytes
    if frames == 0:
        raise InvalidAudio(
            f"The audio contains no samples ({len(data)} bytes is less than one {frame_bytes}-byte frame)"
        )
    out.check_duration(frames / spec.rate)
    out.expect(frames / spec.rate)
    order = (spec.byteorder or _detect_byteorder(data, spec.channels)) if spec.encoding == "l16" else ""
    dtype = np.dtype(f"{order}i2") if spec.encoding == "l16" else np.dtype(np.uint8)
    # A block at a time: a full-length float copy at the source rate and channels would be up to
    # 64 times (16 channels x 4 bytes) the size of the body.
    for start in range(0, frames, _RAW_CHUNK):
        count = min(_RAW_CHUNK, frames - start)
        codes = np.frombuffer(data, dtype=dtype, count=count * spec.channels, offset=start * frame_bytes)
        pcm = codes.astype(np.float32) / 32768.0 if spec.encoding == "l16" else _G711[spec.encoding][codes]
        yield pcm.reshape(count, spec.channels).mean(axis=1, dtype=np.float32), spec.rate


def _detect_byteorder(body: bytes, channels: int) -> str:
    """Pick the byte order in which most samples step less from the one before; ties: little.

    A vote over samples, not a ratio of energies: a few loud bytes that are not audio (a WAV header sent
    as l16, as the SDK's own tests do) would outweigh a quiet lead-in in an energy ratio.
    """
    frame_bytes = 2 * channels
    probe = body[: min(len(body) // frame_bytes, SAMPLE_RATE * _SNIFF_PROBE_SECONDS) * frame_bytes]
    little, big = byteorder_votes(probe, channels)
    return "<" if little >= big else ">"


def byteorder_votes(body: bytes, channels: int) -> tuple[int, int]:
    """How many samples step less from the one before read little-endian, and how many read big-endian
    (exact silence votes for neither)."""
    body = body[: len(body) // (2 * channels) * 2 * channels]
    steps = {order: _steps(np.frombuffer(body, dtype=f"{order}i2"), channels) for order in "<>"}
    return int(np.count_nonzero(steps["<"] < steps[">"])), int(np.count_nonzero(steps[">"] < steps["<"]))


def _steps(pcm: np.ndarray, channels: int) -> np.ndarray:
    """Each sample's absolute difference from the one before, per channel."""
    return np.abs(np.diff(pcm.reshape(-1, channels).astype(np.int32), axis=0))


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84
    return (np.where(u & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)


def _alaw_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg, mantissa = (a >> 4) & 0x07, (a & 0x0F) << 4
    magnitude = np.where(seg == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(seg - 1, 0))
    return (np.where(a & 0x80, magnitude, -magnitude) / 32768.0).astype(np.float32)


_G711 = {"mulaw": _ulaw_table(), "alaw": _alaw_table()}


# ---------------------------------------------------------------------------------------------
# Container formats through PyAV


def sniff_format(data: bytes) -> str | None:
    """The PyAV demuxer name for `data` judged by its magic bytes, or None if unrecognised."""
    head = data[:12]
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    magics = {b"fLaC": "flac", b"OggS": "ogg", b"\x1a\x45\xdf\xa3": "webm"}
    if head[:4] in magics:
        return magics[head[:4]]
    if head[:3] == b"ID3" and len(head) >= 10:
        size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        return sniff_format(data[size:]) or "mp3"
    return "mp3" if _is_mpeg_audio_header(head) else None


def _is_mpeg_audio_header(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def _decode_container(out: Resampler, data: bytes, ctype: ContentType) -> Iterator[tuple[np.ndarray, int]]:
    sniffed = sniff_format(data)
    fmt = sniffed or _CONTAINERS.get(ctype.mime) or ("au" if ctype.mime == "audio/basic" else None)
    if fmt is None:
        raise InvalidAudio(
            f"The audio format could not be detected from its content ({len(data)} bytes); "
            "expected WAV, FLAC, Ogg, MP3 or WebM, or send a Content-Type such as audio/l16;rate=16000"
        )
    label = ctype.mime if ctype.mime not in _SNIFFED else f"{_FORMAT_NAMES[fmt]} (detected)"
    if len(data) < _MIN_CONTAINER_BYTES:
        raise InvalidAudio(f"The audio is too short to be {label} ({len(data)} bytes)")
    try:
        with av.open(io.BytesIO(data), mode="r", format=fmt) as container:
            if not container.streams.audio:
                raise InvalidAudio(f"The {label} data contains no audio stream (video is not accepted)")
            stream = container.streams.audio[0]
            if stream.sample_rate:  # 0: the header does not say; each decoded frame is checked too
                _check_rate_and_channels(stream.sample_rate, stream.channels, fmt, label)
            _check_header_duration(out, container, fmt)
            yield from _decoded_frames(container, fmt, label)
    except ParlanceError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError, RuntimeError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InvalidAudio(f"Audio could not be decoded as {label}: {reason}") from None


def _check_rate_and_channels(rate: int, channels: int, fmt: str, label: str) -> None:
    """Refuse a sample rate or channel count out of bounds (before decoding, as they bound its cost)."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidAudio(
            f"The sample rate of the audio ({label}) is {rate} Hz; it must be from {MIN_RATE} to {MAX_RATE} Hz"
        )
    most = MAX_CHANNELS.get(fmt, MAX_CONTAINER_CHANNELS)
    if channels > most:
        raise InvalidAudio(f"The audio ({label}) has {channels} channels; at most {most} are accepted")


def _check_header_duration(out: Resampler, container: av.container.InputContainer, fmt: str) -> None:
    """Refuse audio whose header says it is too long, and size the output from it."""
    if container.duration is None or container.duration <= 0:
        return
    seconds = container.duration / av.time_base
    if fmt != "mp3":  # an MP3's duration is an estimate from its first bitrate; decoding will tell
        out.check_duration(seconds)
    out.expect(seconds)


def _decoded_frames(container: av.container.InputContainer, fmt: str, label: str) -> Iterator[tuple[np.ndarray, int]]:
    for frame in container.decode(container.streams.audio[0]):
        if frame.samples:
            _check_rate_and_channels(frame.sample_rate, frame.layout.nb_channels, fmt, label)
            yield _to_mono(frame), frame.sample_rate


def _to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Average the channels of a decoded frame (any sample format) into float32."""
    channels = frame.layout.nb_channels
    raw = frame.to_ndarray()
    pcm = raw.reshape(channels, -1) if frame.format.is_planar else raw.reshape(-1, channels).T
    kind = frame.format.packed.name
    if kind == "u8":
        scaled = (pcm.astype(np.float32) - 128.0) / 128.0
    elif kind in ("flt", "dbl"):
        scaled = np.nan_to_num(pcm.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    else:  # s16, s32, s64
        scaled = pcm.astype(np.float32) / float(2 ** (8 * pcm.dtype.itemsize - 1))
    return scaled.mean(axis=0, dtype=np.float32) if channels > 1 else scaled[0]
