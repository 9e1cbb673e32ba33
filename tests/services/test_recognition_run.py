"""`RecognitionService.run` recognizes utterance by utterance as the audio is decoded: the results of the
whole-audio path, without holding the decoded audio (fake engine: the segments show in its timestamps)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from parlance.audio.decode import decode_parts
from parlance.audio.vad import split_utterances
from parlance.errors import BadRequest
from parlance.services.container import Services
from tests.audio.conftest import CLIP, LIBRIVOX
from tests.conftest import fake_services

pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="needs Debian's pocketsphinx-testdata")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = fake_services(tmp_path / "data")
    yield svc
    svc.close()


def l16(seconds: float) -> bytes:
    """`seconds` of the LibriVox clips with pauses of 0.3 to 2 s, as 16 kHz little-endian l16."""
    clips = [sf.read(p, dtype="float32")[0] for p in sorted(LIBRIVOX.glob("*.wav"))]
    pauses = np.random.default_rng(3).uniform(0.3, 2.0, len(clips))
    unit = np.concatenate(
        [x for clip, pause in zip(clips, pauses, strict=True) for x in (clip, np.zeros(int(pause * 16000)))]
    )
    audio = np.tile(unit, int(-(-seconds * 16000 // len(unit))))[: int(seconds * 16000)]
    return (audio * 20000).astype("<i2").tobytes()


L16 = "audio/l16;rate=16000;endianness=little-endian"


def test_results_are_those_of_splitting_the_whole_audio(services: Services) -> None:
    params = {"timestamps": True, "end_of_phrase_silence_time": 0.5, "background_audio_suppression": 0.3}
    prepared = services.recognition.prepare("me", params)
    audio = [(l16(150), L16)]
    samples = decode_parts(audio)
    segments = split_utterances(samples, end_of_phrase_silence=0.5, background_suppression=0.3)
    model = services.pool.model(prepared.version)
    expected = [
        services.recognition._result(model.transcribe(s.samples, prepared.options), s.start, prepared.params)
        for s in segments
    ]
    for i, result in enumerate(expected):
        result["end_of_utterance"] = "end_of_data" if i == len(expected) - 1 else "silence"
    assert len(expected) > 10
    assert services.recognition.run(prepared, audio)["results"] == expected


def test_long_audio_is_recognized_without_holding_it(services: Services) -> None:
    prepared = services.recognition.prepare("me", {})
    audio = [(l16(20 * 60), L16)]  # 38 MB of l16; 77 MB decoded
    services.recognition.run(prepared, [(l16(5), L16)])  # loads the model
    tracemalloc.start()
    try:
        result = services.recognition.run(prepared, audio)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(result["results"]) > 50
    assert peak < 10e6, peak  # the longest utterance and the frames around it, not the 77 MB


def test_no_speech_within_the_timeout_fails_before_the_audio_is_decoded(services: Services) -> None:
    prepared = services.recognition.prepare("me", {"inactivity_timeout": 30})
    silence = bytes(2 * 16000 * 3600)  # an hour of digital silence
    tracemalloc.start()
    try:
        with pytest.raises(BadRequest, match="No speech detected for 30s"):
            services.recognition.run(prepared, [(silence, L16)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10e6, peak
