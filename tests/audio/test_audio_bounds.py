"""Bounds a hostile or huge input cannot get around: rate and channels from the header, and peak memory."""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
import soundfile as sf

from parlance.audio.decode import decode_audio, decode_parts
from parlance.engines.base import SAMPLE_RATE
from parlance.errors import BadRequest, InvalidAudio, PayloadTooLarge
from tests.conftest import LiveServer

Convert = Callable[..., bytes]  # the `convert` fixture of conftest.py


def wav_claiming(data: bytes, rate: int) -> bytes:
    """A copy of the 16-bit mono WAV `data` whose header claims `rate` Hz (sample and byte rate)."""
    out = bytearray(data)
    fmt = out.index(b"fmt ") + 8
    out[fmt + 4 : fmt + 12] = struct.pack("<II", rate, rate * 2)
    return bytes(out)


def long_signal(speech: np.ndarray, seconds: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """`seconds` of the speech clip at `rate` Hz, repeated with one-second pauses."""
    unit = np.concatenate([speech[:: SAMPLE_RATE // rate], np.zeros(rate, dtype=np.float32)])
    return np.tile(unit, -(-seconds * rate // len(unit)))[: seconds * rate]


@pytest.fixture
def peak_traced() -> Iterator[Callable[[], int]]:
    """Peak bytes allocated (numpy arrays included) beyond those held when it was last called."""
    tracemalloc.start()
    held = 0

    def growth() -> int:
        nonlocal held
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        grown, held = peak - held, current
        return grown

    yield growth
    tracemalloc.stop()


def wav(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# --- rate and channels, from the header, before decoding --------------------------------------


@pytest.mark.parametrize("rate", [1, 4000, 192001, 1_000_000])
def test_wav_claiming_a_rate_out_of_bounds_is_400_before_decoding(
    convert: Convert, peak_traced: Callable[[], int], rate: int
) -> None:
    data = wav_claiming(convert("a.wav", "-c:a", "pcm_s16le"), rate)
    peak_traced()
    with pytest.raises(
        InvalidAudio, match=f"sample rate of the audio \\(audio/wav\\) is {rate} Hz; it must be from 8000 to 192000 Hz"
    ) as info:
        decode_audio(data, "audio/wav")
    assert info.value.status == 400
    peak = peak_traced()
    assert peak < 4 * len(data), peak  # a 1 Hz header upsampled 16000-fold took 660 MB for 150 KB


def test_rates_at_the_bounds_decode(convert: Convert) -> None:
    for rate in (8000, 192000):
        assert decode_audio(wav_claiming(convert("a.wav", "-c:a", "pcm_s16le"), rate), "audio/wav").size


@pytest.mark.parametrize("rate", [4000, 7999, 192001])
def test_raw_rate_out_of_bounds_is_400(rate: int) -> None:
    with pytest.raises(BadRequest, match=f"Invalid rate '{rate}' for audio/l16: must be an integer from 8000"):
        decode_audio(b"\x00" * 1000, f"audio/l16;rate={rate}")


def test_l16_with_17_channels_is_400() -> None:
    with pytest.raises(BadRequest, match="Invalid channels '17'.*from 1 to 16"):
        decode_audio(b"\x00" * 17 * 2 * 100, "audio/l16;rate=16000;channels=17")
    assert decode_audio(b"\x00" * 16 * 2 * 100, "audio/l16;rate=16000;channels=16").size == 100


def test_wav_with_more_than_nine_channels_is_400(speech: np.ndarray) -> None:
    with pytest.raises(InvalidAudio, match="has 10 channels; at most 9"):
        decode_audio(wav(np.tile(speech[:, None], (1, 10))), "audio/wav")
    assert np.allclose(decode_audio(wav(np.tile(speech[:, None], (1, 9))), "audio/wav"), speech, atol=1e-4)


def test_live_server_refuses_a_1_hz_wav_with_a_watson_error(convert: Convert, fake_server: LiveServer) -> None:
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        content=wav_claiming(convert("a.wav", "-c:a", "pcm_s16le"), 1),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", fake_server.apikey),
    )
    body = r.json()
    assert r.status_code == 400 and body["code"] == 400, body
    assert "is 1 Hz" in body["error"] and body["code_description"] == "Bad Request"


# --- peak memory does not grow with the length beyond the result itself ------------------------


def test_long_flac_decodes_without_a_second_full_length_copy(
    speech: np.ndarray, peak_traced: Callable[[], int]
) -> None:
    buf = io.BytesIO()
    sf.write(buf, long_signal(speech, 30 * 60), SAMPLE_RATE, format="FLAC")
    data = buf.getvalue()
    peak_traced()
    audio = decode_audio(data, "audio/flac")
    assert len(audio) == 30 * 60 * SAMPLE_RATE
    # The result is 115 MB; collecting frames and concatenating them at the end peaked at twice that.
    peak = peak_traced()
    assert peak < 1.1 * audio.nbytes + 4e6, (peak, audio.nbytes)


def test_long_raw_stereo_is_converted_a_block_at_a_time(speech: np.ndarray, peak_traced: Callable[[], int]) -> None:
    mono = (long_signal(speech, 10 * 60, rate=8000) * 20000).astype("<i2")
    data = np.repeat(mono, 2).tobytes()  # 8 kHz stereo, 19 MB
    del mono
    peak_traced()
    audio = decode_audio(data, "audio/l16;rate=8000;channels=2;endianness=little-endian")
    assert abs(len(audio) - 10 * 60 * SAMPLE_RATE) <= 2
    # Converting the whole body to float first (then to mono, then concatenating) peaked at 3.5x.
    peak = peak_traced()
    assert peak < 1.1 * audio.nbytes + 4e6, (peak, audio.nbytes)


def test_duration_over_the_limit_in_the_header_is_413_before_decoding(
    speech: np.ndarray, peak_traced: Callable[[], int]
) -> None:
    buf = io.BytesIO()
    sf.write(buf, long_signal(speech, 10 * 60), SAMPLE_RATE, format="FLAC")
    data = buf.getvalue()
    peak_traced()
    with pytest.raises(PayloadTooLarge, match="maximum of 300 seconds"):
        decode_audio(data, "audio/flac", max_seconds=300)
    peak = peak_traced()
    assert peak < 1e6, peak  # decoding up to the limit first held 300 s of samples (19 MB)


def test_a_refused_decode_holds_no_samples_through_its_error(
    speech: np.ndarray, peak_traced: Callable[[], int]
) -> None:
    data = np.tile((speech * 20000).astype("<i2"), 60).tobytes()  # 7 min of l16
    before = tracemalloc.get_traced_memory()[0]
    with pytest.raises(PayloadTooLarge) as info:
        decode_parts([(data, "audio/l16;rate=16000"), (data, "audio/l16;rate=16000")], max_seconds=600)
    # The error (its traceback, its frames) is alive here, as it stays in a server until a garbage
    # collection when it sits in a reference cycle; 7 min of decoded samples are 27 MB.
    assert info.value.__traceback__ is not None
    held = tracemalloc.get_traced_memory()[0] - before
    assert held < 1e6, held
