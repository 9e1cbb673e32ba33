"""`parlance serve` with TLS: the SDK on an https URL, and its WebSocket on the wss URL it derives from it
(the SDK's own integration tests do this), with a self-signed certificate and verification disabled."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from ibm_cloud_sdk_core.authenticators import BasicAuthenticator
from ibm_watson import SpeechToTextV1
from ibm_watson.websocket import AudioSource

from tests.api.test_recognize_api import CLIP
from tests.api.test_recognize_stream_api import Recorder
from tests.conftest import free_port, wait_until_up

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "keys", "create", "--data-dir", str(d)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    apikey = json.loads(out.stdout)["apikey"]
    port = free_port()
    log = open(d / "server.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "parlance", "serve", "--port", str(port), "--data-dir", str(d),
         "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        stdout=log, stderr=log,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    try:
        wait_until_up(url, 120, proc)
        yield url, apikey
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _sdk(url: str, apikey: str) -> SpeechToTextV1:
    stt = SpeechToTextV1(authenticator=BasicAuthenticator("apikey", apikey))
    stt.set_service_url(url)
    stt.set_disable_ssl_verification(True)
    return stt


def test_https_and_the_sdks_wss_rewrite(tls_server: tuple[str, str]) -> None:
    url, apikey = tls_server
    stt = _sdk(url, apikey)
    assert stt.get_model("en-US_BroadbandModel").get_result()["name"] == "en-US_BroadbandModel"
    with open(CLIP, "rb") as f:
        posted = stt.recognize(f, content_type="audio/wav").get_result()
    recorder = Recorder()
    stt.recognize_using_websocket(AudioSource(io.BytesIO(CLIP.read_bytes())), "audio/wav", recorder)
    assert not recorder.errors, recorder.errors
    finals = [d for d in recorder.data if d.get("results")]
    streamed = [r["alternatives"][0]["transcript"] for d in finals for r in d["results"] if r.get("final")]
    assert streamed and streamed == [r["alternatives"][0]["transcript"] for r in posted["results"]]


def test_plain_http_is_refused_on_the_tls_port(tls_server: tuple[str, str]) -> None:
    url, _ = tls_server
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "/health", timeout=5)
