"""The WebSocket `/v1/recognize` with the real engines, driven by the ibm-watson SDK."""

from __future__ import annotations

import pytest

from bench.whisper_eval import librivox_samples
from tests.api.test_recognize_stream_api import stream
from tests.conftest import LiveServer
from tests.e2e.test_recognition_e2e import NG, PG, client

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", [NG, PG])
def test_streamed_results_equal_recognize(real_server: LiveServer, model: str) -> None:
    audio = librivox_samples()[1].wav.read_bytes()
    recorder = stream(real_server, audio, model=model, interim_results=True, word_confidence=True)
    expected = client(real_server).recognize(audio, content_type="audio/wav", model=model, word_confidence=True)
    *interim, final = recorder.data
    assert final == expected.get_result() and not recorder.errors
    assert interim and all(not r["final"] for d in interim for r in d["results"])
    words = final["results"][0]["alternatives"][0]["transcript"].split()
    assert len(words) > 5  # real speech was recognized
    assert len(interim[-1]["results"][0]["alternatives"][0]["transcript"].split()) > 2  # and heard as it came
