"""Azure batch transcriptions over real HTTP (httpx) on the fake engine: shapes from azure-api.md §2, §3.4, §4."""

from __future__ import annotations

import shutil
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from ibm_watson import SpeechToTextV1

from parlance.api.app import create_app
from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.api.azure.conftest import wait_for_status
from tests.api.test_recognize_api import CLIP, sdk
from tests.conftest import LiveServer, MovableClock, free_port, wait_status, wait_until_up
from tests.fakes import FakeEngine, fake_version

V32 = "/speechtotext/v3.2"
BROADBAND = "en-US_BroadbandModel.v2026-01-01"  # fake_version's id; created 2026-01-01: transcribes until 2028-01-15
ENTITY_KEYS = {
    "self",
    "model",
    "links",
    "properties",
    "lastActionDateTime",
    "status",
    "createdDateTime",
    "locale",
    "displayName",
    "description",
    "customProperties",
}
FILE_KEYS = {"self", "name", "kind", "properties", "createdDateTime", "links"}
RESULT_KEYS = {
    "source",
    "timestamp",
    "durationInTicks",
    "durationMilliseconds",
    "duration",
    "combinedRecognizedPhrases",
    "recognizedPhrases",
}


@dataclass
class BatchServer:
    server: LiveServer
    services: Services
    clock: MovableClock
    content: Path  # the server's content_root

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Ocp-Apim-Subscription-Key": self.server.apikey}, timeout=30)

    def sdk(self) -> SpeechToTextV1:
        return sdk(self.server)


@pytest.fixture
def batch(tmp_path: Path) -> Iterator[BatchServer]:
    """The fake-engine server with a content root (`clips/a.wav`, `clips/b.wav`, `broken.wav`) and a clock."""
    content = tmp_path / "content"
    (content / "clips").mkdir(parents=True)
    for name in ("a.wav", "b.wav"):
        shutil.copy(CLIP, content / "clips" / name)
    (content / "clips" / "notes.txt").write_text("not audio")
    (content / "broken.wav").write_bytes(b"RIFF this is not audio at all" * 10)
    (tmp_path / "secret.wav").write_bytes(CLIP.read_bytes())
    registry = EngineRegistry()
    registry.register(FakeEngine("fake-previous", "previous"))
    registry.register(FakeEngine("fake-next", "next"))
    builtins = [fake_version("en-US_BroadbandModel", "fake-previous"), fake_version("en-US_Multimedia", "fake-next")]
    clock = MovableClock(datetime.now(UTC))
    settings = Settings(data_dir=tmp_path / "data", content_root=content)
    services = Services.build(settings, registry=registry, builtins=builtins, clock=clock)
    key = services.auth.create_key(instance_name="tests")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, services), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    yield BatchServer(LiveServer(url, services, key.apikey, key.instance_id), services, clock, content)
    server.should_exit = True
    thread.join(timeout=10)


def body(**overrides: Any) -> dict[str, Any]:
    return {"displayName": "batch", "locale": "en-US", **overrides}


def base_model(az: BatchServer, version: str = BROADBAND) -> dict[str, str]:
    return {"self": f"{az.url}{V32}/models/base/{version}"}


def create(c: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    resp = c.post(f"{V32}/transcriptions", json=payload)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def files_of(c: httpx.Client, item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    listed = c.get(item["links"]["files"])
    assert listed.status_code == 200
    assert listed.json()["@nextLink"] is None
    return {f["name"]: f for f in listed.json()["values"]}


def assert_azure_error(resp: httpx.Response, status: int, inner: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()
    assert {"code", "message"} <= set(err) and "error" not in err
    if inner is not None:
        assert err["innerError"]["code"] == inner, err
    return dict(err)


def clip_seconds() -> float:
    with wave.open(str(CLIP)) as w:
        return w.getnframes() / w.getframerate()


def test_create_run_and_read_results_in_azures_shapes(batch: BatchServer) -> None:
    urls = [(batch.content / "clips" / n).as_uri() for n in ("a.wav", "b.wav")]
    with batch.client() as c:
        resp = c.post(
            f"{V32}/transcriptions",
            json=body(
                model=base_model(batch),
                contentUrls=urls,
                properties={"wordLevelTimestampsEnabled": True, "timeToLive": "P2D"},
                customProperties={"team": "qa"},
            ),
        )
        assert resp.status_code == 201, resp.text
        created = resp.json()
        assert set(created) == ENTITY_KEYS
        assert resp.headers["Location"] == created["self"] == f"{batch.url}{V32}/transcriptions/{created['self'][-36:]}"
        assert created["status"] == "NotStarted"
        assert created["model"] == base_model(batch)
        assert created["properties"]["timeToLive"] == "PT48H"
        assert created["customProperties"] == {"team": "qa"}
        assert "contentUrls" not in created  # Azure does not echo the content

        done = wait_for_status(c, created["self"])
        assert done["status"] == "Succeeded" and "error" not in done["properties"]
        files = files_of(c, done)
        assert sorted(files) == ["contenturl_0.json", "contenturl_1.json", "report.json"]
        assert all(set(f) == FILE_KEYS for f in files.values())
        assert files["contenturl_0.json"]["kind"] == "Transcription"
        assert files["report.json"]["kind"] == "TranscriptionReport"

        one = c.get(files["contenturl_0.json"]["self"])
        assert one.status_code == 200 and one.json() == files["contenturl_0.json"]
        raw = c.get(files["contenturl_0.json"]["links"]["contentUrl"])
        assert raw.status_code == 200 and len(raw.content) == files["contenturl_0.json"]["properties"]["size"]
        result = raw.json()
        assert set(result) == RESULT_KEYS
        assert result["source"] == urls[0]
        assert result["durationMilliseconds"] == round(clip_seconds() * 1000)
        assert result["durationInTicks"] == round(clip_seconds() * 10_000_000)
        phrases = result["recognizedPhrases"]
        assert phrases and all(p["recognitionStatus"] == "Success" and p["channel"] == 0 for p in phrases)
        assert all(p["nBest"][0]["words"] for p in phrases)  # wordLevelTimestampsEnabled
        (combined,) = result["combinedRecognizedPhrases"]
        assert combined["lexical"] == " ".join(p["nBest"][0]["lexical"] for p in phrases)

        report = c.get(files["report.json"]["links"]["contentUrl"]).json()
        assert report["successfulTranscriptionsCount"] == 2 and report["failedTranscriptionsCount"] == 0
        assert [d["source"] for d in report["details"]] == urls

        # the content URL is ours and authenticates like the rest
        assert httpx.get(files["report.json"]["links"]["contentUrl"]).status_code == 401


def test_container_folder_lists_its_audio_files_sorted(batch: BatchServer) -> None:
    with batch.client() as c:
        item = create(c, body(contentContainerUrl=(batch.content / "clips").as_uri()))
        assert item["model"]["self"].startswith(f"{batch.url}{V32}/models/base/")  # the locale's newest base model
        done = wait_for_status(c, item["self"])
        report = c.get(files_of(c, done)["report.json"]["links"]["contentUrl"]).json()
        assert [d["source"] for d in report["details"]] == ["a.wav", "b.wav"]  # relative to the container


def test_inputs_that_fail_are_reported_and_all_failing_fails_the_job(batch: BatchServer) -> None:
    good = (batch.content / "clips" / "a.wav").as_uri()
    broken, missing = (batch.content / "broken.wav").as_uri(), (batch.content / "missing.wav").as_uri()
    with batch.client() as c:
        some = wait_for_status(c, create(c, body(contentUrls=[good, broken, missing]))["self"])
        assert some["status"] == "Succeeded"
        files = files_of(c, some)
        assert sorted(files) == ["contenturl_0.json", "report.json"]
        report = c.get(files["report.json"]["links"]["contentUrl"]).json()
        assert (report["successfulTranscriptionsCount"], report["failedTranscriptionsCount"]) == (1, 2)
        assert [d["status"] for d in report["details"]] == ["Succeeded", "Failed", "Failed"]
        assert "does not exist" in report["details"][2]["errorMessage"]

        none = wait_for_status(c, create(c, body(contentUrls=[broken, missing]))["self"])
        assert none["status"] == "Failed"
        assert set(none["properties"]["error"]) == {"code", "message"}
        assert sorted(files_of(c, none)) == ["report.json"]


def test_list_pages_with_next_link_and_answers_under_v31(batch: BatchServer) -> None:
    url = (batch.content / "clips" / "a.wav").as_uri()
    with batch.client() as c:
        made = [create(c, body(displayName=f"t{i}", contentUrls=[url]))["self"] for i in range(3)]
        first = c.get(f"{V32}/transcriptions", params={"top": 2}).json()
        assert [t["self"] for t in first["values"]] == made[:2]
        assert first["@nextLink"] == f"{batch.url}{V32}/transcriptions?skip=2&top=2"
        second = c.get(first["@nextLink"]).json()
        assert [t["self"] for t in second["values"]] == made[2:] and second["@nextLink"] is None
        old = c.get(f"/speechtotext/v3.1/transcriptions/{made[0].rsplit('/', 1)[1]}").json()
        assert old["self"] == made[0].replace("/v3.2/", "/v3.1/")
        assert c.get(f"{V32}/transcriptions/locales").json() == ["en-US"]


def test_patch_then_delete_removes_the_files(batch: BatchServer) -> None:
    with batch.client() as c:
        item = wait_for_status(c, create(c, body(contentUrls=[(batch.content / "clips" / "a.wav").as_uri()]))["self"])
        patched = c.patch(
            item["self"],
            content=b'{"displayName": "renamed", "description": "d", "customProperties": {"k": "v"}}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["displayName"], patched.json()["description"]) == ("renamed", "d")
        assert patched.json()["customProperties"] == {"k": "v"} and patched.json()["locale"] == "en-US"
        folder = batch.services.transcriptions.folder(item["self"].rsplit("/", 1)[1])
        assert (folder / "report.json").is_file()
        assert c.delete(item["self"]).status_code == 204
        assert not folder.exists()
        assert_azure_error(c.get(item["self"]), 404)
        assert_azure_error(c.get(item["links"]["files"]), 404)
        assert c.delete(item["self"]).status_code == 204  # "successfully deleted or did not exist"
        assert_azure_error(c.patch(item["self"], json={"displayName": "x"}), 404)


@pytest.mark.parametrize(
    ("payload", "inner", "says"),
    [
        ({}, "OnlyOneOfUrlsOrContainerOrDataset", "exactly one"),
        ({"contentUrls": []}, "OnlyOneOfUrlsOrContainerOrDataset", "exactly one"),
        (
            {"contentUrls": ["https://example.com/a.wav"], "contentContainerUrl": "file:///x"},
            "OnlyOneOfUrlsOrContainerOrDataset",
            "exactly one",
        ),
        ({"contentUrls": ["SECRET"]}, "InvalidRecordingsUri", "outside"),
        ({"contentUrls": ["file:///etc/passwd"]}, "InvalidRecordingsUri", "outside"),
        ({"contentUrls": ["ftp://example.com/a.wav"]}, "InvalidRecordingsUri", "not an http(s) or file URL"),
        ({"contentContainerUrl": "https://example.com/container?sv=1"}, "InvalidRecordingsUri", "file://"),
        ({"contentContainerUrl": "CONTENT/broken.wav"}, "InvalidRecordingsUri", "not a folder"),
        ({"contentUrls": ["https://example.com/a.wav"], "properties": {"timeToLive": "P32D"}}, "InvalidTimeToLive", ""),
        ({"contentUrls": ["https://example.com/a.wav"], "properties": {"channels": [2]}}, "InvalidChannels", ""),
        (
            {"contentUrls": ["https://example.com/a.wav"], "model": {"self": "https://x/models/base/nope"}},
            "InvalidModel",
            "nope",
        ),
        ({"contentUrls": ["https://example.com/a.wav"], "locale": "de-DE"}, None, "de-DE"),
        ({"contentUrls": ["https://example.com/a.wav"], "displayName": ""}, "InvalidParameterValue", "displayName"),
        (
            {"contentUrls": ["https://example.com/a.wav"], "properties": {"profanityFilterMode": "Loud"}},
            "InvalidParameterValue",
            "profanityFilterMode",
        ),
    ],
)
def test_bad_requests_get_azure_errors_and_store_nothing(
    batch: BatchServer, payload: dict[str, Any], inner: str | None, says: str
) -> None:
    secret = (batch.content.parent / "secret.wav").as_uri()
    for key, value in payload.items():
        if isinstance(value, list):
            payload[key] = [v.replace("SECRET", secret) for v in value]
        elif isinstance(value, str):
            payload[key] = value.replace("CONTENT", batch.content.as_uri())
    with batch.client() as c:
        err = assert_azure_error(c.post(f"{V32}/transcriptions", json=body(**payload)), 400, inner)
        assert err["code"] == "InvalidRequest"
        assert says in err["message"]
        assert c.get(f"{V32}/transcriptions").json()["values"] == []
    assert not (batch.services.settings.data_dir / "transcriptions").exists()


def test_expired_base_model_is_refused_with_model_deprecated(batch: BatchServer) -> None:
    url = (batch.content / "clips" / "a.wav").as_uri()
    with batch.client() as c:
        create(c, body(model=base_model(batch), contentUrls=[url]))  # usable today
        batch.clock.current = datetime(2028, 1, 15, tzinfo=UTC)  # the version's transcription date
        for payload in (body(model=base_model(batch), contentUrls=[url]), body(contentUrls=[url])):
            err = assert_azure_error(c.post(f"{V32}/transcriptions", json=payload), 400, "ModelDeprecated")
            assert err["code"] == "InvalidRequest"
            assert "2028-01-15T00:00:00Z" in err["message"] and "install a newer version" in err["message"]
        assert len(c.get(f"{V32}/transcriptions").json()["values"]) == 1


def test_custom_models_must_be_trained_and_not_expired(batch: BatchServer) -> None:
    stt = batch.sdk()
    cid = stt.create_language_model("batch", "en-US_BroadbandModel").get_result()["customization_id"]
    url = (batch.content / "clips" / "a.wav").as_uri()
    custom = {"self": f"{batch.url}{V32}/models/{cid}"}
    with batch.client() as c:
        err = assert_azure_error(c.post(f"{V32}/transcriptions", json=body(model=custom, contentUrls=[url])), 400)
        assert err["innerError"]["code"] == "InvalidModel" and "not trained" in err["message"]
        stt.add_word(cid, "parlance", sounds_like=["par lance"])
        stt.train_language_model(cid)
        wait_status(stt, cid, {"available"})
        item = wait_for_status(c, create(c, body(model=custom, contentUrls=[url]))["self"])
        assert item["status"] == "Succeeded" and item["model"] == custom

        # a custom model transcribes for two years after the quarter it was created in
        created = datetime.fromisoformat(stt.get_language_model(cid).get_result()["created"].replace("Z", "+00:00"))
        batch.clock.current = created + timedelta(days=3 * 365)
        err = assert_azure_error(
            c.post(f"{V32}/transcriptions", json=body(model=custom, contentUrls=[url])), 400, "ModelDeprecated"
        )
        assert cid in err["message"] and "POST /models" in err["message"]


def test_time_to_live_deletes_the_transcription_after_completion(batch: BatchServer) -> None:
    url = (batch.content / "clips" / "a.wav").as_uri()
    with batch.client() as c:
        kept = wait_for_status(c, create(c, body(contentUrls=[url]))["self"])
        hour = wait_for_status(c, create(c, body(contentUrls=[url], properties={"timeToLive": "PT1H"}))["self"])
        hours = wait_for_status(c, create(c, body(contentUrls=[url], properties={"timeToLiveHours": 6}))["self"])
        assert hours["properties"]["timeToLive"] == "PT6H"
        folder = batch.services.transcriptions.folder(hour["self"].rsplit("/", 1)[1])
        assert folder.is_dir()
        batch.clock.current += timedelta(minutes=59)
        assert c.get(hour["self"]).status_code == 200
        batch.clock.current += timedelta(minutes=2)
        assert_azure_error(c.get(hour["self"]), 404)
        assert not folder.exists()
        listed = [t["self"] for t in c.get(f"{V32}/transcriptions").json()["values"]]
        assert listed == [kept["self"], hours["self"]]
        batch.clock.current += timedelta(days=400)
        assert [t["self"] for t in c.get(f"{V32}/transcriptions").json()["values"]] == [kept["self"]]


def test_http_content_urls_are_fetched_and_a_failed_fetch_is_reported(batch: BatchServer) -> None:
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    files = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(batch.content / "clips")))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{files.server_address[1]}"
    try:
        with batch.client() as c:
            item = wait_for_status(c, create(c, body(contentUrls=[f"{base}/a.wav", f"{base}/missing.wav"]))["self"])
            found = files_of(c, item)
            result = c.get(found["contenturl_0.json"]["links"]["contentUrl"]).json()
            report = c.get(found["report.json"]["links"]["contentUrl"]).json()
    finally:
        files.shutdown()
    assert item["status"] == "Succeeded"
    assert result["source"] == f"{base}/a.wav" and result["recognizedPhrases"]
    assert [d["status"] for d in report["details"]] == ["Succeeded", "Failed"]
    assert "HTTP 404" in report["details"][1]["errorMessage"]
