"""decode_audio on real speech converted by ffmpeg into every accepted format, and its errors."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parlance.audio.decode import ContentType, decode_audio, parse_content_type, sniff_format
from parlance.engines.base import SAMPLE_RATE
from parlance.errors import (
    BadRequest,
    InvalidAudio,
    ParlanceError,
    PayloadTooLarge,
    UnsupportedMediaType,
)

DURATION_TOLERANCE = int(0.06 * SAMPLE_RATE)
Convert = Callable[..., bytes]  # the `convert` fixture of conftest.py


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def envelope(x: np.ndarray, hop: int = 320) -> np.ndarray:
    """RMS per 20 ms: comparable across lossy codecs whose waveforms (phase, delay) differ."""
    n = len(x) // hop
    return np.sqrt(np.mean(np.square(x[: n * hop]).reshape(n, hop), axis=1))


def check_shape(audio: np.ndarray, reference: np.ndarray) -> None:
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.abs(audio).max() <= 1.0
    assert abs(len(audio) - len(reference)) <= DURATION_TOLERANCE, (len(audio), len(reference))


# --- parse_content_type ---------------------------------------------------------------------


def test_parse_content_type_is_case_and_space_insensitive() -> None:
    ct = parse_content_type(" Audio/L16 ; Rate=16000 ;endianness = Big-Endian ")
    assert ct == ContentType("audio/l16", {"rate": "16000", "endianness": "big-endian"})
    assert parse_content_type('audio/ogg; codecs="opus"').params == {"codecs": "opus"}
    assert parse_content_type(None).mime == parse_content_type("  ").mime == ""
    assert str(parse_content_type("audio/l16;rate=8000;channels=2")) == "audio/l16; rate=8000; channels=2"


def test_sniff_format_recognises_magic_bytes(convert: Convert) -> None:
    assert sniff_format(convert("a.flac", "-c:a", "flac")) == "flac"
    assert sniff_format(convert("a.wav", "-c:a", "pcm_s16le")) == "wav"
    assert sniff_format(convert("a.ogg", "-c:a", "libopus")) == "ogg"
    assert sniff_format(convert("a.webm", "-c:a", "libopus")) == "webm"
    assert sniff_format(convert("a.mp3", "-c:a", "libmp3lame")) == "mp3"  # starts with an ID3 tag
    assert sniff_format(convert("b.mp3", "-c:a", "libmp3lame", "-write_id3v2", "0", "-write_xing", "0")) == "mp3"
    assert sniff_format(b"hello, world, this is text") is None


# --- lossless and near-lossless formats ------------------------------------------------------

NEAR_IDENTICAL = [
    ("flac", "a.flac", ("-c:a", "flac"), "audio/flac"),
    ("flac sniffed", "a.flac", ("-c:a", "flac"), "application/octet-stream"),
    ("flac no content type", "a.flac", ("-c:a", "flac"), None),
    ("wav 16-bit", "a.wav", ("-c:a", "pcm_s16le"), "audio/wav"),
    ("wav 24-bit", "s24.wav", ("-c:a", "pcm_s24le"), "audio/wav"),
    ("wav 32-bit", "s32.wav", ("-c:a", "pcm_s32le"), "audio/x-wav"),
    ("wav float", "f32.wav", ("-c:a", "pcm_f32le"), "AUDIO/WAV"),
    ("wav float64", "f64.wav", ("-c:a", "pcm_f64le"), None),
    ("wav RF64", "rf64.wav", ("-c:a", "pcm_s16le", "-rf64", "always"), "audio/wav"),
]


@pytest.mark.parametrize(("label", "name", "args", "ctype"), NEAR_IDENTICAL, ids=[c[0] for c in NEAR_IDENTICAL])
def test_lossless_formats_decode_to_the_original(
    convert: Convert, speech: np.ndarray, label: str, name: str, args: tuple[str, ...], ctype: str | None
) -> None:
    audio = decode_audio(convert(name, *args), ctype)
    check_shape(audio, speech)
    assert len(audio) == len(speech)
    assert np.abs(audio - speech).max() < 1e-4


NEAR_LOSSLESS = [  # label, file, ffmpeg args, content type, minimum correlation, expected gain
    ("wav 8-bit", "u8.wav", ("-c:a", "pcm_u8"), "audio/wav", 0.99, 1.0),
    ("wav mu-law", "ulaw.wav", ("-c:a", "pcm_mulaw"), "audio/wav", 0.995, 1.0),
    ("wav a-law", "alaw.wav", ("-c:a", "pcm_alaw"), "audio/wave", 0.995, 1.0),
    ("wav 44.1 kHz", "441.wav", ("-ar", "44100"), "audio/wav", 0.999, 1.0),
    ("wav 8 kHz", "8k.wav", ("-ar", "8000"), "audio/wav", 0.95, 1.0),
    ("flac 48 kHz 24-bit", "48.flac", ("-ar", "48000", "-sample_fmt", "s32"), "audio/flac", 0.999, 1.0),
    # ffmpeg upmixes mono to 5.1 on the centre channel only; averaging six channels gives 1/6
    ("wav 5.1 48 kHz", "6ch.wav", ("-ac", "6", "-ar", "48000"), "audio/wav", 0.999, 1 / 6),
]


@pytest.mark.parametrize(
    ("label", "name", "args", "ctype", "min_corr", "gain"), NEAR_LOSSLESS, ids=[c[0] for c in NEAR_LOSSLESS]
)
def test_resampled_and_companded_formats_stay_close(
    convert: Convert,
    speech: np.ndarray,
    label: str,
    name: str,
    args: tuple[str, ...],
    ctype: str,
    min_corr: float,
    gain: float,
) -> None:
    audio = decode_audio(convert(name, *args), ctype)
    check_shape(audio, speech)
    assert correlation(audio, speech) > min_corr
    assert rms(audio) / rms(speech) == pytest.approx(gain, rel=0.1)


def test_stereo_is_downmixed_by_averaging_channels(convert: Convert, speech: np.ndarray) -> None:
    data = convert("st.wav", "-ar", "44100", "-af", "pan=stereo|c0=c0|c1=0.5*c0")
    audio = decode_audio(data, "audio/wav")
    check_shape(audio, speech)
    assert correlation(audio, speech) > 0.999
    assert rms(audio) / rms(speech) == pytest.approx(0.75, rel=0.02)


def test_wav_with_streaming_header_sizes_decodes_everything(convert: Convert, speech: np.ndarray) -> None:
    data = bytearray(convert("a.wav", "-c:a", "pcm_s16le"))
    size_at = data.index(b"data") + 4
    data[4:8] = data[size_at : size_at + 4] = struct.pack("<I", 0xFFFFFFFF)  # RIFF and data sizes unknown
    assert len(decode_audio(bytes(data), "audio/wav")) == len(speech)


def test_float_wav_beyond_full_scale_is_clipped(convert: Convert) -> None:
    audio = decode_audio(convert("loud.wav", "-c:a", "pcm_f32le", "-af", "volume=8"), "audio/wav")
    assert np.abs(audio).max() == pytest.approx(1.0)


# --- lossy codecs -----------------------------------------------------------------------------

LOSSY = [
    ("mp3", "a.mp3", ("-c:a", "libmp3lame", "-b:a", "64k"), "audio/mp3"),
    ("mpeg", "a.mp3", ("-c:a", "libmp3lame", "-b:a", "64k"), "audio/mpeg"),
    ("mp3 sniffed", "a.mp3", ("-c:a", "libmp3lame", "-b:a", "64k"), "application/octet-stream"),
    ("mp3 44.1k stereo", "st.mp3", ("-ar", "44100", "-af", "pan=stereo|c0=c0|c1=c0", "-c:a", "libmp3lame"), None),
    ("ogg opus", "a.ogg", ("-c:a", "libopus", "-b:a", "32k"), "audio/ogg;codecs=opus"),
    ("ogg vorbis", "v.ogg", ("-c:a", "libvorbis"), "audio/ogg; codecs=vorbis"),
    ("ogg sniffed", "v.ogg", ("-c:a", "libvorbis"), None),
    ("webm opus", "a.webm", ("-c:a", "libopus"), "audio/webm"),
    ("webm vorbis", "v.webm", ("-c:a", "libvorbis"), "audio/webm;codecs=vorbis"),
]


@pytest.mark.parametrize(("label", "name", "args", "ctype"), LOSSY, ids=[c[0] for c in LOSSY])
def test_lossy_codecs_keep_duration_and_loudness(
    convert: Convert, speech: np.ndarray, label: str, name: str, args: tuple[str, ...], ctype: str | None
) -> None:
    audio = decode_audio(convert(name, *args), ctype)
    check_shape(audio, speech)
    assert correlation(envelope(audio), envelope(speech)) > 0.95
    assert 0.8 < rms(audio) / rms(speech) < 1.25


def test_mislabelled_container_is_decoded_by_its_magic(convert: Convert, speech: np.ndarray) -> None:
    audio = decode_audio(convert("a.flac", "-c:a", "flac"), "audio/ogg")
    assert np.abs(audio - speech).max() < 1e-4


# --- raw formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "ctype"),
    [
        ("s16le", "audio/l16;rate=16000"),
        ("s16le", "audio/l16;rate=16000;endianness=little-endian"),
        ("s16be", "audio/l16;rate=16000"),
        ("s16be", "audio/L16; rate=16000; endianness=big-endian"),
    ],
)
def test_l16_in_either_byte_order_is_exact(convert: Convert, speech: np.ndarray, fmt: str, ctype: str) -> None:
    audio = decode_audio(convert(f"a.{fmt}", "-f", fmt), ctype)
    assert np.array_equal(audio, speech)


def test_l16_honours_an_explicit_wrong_endianness(convert: Convert, speech: np.ndarray) -> None:
    audio = decode_audio(convert("a.s16be", "-f", "s16be"), "audio/l16;rate=16000;endianness=little-endian")
    assert abs(correlation(audio, speech)) < 0.2


@pytest.mark.parametrize("fmt", ["s16le", "s16be"])
def test_l16_stereo_44k_is_downmixed_and_resampled(convert: Convert, speech: np.ndarray, fmt: str) -> None:
    data = convert(f"st.{fmt}", "-f", fmt, "-ar", "44100", "-ac", "2")
    audio = decode_audio(data, "audio/l16;rate=44100;channels=2")
    check_shape(audio, speech)
    assert correlation(audio, speech) > 0.999


@pytest.mark.parametrize(
    ("fmt", "ctype"),
    [
        ("mulaw", "audio/mulaw;rate=8000"),
        ("mulaw", "audio/basic"),
        ("alaw", "audio/alaw;rate=8000"),
    ],
)
def test_g711_8khz_is_upsampled(convert: Convert, speech: np.ndarray, fmt: str, ctype: str) -> None:
    audio = decode_audio(convert(f"a.{fmt}", "-f", fmt, "-ar", "8000"), ctype)
    check_shape(audio, speech)
    assert correlation(audio, speech) > 0.95
    assert correlation(envelope(audio), envelope(speech)) > 0.99


def test_g711_matches_ffmpeg_for_every_code(convert: Convert, tmp_path: Path) -> None:
    codes = tmp_path / "codes.raw"
    codes.write_bytes(bytes(range(256)) * 32)
    for fmt in ("mulaw", "alaw"):
        inputs = ("-f", fmt, "-ar", "16000", "-ac", "1", "-i", str(codes))
        reference = np.frombuffer(convert(f"{fmt}.s16", "-f", "s16le", inputs=inputs), "<i2") / 32768.0
        assert np.array_equal(decode_audio(codes.read_bytes(), f"audio/{fmt};rate=16000"), reference)


def test_audio_basic_accepts_a_sun_au_file(convert: Convert, speech: np.ndarray) -> None:
    audio = decode_audio(convert("a.au", "-c:a", "pcm_mulaw", "-ar", "8000"), "audio/basic")
    check_shape(audio, speech)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["audio/wav", "audio/l16;rate=16000", None, "audio/basic"])
def test_empty_body_is_invalid_audio(ctype: str | None) -> None:
    with pytest.raises(InvalidAudio, match="empty"):
        decode_audio(b"", ctype)


def test_random_bytes_are_invalid_audio() -> None:
    data = random.Random(7).randbytes(50)
    with pytest.raises(InvalidAudio, match="could not be decoded as audio/wav") as info:
        decode_audio(data, "audio/wav")
    assert info.value.status == 400


def test_a_few_bytes_are_too_short() -> None:
    with pytest.raises(InvalidAudio, match="too short"):
        decode_audio(b"RIFF", "audio/wav")
    with pytest.raises(InvalidAudio, match="no samples"):
        decode_audio(b"\x01", "audio/l16;rate=16000")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.01])
def test_truncated_flac_is_invalid_audio(convert: Convert, keep: float) -> None:
    data = convert("a.flac", "-c:a", "flac")
    with pytest.raises(InvalidAudio, match="audio/flac"):
        decode_audio(data[: int(len(data) * keep)], "audio/flac")


def test_text_as_octet_stream_is_invalid_audio() -> None:
    text = b"This is a plain text file, not audio at all.\n" * 20
    with pytest.raises(InvalidAudio, match="could not be detected"):
        decode_audio(text, "application/octet-stream")
    with pytest.raises(InvalidAudio):
        decode_audio(text, None)


@pytest.mark.parametrize("ctype", ["text/plain", "video/mp4", "audio/g729", "audio/aac", "audio"])
def test_unsupported_content_types_are_415(ctype: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="not supported") as info:
        decode_audio(b"\x00" * 1000, ctype)
    assert info.value.status == 415
    assert "audio/flac" in info.value.message and "audio/l16" in info.value.message


def test_unsupported_codecs_parameter_is_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="Accepted codecs: opus, vorbis"):
        decode_audio(b"\x00" * 1000, "audio/ogg;codecs=speex")


@pytest.mark.parametrize("mime", ["audio/l16", "audio/mulaw", "audio/alaw"])
def test_raw_types_without_rate_are_400(mime: str) -> None:
    with pytest.raises(BadRequest, match="rate parameter is required") as info:
        decode_audio(b"\x00" * 1000, f"{mime};channels=1")
    assert type(info.value) is BadRequest and info.value.status == 400


@pytest.mark.parametrize(
    "ctype",
    [
        "audio/l16;rate=abc",
        "audio/l16;rate=0",
        "audio/l16;rate=16000;channels=17",
        "audio/l16;rate=16000;channels=0",
        "audio/l16;rate=16000;endianness=middle-endian",
    ],
)
def test_invalid_raw_parameters_are_400(ctype: str) -> None:
    with pytest.raises(BadRequest, match="Invalid"):
        decode_audio(b"\x00" * 1000, ctype)


def test_video_without_audio_is_invalid_audio(convert: Convert) -> None:
    lavfi = ("-f", "lavfi", "-i", "color=c=blue:s=64x64:d=1")
    webm = convert("video.webm", "-c:v", "libvpx", inputs=lavfi)
    with pytest.raises(InvalidAudio, match="no audio stream"):
        decode_audio(webm, "audio/webm")
    with pytest.raises(InvalidAudio, match="no audio stream"):
        decode_audio(webm, None)
    mp4 = convert("video.mp4", "-c:v", "libx264", inputs=lavfi)
    for ctype in ("application/octet-stream", "audio/mp3", "audio/wav"):
        with pytest.raises(InvalidAudio):
            decode_audio(mp4, ctype)


def test_duration_cap_applies_to_containers_and_raw(convert: Convert) -> None:
    with pytest.raises(PayloadTooLarge, match="maximum of 5 seconds") as info:
        decode_audio(convert("a.flac", "-c:a", "flac"), "audio/flac", max_seconds=5)
    assert info.value.status == 413
    with pytest.raises(PayloadTooLarge):
        decode_audio(convert("a.s16le", "-f", "s16le"), "audio/l16;rate=16000", max_seconds=5)
    assert len(decode_audio(convert("a.flac", "-c:a", "flac"), "audio/flac", max_seconds=8)) > 0


def test_highly_compressed_long_silence_hits_the_cap(convert: Convert) -> None:
    bomb = convert("silence.flac", "-c:a", "flac", inputs=("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono:d=600"))
    assert len(bomb) < 1024 * 1024  # ten minutes in well under a megabyte
    with pytest.raises(PayloadTooLarge):
        decode_audio(bomb, None, max_seconds=60)


def test_corrupted_inputs_only_raise_parlance_errors(convert: Convert) -> None:
    rng = random.Random(3)
    sources = {
        "audio/flac": convert("a.flac", "-c:a", "flac"),
        "audio/mp3": convert("a.mp3", "-c:a", "libmp3lame", "-b:a", "64k"),
        "audio/ogg": convert("a.ogg", "-c:a", "libopus", "-b:a", "32k"),
        "audio/webm": convert("a.webm", "-c:a", "libopus"),
        "audio/wav": convert("a.wav", "-c:a", "pcm_s16le"),
    }
    for ctype, data in sources.items():
        for _ in range(12):
            cut = rng.randrange(1, len(data))
            damaged = bytearray(data[:cut])
            for _ in range(rng.randrange(30)):
                damaged[rng.randrange(min(cut, 4000))] = rng.randrange(256)
            try:
                audio = decode_audio(bytes(damaged), ctype)
            except ParlanceError:
                continue
            assert audio.dtype == np.float32 and audio.size and np.abs(audio).max() <= 1.0
