"""API shape, auth and error bodies over real HTTP, on the fake engine."""

from __future__ import annotations

import io
import wave

import httpx
import numpy as np
import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import BasicAuthenticator, IAMAuthenticator
from ibm_watson import SpeechToTextV1

from tests.conftest import LIBRIVOX, LiveServer
from tests.services_env import sqlite_only

CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"


def sdk(server: LiveServer, iam: bool = False) -> SpeechToTextV1:
    auth = IAMAuthenticator(server.apikey, url=server.url) if iam else BasicAuthenticator("apikey", server.apikey)
    stt = SpeechToTextV1(authenticator=auth)
    stt.set_service_url(server.url)
    return stt


def assert_watson_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "code", "code_description"}
    assert body["code"] == status and body["error"]
    return body


def test_models_list_and_get_with_both_authenticators(fake_server: LiveServer) -> None:
    for iam in (False, True):
        stt = sdk(fake_server, iam)
        models = stt.list_models().get_result()["models"]
        names = {m["name"] for m in models}
        assert names == {"en-US_BroadbandModel", "en-US_Multimedia"}
        model = stt.get_model("en-US_BroadbandModel").get_result()
        assert model["url"].endswith("/v1/models/en-US_BroadbandModel")
        assert model["rate"] == 16000 and model["language"] == "en-US"
        assert model["supported_features"]["custom_acoustic_model"] is True
        assert "low_latency" not in model["supported_features"]
        assert stt.get_model("en-US_Multimedia").get_result()["supported_features"]["low_latency"] is True


def test_recognize_shape(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    result = stt.recognize(
        CLIP.read_bytes(),
        content_type="audio/wav",
        timestamps=True,
        word_confidence=True,
        max_alternatives=2,
        keywords=["hello"],
        keywords_threshold=0.5,
    ).get_result()
    assert result["result_index"] == 0
    (res,) = result["results"]
    assert res["final"] is True
    best = res["alternatives"][0]
    assert best["transcript"] == "hello world "
    assert [w[0] for w in best["timestamps"]] == ["hello", "world"]
    assert best["word_confidence"][0] == ["hello", 0.9]
    assert res["alternatives"][1] == {"transcript": "hollow world "}
    assert res["keywords_result"]["hello"][0]["normalized_text"] == "hello"


def test_unknown_parameters_are_warnings(fake_server: LiveServer) -> None:
    r = httpx.post(
        f"{fake_server.url}/v1/recognize?continuous=true&foo=1",
        content=CLIP.read_bytes(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", fake_server.apikey),
    )
    assert r.status_code == 200
    assert r.json()["warnings"] == ["Unknown arguments: continuous, foo."]


def test_low_latency_as_watson_documents_it(fake_server: LiveServer) -> None:
    """Next-generation models take it (supported_features.low_latency); previous-generation ones do not
    know it: a warning, as in Watson."""
    stt = sdk(fake_server)
    audio = CLIP.read_bytes()
    ng = stt.recognize(audio, content_type="audio/wav", model="en-US_Multimedia", low_latency=True).get_result()
    assert ng["results"] and "warnings" not in ng
    pg = stt.recognize(audio, content_type="audio/wav", model="en-US_BroadbandModel", low_latency=True).get_result()
    assert pg["results"] and pg["warnings"] == ["Unknown arguments: low_latency."]


def test_multipart_recognize(fake_server: LiveServer) -> None:
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        files={
            "metadata": (None, '{"part_content_type": "audio/wav", "timestamps": true}'),
            "upload": ("a.wav", CLIP.read_bytes(), "audio/wav"),
        },
        auth=("apikey", fake_server.apikey),
    )
    assert r.status_code == 200, r.text
    assert "timestamps" in r.json()["results"][0]["alternatives"][0]


def test_silence_gives_no_results(fake_server: LiveServer) -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(16000 * 3, dtype=np.int16).tobytes())
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        content=buf.getvalue(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", fake_server.apikey),
    )
    assert r.status_code == 200 and r.json()["results"] == []
    r = httpx.post(
        f"{fake_server.url}/v1/recognize?inactivity_timeout=2",
        content=buf.getvalue(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", fake_server.apikey),
    )
    assert "No speech detected for 2s" in assert_watson_error(r, 400)["error"]


def test_speech_detection_levels(fake_server: LiveServer) -> None:
    hum = io.BytesIO()
    with wave.open(hum, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.random.default_rng(2).normal(0, 1600, 16000 * 3)).astype(np.int16).tobytes())
    stt = sdk(fake_server)
    assert stt.recognize(hum.getvalue(), content_type="audio/wav").get_result()["results"] == []  # noise
    heard = stt.recognize(hum.getvalue(), content_type="audio/wav", speech_detector_sensitivity=1.0).get_result()
    assert len(heard["results"]) == 1 and "warnings" not in heard  # detection off: the noise is transcribed
    speech = CLIP.read_bytes()
    for level in ({"background_audio_suppression": 1.0}, {"speech_detector_sensitivity": 0.0}):  # all suppressed
        assert stt.recognize(speech, content_type="audio/wav", **level).get_result()["results"] == []
    with pytest.raises(ApiException) as err:
        stt.recognize(speech, content_type="audio/wav", speech_detector_sensitivity=1.5)
    assert err.value.status_code == 400 and "speech_detector_sensitivity" in err.value.message


@pytest.mark.parametrize(
    ("headers", "body", "params", "status", "needle"),
    [
        ({"Content-Type": "audio/wav"}, b"RIFF" + b"\x00" * 200, {}, 400, "audio"),
        ({"Content-Type": "audio/wav"}, b"", {}, 400, "too short"),
        ({"Content-Type": "text/plain"}, b"hello " * 50, {}, 415, "text/plain"),
        ({"Content-Type": "audio/l16"}, b"\x00" * 400, {}, 400, "rate"),
        ({"Content-Type": "audio/wav"}, CLIP.read_bytes(), {"model": "xx-XX_Nope"}, 404, "xx-XX_Nope"),
        ({"Content-Type": "audio/wav"}, CLIP.read_bytes(), {"max_alternatives": "-1"}, 400, "max_alternatives"),
        ({"Content-Type": "audio/wav"}, CLIP.read_bytes(), {"customization_weight": "0.5"}, 400, "customization"),
        ({"Content-Type": "audio/wav"}, CLIP.read_bytes(), {"keywords": "a"}, 400, "keywords_threshold"),
    ],
)
def test_bad_requests_get_watson_errors(fake_server, headers, body, params, status, needle) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        content=body,
        headers=headers,
        params=params,
        auth=("apikey", fake_server.apikey),
    )
    assert needle in assert_watson_error(r, status)["error"]


def test_body_over_limit_is_413(fake_server: LiveServer) -> None:
    fake_server.services.settings.max_body_bytes = 10_000
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        content=CLIP.read_bytes(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", fake_server.apikey),
    )
    assert_watson_error(r, 413)


def test_credentials(fake_server: LiveServer) -> None:
    url = f"{fake_server.url}/v1/models"
    assert_watson_error(httpx.get(url), 401)
    assert_watson_error(httpx.get(url, auth=("apikey", "wrong")), 401)
    assert_watson_error(httpx.get(url, headers={"Authorization": "Bearer not.a.token"}), 401)
    stt = SpeechToTextV1(authenticator=BasicAuthenticator("apikey", "wrong"))
    stt.set_service_url(fake_server.url)
    with pytest.raises(ApiException) as err:
        stt.list_models()
    assert err.value.status_code == 401
    token = httpx.post(
        f"{fake_server.url}/identity/token",
        data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": fake_server.apikey},
    )
    assert token.status_code == 200
    ok = httpx.get(url, headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert ok.status_code == 200
    bad = httpx.post(
        f"{fake_server.url}/identity/token",
        data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": "nope"},
    )
    assert_watson_error(bad, 401)


@sqlite_only("it reads the SQLite file")
def test_keys_are_stored_hashed(fake_server: LiveServer) -> None:
    db_file = fake_server.services.settings.data_dir / "parlance.db"
    assert fake_server.apikey.encode() not in db_file.read_bytes()
