"""Asynchronous recognition and callbacks over real HTTP with the ibm-watson SDK, on the fake engine."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_watson import SpeechToTextV1

from tests.api.test_recognize_api import CLIP, assert_watson_error, sdk
from tests.conftest import LiveServer, free_port
from tests.services_env import sqlite_only


class CallbackServer:
    """A callback URL: answers the challenge (or a wrong one) and records notifications."""

    def __init__(self, echo: bool = True, status: int = 200) -> None:
        self.echo = echo
        self.status = status
        self.challenges: list[tuple[str, str | None]] = []  # (challenge_string, signature)
        self.hosts: list[str | None] = []  # the Host header of each request
        self.notifications: list[tuple[dict[str, Any], str | None, bytes]] = []  # (body, signature, raw)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                challenge = parse_qs(urlsplit(self.path).query).get("challenge_string", [""])[0]
                outer.challenges.append((challenge, self.headers.get("X-Callback-Signature")))
                outer.hosts.append(self.headers.get("Host"))
                body = (challenge if outer.echo else "nope").encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.notifications.append((json.loads(raw), self.headers.get("X-Callback-Signature"), raw))
                outer.hosts.append(self.headers.get("Host"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/results"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, job_id: str) -> list[str]:
        return [body["event"] for body, _, _ in self.notifications if body["id"] == job_id]


@pytest.fixture
def callback() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.server.shutdown()


def signed(secret: str, payload: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha1).digest()).decode()


def wait_job(stt: SpeechToTextV1, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = stt.check_job(job_id).get_result()
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def wait_events(callback: CallbackServer, job_id: str, count: int, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(callback.events(job_id)) < count:
        time.sleep(0.05)
    return callback.events(job_id)


def test_job_without_callback_gives_the_same_results_as_recognize(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    audio = CLIP.read_bytes()
    created = stt.create_job(audio, content_type="audio/wav", timestamps=True, user_token="t1").get_result()
    assert set(created) == {"id", "created", "url", "status", "warnings"}
    assert created["status"] == "waiting" and created["url"].endswith(f"/v1/recognitions/{created['id']}")
    assert "user_token" in created["warnings"][0]  # ignored without a callback_url, with a warning
    job = wait_job(stt, created["id"])
    assert job["status"] == "completed" and len(job["results"]) == 1
    assert job["results"][0] == stt.recognize(audio, content_type="audio/wav", timestamps=True).get_result()
    listed = stt.check_jobs().get_result()["recognitions"]
    assert [j["id"] for j in listed] == [created["id"]] and listed[0]["status"] == "completed"
    stt.delete_job(created["id"])
    with pytest.raises(ApiException) as err:
        stt.check_job(created["id"])
    assert err.value.status_code == 404
    assert stt.check_jobs().get_result()["recognitions"] == []
    assert not (fake_server.services.settings.data_dir / "recognitions" / created["id"]).exists()


def test_callback_registration_and_signed_notifications(fake_server: LiveServer, callback: CallbackServer) -> None:
    stt = sdk(fake_server)
    first = stt.register_callback(callback.url, user_secret="s3cret")
    assert first.get_status_code() == 201 and first.get_result() == {"status": "created", "url": callback.url}
    challenge, sig = callback.challenges[0]
    assert sig == signed("s3cret", challenge.encode())
    again = stt.register_callback(callback.url, user_secret="s3cret")
    assert again.get_status_code() == 200 and again.get_result()["status"] == "already created"

    created = stt.create_job(
        CLIP.read_bytes(), content_type="audio/wav", callback_url=callback.url, user_token="job-7",
        events="recognitions.started,recognitions.completed_with_results",
    ).get_result()  # fmt: skip
    assert "warnings" not in created
    assert wait_events(callback, created["id"], 2) == ["recognitions.started", "recognitions.completed_with_results"]
    for body, sig, raw in callback.notifications:
        assert body["user_token"] == "job-7" and sig == signed("s3cret", raw)
    with_results = callback.notifications[1][0]
    assert with_results["results"] == stt.check_job(created["id"]).get_result()["results"]

    default = stt.create_job(CLIP.read_bytes(), content_type="audio/wav", callback_url=callback.url).get_result()
    assert wait_events(callback, default["id"], 2) == ["recognitions.started", "recognitions.completed"]
    assert callback.notifications[-1][0] == {"id": default["id"], "event": "recognitions.completed", "user_token": ""}

    stt.unregister_callback(callback.url)
    with pytest.raises(ApiException) as err:
        stt.create_job(CLIP.read_bytes(), content_type="audio/wav", callback_url=callback.url)
    assert err.value.status_code == 400 and "not registered" in err.value.message


def test_failed_job_is_reported(fake_server: LiveServer, callback: CallbackServer) -> None:
    stt = sdk(fake_server)
    stt.register_callback(callback.url)
    corrupt = b"RIFF" + b"\x00" * 40 + b"garbage that is no audio" * 20
    created = stt.create_job(corrupt, content_type="audio/wav", callback_url=callback.url).get_result()
    job = wait_job(stt, created["id"])
    assert job["status"] == "failed" and "results" not in job and job["warnings"]
    assert wait_events(callback, created["id"], 2) == ["recognitions.started", "recognitions.failed"]


def test_bad_requests_store_nothing(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    audio = CLIP.read_bytes()
    refusals = [
        ({"model": "xx-XX_Nothing"}, 404),
        ({"max_alternatives": -1}, 400),
        ({"callback_url": "http://127.0.0.1:9/never-registered"}, 400),
        ({"results_ttl": 0}, 400),
        ({"language_customization_id": "00000000-0000-0000-0000-000000000000"}, 404),
    ]
    for params, status in refusals:
        with pytest.raises(ApiException) as err:
            stt.create_job(audio, content_type="audio/wav", **params)
        assert err.value.status_code == status, (params, err.value.message)
    auth = ("apikey", fake_server.apikey)
    url = f"{fake_server.url}/v1/recognitions"
    for params in (
        {"events": "recognitions.completed,recognitions.completed_with_results"},
        {"events": "recognitions.exploded"},
    ):
        resp = httpx.post(url, params=params, content=audio, auth=auth, headers={"Content-Type": "audio/wav"})
        assert_watson_error(resp, 400)
    assert_watson_error(httpx.post(url, content=b"", auth=auth, headers={"Content-Type": "audio/wav"}), 400)
    assert stt.check_jobs().get_result()["recognitions"] == []
    assert not any((fake_server.services.settings.data_dir / "recognitions").glob("*/part-*"))
    with pytest.raises(ApiException) as err:
        stt.delete_job("no-such-job")
    assert err.value.status_code == 404


def test_challenge_must_be_answered(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    wrong = CallbackServer(echo=False)
    try:
        with pytest.raises(ApiException) as err:
            stt.register_callback(wrong.url)
        assert err.value.status_code == 400 and "challenge" in err.value.message
    finally:
        wrong.server.shutdown()
    for url in ("ftp://example.com/x", "not a url", f"http://127.0.0.1:{free_port()}/closed"):
        with pytest.raises(ApiException) as err:
            stt.register_callback(url)
        assert err.value.status_code == 400
    with pytest.raises(ApiException) as err:
        stt.unregister_callback("http://127.0.0.1:9/never")
    assert err.value.status_code == 404


def test_jobs_belong_to_their_instance(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    job = stt.create_job(CLIP.read_bytes(), content_type="audio/wav").get_result()
    other_key = fake_server.services.auth.create_key(instance_name="someone else")
    other = sdk(LiveServer(fake_server.url, fake_server.services, other_key.apikey, other_key.instance_id))
    assert other.check_jobs().get_result()["recognitions"] == []
    for call in (other.check_job, other.delete_job):
        with pytest.raises(ApiException) as err:
            call(job["id"])
        assert err.value.status_code == 404
    assert wait_job(stt, job["id"])["status"] == "completed"


def test_results_are_forgotten_after_their_ttl(fake_server: LiveServer) -> None:
    from datetime import timedelta

    from parlance.store.orm import RecognitionJob

    stt = sdk(fake_server)
    job = stt.create_job(CLIP.read_bytes(), content_type="audio/wav", results_ttl=1).get_result()
    assert wait_job(stt, job["id"])["status"] == "completed"
    with fake_server.services.db.session() as s:  # two minutes pass
        row = s.get(RecognitionJob, job["id"])
        row.updated = row.updated - timedelta(minutes=2)
    with pytest.raises(ApiException) as err:
        stt.check_job(job["id"])
    assert err.value.status_code == 404


def test_unknown_parameters_warn_once(fake_server: LiveServer) -> None:
    auth = ("apikey", fake_server.apikey)
    resp = httpx.post(
        f"{fake_server.url}/v1/recognitions", params={"foo": "1"}, content=CLIP.read_bytes(), auth=auth,
        headers={"Content-Type": "audio/wav"},
    )  # fmt: skip
    assert resp.status_code == 201 and resp.json()["warnings"] == ["Unknown arguments: foo."]
    job = wait_job(sdk(fake_server), resp.json()["id"])
    assert job["results"][0]["warnings"] == ["Unknown arguments: foo."] and "warnings" not in job


def test_numeric_job_parameters_outside_watsons_ranges_are_refused(fake_server: LiveServer) -> None:
    auth = ("apikey", fake_server.apikey)
    url = f"{fake_server.url}/v1/recognitions"
    for params in (
        {"results_ttl": "10000000000"},  # once accepted, then broke every instance's job reads
        {"results_ttl": str(10**30)},  # once a 500 at creation
        {"results_ttl": "-5"},
        {"results_ttl": "1.5"},
        {"processing_metrics_interval": "0.01"},
        {"processing_metrics_interval": "nan"},
        {"processing_metrics_interval": "soon"},
    ):
        resp = httpx.post(
            url, params=params, content=CLIP.read_bytes(), auth=auth, headers={"Content-Type": "audio/wav"}
        )
        assert_watson_error(resp, 400)
        assert next(iter(params)) in resp.json()["error"]
    assert httpx.get(url, auth=auth).json()["recognitions"] == []


@sqlite_only("PostgreSQL integers cannot hold the bad TTL")
def test_a_bad_stored_job_breaks_no_reads(fake_server: LiveServer) -> None:
    """A row whose expiry cannot be computed (as an older server could store) is expired and logged for its
    owner, and never seen by the expiry sweep of another instance."""
    from parlance.store.orm import RecognitionJob

    services = fake_server.services
    other = services.auth.create_key(instance_name="someone else")
    with services.db.session() as s:
        for owner in (fake_server.instance_id, other.instance_id):
            s.add(RecognitionJob(owner=owner, status="completed", results=[], results_ttl=10_000_000_000))
    stt = sdk(fake_server)
    job = stt.create_job(CLIP.read_bytes(), content_type="audio/wav").get_result()
    assert wait_job(stt, job["id"])["status"] == "completed"
    assert [j["id"] for j in stt.check_jobs().get_result()["recognitions"]] == [job["id"]]  # the bad row expired
    other_stt = sdk(LiveServer(fake_server.url, services, other.apikey, other.instance_id))
    assert other_stt.check_jobs().get_result()["recognitions"] == []


def test_callbacks_to_internal_addresses_are_refused_before_any_request(
    fake_server: LiveServer, callback: CallbackServer
) -> None:
    """Registration once sent its challenge to any address and told what came back: a port scanner."""
    stt = sdk(fake_server)
    settings = fake_server.services.settings
    port = callback.server.server_port
    settings.callback_allowed_hosts = []  # the default: only public addresses
    internal = [
        callback.url,
        f"http://localhost:{port}/results",
        f"http://[::1]:{port}/results",
        f"http://[::ffff:127.0.0.1]:{port}/results",
        f"http://0.0.0.0:{port}/results",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/x",
        "http://224.0.0.1/x",
        "http://240.0.0.1/x",
    ]
    messages = set()
    for url in internal:
        messages.add(api_error(lambda url=url: stt.register_callback(url), 400))
    assert len(messages) == 1 and "challenge" in messages.pop()
    assert callback.challenges == []  # nothing was sent

    settings.callback_allowed_hosts = ["127.0.0.0/8"]  # the operator allows loopback
    assert stt.register_callback(callback.url).get_status_code() == 201
    settings.callback_allowed_hosts = []  # and stops allowing it: jobs no longer notify it
    job = stt.create_job(CLIP.read_bytes(), content_type="audio/wav", callback_url=callback.url).get_result()
    assert wait_job(stt, job["id"])["status"] == "completed"
    time.sleep(0.3)
    assert callback.notifications == []


def test_a_failed_challenge_tells_nothing_about_the_target(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    wrong_body, wrong_status = CallbackServer(echo=False), CallbackServer(status=500)
    try:
        messages = {
            api_error(lambda url=url: stt.register_callback(url), 400)
            for url in (wrong_body.url, wrong_status.url, f"http://127.0.0.1:{free_port()}/closed")
        }
    finally:
        wrong_body.server.shutdown()
        wrong_status.server.shutdown()
    assert len(messages) == 1, messages
    message = messages.pop().lower()
    assert not any(word in message for word in ("refused", "500", "nope", "connect"))


def test_at_most_20_callback_registrations_an_hour_per_instance(
    fake_server: LiveServer, callback: CallbackServer
) -> None:
    stt = sdk(fake_server)
    for _ in range(20):  # failed attempts count: they are what a scan makes
        api_error(lambda: stt.register_callback(f"http://127.0.0.1:{free_port()}/closed"), 400)
    assert "per hour" in api_error(lambda: stt.register_callback(callback.url), 429)
    assert callback.challenges == []
    other_key = fake_server.services.auth.create_key(instance_name="someone else")
    other = sdk(LiveServer(fake_server.url, fake_server.services, other_key.apikey, other_key.instance_id))
    assert other.register_callback(callback.url).get_status_code() == 201


def api_error(fn, status: int) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiException) as err:
        fn()
    assert err.value.status_code == status, err.value.message
    return str(err.value.message)
