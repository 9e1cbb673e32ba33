"""`StreamDecoder`: bytes fed in pieces of any size give the samples `decode_parts` gives for the whole body."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from parlance.audio.decode import decode_audio
from parlance.audio.stream_decode import StreamDecoder
from parlance.engines.base import SAMPLE_RATE
from parlance.errors import InvalidAudio


def fed(data: bytes, content_type: str, piece: int) -> np.ndarray:
    decoder = StreamDecoder(content_type)
    chunks = [c for at in range(0, len(data), piece) for c in decoder.feed(data[at : at + piece])]
    return np.concatenate(chunks + decoder.finish())


def wav(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("piece", [1, 333, 8192, 10**9])
def test_pieces_of_any_size_decode_as_the_whole_body(speech: np.ndarray, piece: int) -> None:
    if piece == 1:
        speech = speech[:4000]  # byte by byte: keep it short
    stereo_44k = np.stack([speech, -speech], axis=1)[:: 16000 // 8000]
    cases = [
        (wav(speech, SAMPLE_RATE, "PCM_16"), "audio/wav"),
        (wav(stereo_44k, 8000, "PCM_16"), "audio/x-wav"),  # resampled and downmixed
        (wav(speech, SAMPLE_RATE, "FLOAT"), "audio/wav"),  # not 16-bit: collected, decoded at the end
        ((speech * 20000).astype(">i2").tobytes(), "audio/l16;rate=16000"),  # byte order told from the audio
        ((speech * 20000).astype("<i2").tobytes(), "audio/l16;rate=22050;endianness=little-endian"),
        (bytes(range(256)) * 40, "audio/mulaw;rate=8000"),
    ]
    for data, ctype in cases:
        assert np.array_equal(fed(data, ctype, piece), decode_audio(data, ctype)), ctype


def test_samples_come_while_the_bytes_arrive(speech: np.ndarray) -> None:
    data = wav(speech, SAMPLE_RATE, "PCM_16")
    decoder = StreamDecoder("audio/wav")
    assert StreamDecoder.incremental("audio/wav") and not StreamDecoder.incremental("audio/ogg")
    assert sum(len(c) for c in decoder.feed(data[: len(data) // 2])) > len(speech) // 3


@pytest.mark.parametrize("order", ["<", ">"])
def test_l16_without_endianness_streams_as_soon_as_its_samples_tell_the_byte_order(
    speech: np.ndarray, order: str
) -> None:
    data = (speech * 20000).astype(f"{order}i2").tobytes()
    decoder = StreamDecoder("audio/l16;rate=16000")
    piece = 3200  # 100 ms, as a live client sends
    out = [decoder.feed(data[at : at + piece]) for at in range(0, 10 * piece, piece)]
    first = next(i for i, chunks in enumerate(out) if chunks)
    assert first < 5  # not after a second of audio (the longest it waits for a clear vote)
    expected = decode_audio(data, f"audio/l16;rate=16000;endianness={'little' if order == '<' else 'big'}-endian")
    got = np.concatenate([c for chunks in out for c in chunks])
    assert np.array_equal(got, expected[: len(got)])


def test_nothing_or_a_bad_header_is_invalid_audio() -> None:
    with pytest.raises(InvalidAudio, match="empty"):
        StreamDecoder("audio/wav").finish()
    header = bytearray(wav(np.zeros(1600, dtype=np.float32), SAMPLE_RATE, "PCM_16"))
    header[24:28] = (1).to_bytes(4, "little")  # a 1 Hz sample rate
    with pytest.raises(InvalidAudio, match="1 Hz"):
        StreamDecoder("audio/wav").feed(bytes(header))


def test_a_wav_sent_as_l16_with_a_quiet_start_keeps_its_byte_order(speech: np.ndarray) -> None:
    # The SDK's integration suite posts a WAV file as "audio/l16; rate=44100": its header's loud bytes
    # come before a quiet lead-in, which must not make the little-endian samples look big-endian.
    quiet = (0.006 * np.sin(2 * np.pi * 60 * np.arange(44100) / 44100)).astype(np.float32)  # a faint hum
    body = wav(np.concatenate([quiet, speech]), 44100, "PCM_16")
    little = decode_audio(body, "audio/l16;rate=44100;endianness=little-endian")
    assert np.array_equal(fed(body, "audio/l16; rate=44100", 8192), little)
    assert np.array_equal(decode_audio(body, "audio/l16; rate=44100"), little)
