"""The WebSocket `/v1/recognize` with the real engines, driven by the ibm-watson SDK."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import soundfile as sf

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
    # and heard as it came (a re-decoding engine's interim results are spaced by twice their cost, so on a
    # loaded machine the last may come early in this 3 s clip)
    assert len(interim[-1]["results"][0]["alternatives"][0]["transcript"].split()) >= 2


def two_minutes_of_phrases() -> bytes:
    """About two minutes of the LibriVox clips, each followed by 1.5 s of silence, as a 16 kHz WAV."""
    pause = np.zeros(24000, dtype=np.float32)
    clips = [sf.read(s.wav, dtype="float32")[0] for s in librivox_samples()]
    phrases = list(itertools.islice(itertools.cycle(clips), 14))
    buf = io.BytesIO()
    sf.write(buf, np.concatenate([x for clip in phrases for x in (clip, pause)]), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.mark.parametrize("model", [PG, NG])
def test_sdk_callback_gets_interim_then_final_results_per_phrase_in_watsons_order(
    real_server: LiveServer, model: str
) -> None:
    audio = two_minutes_of_phrases()
    recorder = stream(real_server, audio, model=model, interim_results=True, timestamps=True)
    assert not recorder.errors
    finals = [m for m in recorder.data if m["results"][0]["final"]]
    # Watson's order: within a phrase (one result_index) interim results, then its final result; then the
    # next phrase's index, never back. Each message holds one result.
    index = 0
    for message in recorder.data:
        assert len(message["results"]) == 1
        assert message["result_index"] == index, (index, message)
        index += message["results"][0]["final"]
    assert [m["result_index"] for m in finals] == list(range(len(finals))) and len(finals) >= 10
    assert sum(1 for m in recorder.data if not m["results"][0]["final"]) >= len(finals) // 2
    assert len(recorder.transcriptions) == len(finals)  # the SDK's on_transcription: once per final
    sync = client(real_server)
    sync.set_http_config({"timeout": 600})  # two minutes of audio on a busy machine
    expected = sync.recognize(audio, content_type="audio/wav", model=model, timestamps=True).get_result()["results"]
    streamed = [m["results"][0] for m in finals]
    # Each phrase decoded once, as `recognize` decodes it: the SDK sends faster than real time, so PocketSphinx's
    # long phrases are decoded whole too (`WHOLE_DUE` in services/recognition_stream.py). The same results, in order.
    assert streamed == expected
