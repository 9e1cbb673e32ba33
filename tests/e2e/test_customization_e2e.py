"""Custom language models on the real engines, through a live server and the ibm-watson SDK."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from ibm_watson import SpeechToTextV1

from bench.whisper_eval import finance_samples, term_hits
from tests.conftest import LiveServer
from tests.e2e.test_upgrade_e2e import sdk, trained_model
from tests.testdata import FINANCE

pytestmark = pytest.mark.slow
MIN_RECALL = {"en-US_Multimedia": 0.9, "en-US_BroadbandModel": 0.5}


def wav(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buf.getvalue()


def text(stt: SpeechToTextV1, audio: bytes, base: str, cid: str | None) -> str:
    extra = {"language_customization_id": cid} if cid else {}
    result = stt.recognize(audio, content_type="audio/wav", model=base, **extra).get_result()
    return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])


@pytest.mark.parametrize("base", ["en-US_Multimedia", "en-US_BroadbandModel"])
def test_custom_words_are_recognized(real_server: LiveServer, base: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    stt = sdk(real_server.url, real_server.apikey)
    cid = trained_model(stt, base, f"terms-{base}")
    samples = finance_samples(FINANCE, tmp_path_factory.mktemp("synth"), voices=("slt",))
    found = total = base_found = 0
    for s in samples:
        audio = s.wav.read_bytes()
        hits = term_hits(s.terms, text(stt, audio, base, cid))
        found, total = found + sum(hits), total + len(hits)
        base_found += sum(term_hits(s.terms, text(stt, audio, base, None)))
    print(f"\n{base}: custom term recall {found}/{total}, without the custom model {base_found}/{total}")
    assert found / total >= MIN_RECALL[base]
    assert found > base_found


@pytest.mark.parametrize("base", ["en-US_Multimedia", "en-US_BroadbandModel"])
def test_no_custom_words_on_silence_or_noise(real_server: LiveServer, base: str) -> None:
    stt = sdk(real_server.url, real_server.apikey)
    cid = trained_model(stt, base, f"quiet-{base}")
    rng = np.random.default_rng(0)
    for audio in (np.zeros(16000 * 3), rng.normal(0, 0.1, 16000 * 3), rng.normal(0, 0.02, 16000 * 3)):
        assert text(stt, wav(audio), base, cid) == ""
