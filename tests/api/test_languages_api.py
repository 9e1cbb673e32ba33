"""Other languages over real HTTP on fake engines (API shapes only): retired previous-generation model names,
`POST /v1/detect_language` through the ibm-watson SDK and plain HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from ibm_cloud_sdk_core.authenticators import BasicAuthenticator
from ibm_watson import SpeechToTextV1

from parlance.engines.base import ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.api.test_recognize_api import CLIP, assert_watson_error
from tests.conftest import serving
from tests.fakes import FakeEngine, fake_version


class _Identifier:
    """A fake model that says every audio is Korean, 2:1 over Thai (which no model serves) and 1:1 over Japanese."""

    def transcribe(self, audio: np.ndarray, options: object, *, speech: int | None = None) -> list:
        return []

    def language_probabilities(self, audio: np.ndarray) -> list[tuple[str, float]]:
        return [("ko", 0.4), ("th", 0.2), ("ja", 0.1), ("en", 0.1)]


class _IdentifyingEngine(FakeEngine):
    def load(self, version: ModelVersion) -> _Identifier:  # type: ignore[override]
        return _Identifier()


def _version(base: str, language: str, **options: object) -> ModelVersion:
    return dataclasses.replace(fake_version(base, "fake-lid"), language=language, options=dict(options))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    registry = EngineRegistry()
    registry.register(FakeEngine("fake-next", "next"))
    registry.register(_IdentifyingEngine("fake-lid", "next"))
    builtins = [
        fake_version("en-US_Multimedia", "fake-next"),
        _version("ko-KR_Multimedia", "ko-KR", language_identification=True),
        _version("ja-JP_Multimedia", "ja-JP", language_identification=True),
    ]
    services = Services.build(Settings(data_dir=tmp_path / "data"), registry=registry, builtins=builtins)
    key = services.auth.create_key(instance_name="tests")
    with serving(services) as url:
        yield url, key.apikey


def _sdk(url: str, apikey: str) -> SpeechToTextV1:
    stt = SpeechToTextV1(authenticator=BasicAuthenticator("apikey", apikey))
    stt.set_service_url(url)
    return stt


def test_a_retired_name_shows_and_serves_its_equivalent(server: tuple[str, str]) -> None:
    stt = _sdk(*server)
    model = stt.get_model("ko-KR_BroadbandModel").get_result()  # the SDK's integration test asks for it
    assert model["name"] == "ko-KR_Multimedia" and model["language"] == "ko-KR"
    with open(CLIP, "rb") as f:
        result = stt.recognize(f, content_type="audio/wav", model="ko-KR_NarrowbandModel").get_result()
    assert any("ko-KR_NarrowbandModel" in w and "ko-KR_Multimedia" in w for w in result["warnings"])
    # a retired name with no equivalent installed is still unknown
    resp = httpx.get(f"{server[0]}/v1/models/pt-BR_BroadbandModel", auth=("apikey", server[1]))
    assert_watson_error(resp, 404)


def test_detect_language_answers_with_watsons_shape(server: tuple[str, str]) -> None:
    stt = _sdk(*server)
    with open(CLIP, "rb") as f:
        result = stt.detect_language(0.5, f, content_type="audio/wav").get_result()
    assert result["result_index"] == 0
    (info,) = result["results"][0]["language_info"]
    # Thai has no model: Korean's probability is renormalized among the served languages
    assert info["language"] == "ko-KR" and info["confidence"] == pytest.approx(0.4 / 0.6, abs=1e-3)
    assert info["timestamp"] > 0


def test_detect_language_refuses_a_bad_threshold_and_non_audio(server: tuple[str, str]) -> None:
    url, apikey = server
    audio = CLIP.read_bytes()
    for bad in ("1.5", "-0.1", "high"):
        resp = httpx.post(
            f"{url}/v1/detect_language",
            params={"lid_confidence": bad},
            content=audio,
            headers={"Content-Type": "audio/wav"},
            auth=("apikey", apikey),
        )
        assert "lid_confidence" in assert_watson_error(resp, 400)["error"]
    resp = httpx.post(
        f"{url}/v1/detect_language", content=b"x" * 200, headers={"Content-Type": "text/plain"}, auth=("apikey", apikey)
    )
    assert_watson_error(resp, 415)


def test_silence_has_no_language(server: tuple[str, str]) -> None:
    url, apikey = server
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(16000 * 2, dtype=np.int16).tobytes())
    resp = httpx.post(
        f"{url}/v1/detect_language",
        content=buf.getvalue(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", apikey),
    )
    assert resp.status_code == 200 and resp.json() == {"results": [], "result_index": 0}


def test_an_unknown_model_error_carries_the_transaction_id(server: tuple[str, str]) -> None:
    """The SDK's integration test `test_models` looks for it in the exception's text."""
    from ibm_cloud_sdk_core import ApiException

    with pytest.raises(ApiException) as caught:
        _sdk(*server).get_model("bogus")
    assert caught.value.status_code == 404 and "X-global-transaction-id:" in str(caught.value)
