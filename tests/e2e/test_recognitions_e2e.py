"""Asynchronous recognition with the real engines: a job's results are the synchronous results."""

from __future__ import annotations

import pytest

from bench.whisper_eval import librivox_samples
from tests.api.test_recognitions_api import wait_job
from tests.conftest import LiveServer
from tests.e2e.test_recognition_e2e import NG, PG, client

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", [NG, PG])
def test_job_results_equal_recognize(real_server: LiveServer, model: str) -> None:
    stt = client(real_server)
    audio = librivox_samples()[1].wav.read_bytes()
    job = stt.create_job(audio, content_type="audio/wav", model=model, word_confidence=True).get_result()
    done = wait_job(stt, job["id"], timeout=120)
    assert done["status"] == "completed", done
    expected = stt.recognize(audio, content_type="audio/wav", model=model, word_confidence=True).get_result()
    assert done["results"] == [expected]
    assert len(expected["results"][0]["alternatives"][0]["transcript"].split()) > 5  # real speech was recognized
