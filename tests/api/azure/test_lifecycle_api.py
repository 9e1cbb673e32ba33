"""The Azure lifecycle API over real HTTP (Azure's shapes from azure-api.md), on the fake engine, with the
lifecycle clock moved: dates, endpoints that fall back, training refused after the adaptation date."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.api.azure.conftest import AzureServer, wait_for_status
from tests.api.test_recognize_api import CLIP, sdk
from tests.api.test_recognize_stream_api import raw

PG = "en-US_BroadbandModel"
# The fake engine adds a custom model's words to every transcript; "zzquux" is a corpus word it counts as
# out of vocabulary, so it shows whether a request used the custom model.
CORPUS = b"the zzquux rate rose\nthe zzquux spread fell\n"


def parse(when: str) -> datetime:
    return datetime.fromisoformat(when.replace("Z", "+00:00"))


def azure_error(resp: httpx.Response, status: int, code: str, inner: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and body["message"], body
    if inner is not None:
        assert body["innerError"]["code"] == inner, body
    return body


def upload_dataset(az: AzureServer, text: bytes = CORPUS) -> str:
    resp = az.client.post(
        "/datasets/upload",
        data={"displayName": "finance text", "locale": "en-US", "kind": "Language"},
        files={"data": ("corpus.txt", text, "text/plain")},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["properties"] == {"acceptedLineCount": 2, "rejectedLineCount": 0}
    return str(resp.json()["self"])


def base_ref(az: AzureServer, base: str = PG) -> str:
    versions = az.client.get("/models/base").json()["values"]
    return next(v["self"] for v in versions if v["displayName"].startswith(base))


def trained_model(az: AzureServer, name: str = "finance") -> dict[str, Any]:
    body = {
        "displayName": name,
        "locale": "en-US",
        "baseModel": {"self": base_ref(az)},
        "datasets": [{"self": upload_dataset(az)}],
    }
    resp = az.client.post("/models", json=body)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Location"] == resp.json()["self"]
    return wait_for_status(az.client, resp.json()["self"])


def short_audio(az: AzureServer, endpoint_id: str, fmt: str = "simple") -> dict[str, Any]:
    resp = httpx.post(
        f"{az.server.url}/speech/recognition/conversation/cognitiveservices/v1",
        params={"cid": endpoint_id, "language": "en-US", "format": fmt},
        headers={"Ocp-Apim-Subscription-Key": az.server.apikey, "Content-Type": "audio/wav"},
        content=CLIP.read_bytes(),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def watson_recognize(az: AzureServer, **params: str) -> httpx.Response:
    return httpx.post(
        f"{az.server.url}/v1/recognize",
        params=params,
        auth=("apikey", az.server.apikey),
        headers={"Content-Type": "audio/wav"},
        content=CLIP.read_bytes(),
        timeout=30,
    )


def transcript(result: dict[str, Any]) -> str:
    return " ".join(r["alternatives"][0]["transcript"] for r in result["results"])


def test_base_models_page_with_their_deprecation_dates(azure_server: AzureServer) -> None:
    az = azure_server
    first = az.client.get("/models/base", params={"top": 1}).json()
    assert len(first["values"]) == 1 and first["@nextLink"]
    second = az.client.get(first["@nextLink"]).json()
    assert len(second["values"]) == 1 and second["@nextLink"] is None
    model = first["values"][0]
    assert {"self", "links", "properties", "lastActionDateTime", "status", "createdDateTime", "locale"} <= set(model)
    assert model["status"] == "Succeeded" and model["locale"] == "en-US"
    dates = model["properties"]["deprecationDates"]
    adaptation, transcription = parse(dates["adaptationDateTime"]), parse(dates["transcriptionDateTime"])
    created = parse(model["createdDateTime"])
    # the quarter rule: the first Jan/Apr/Jul/Oct 15 on or after creation, plus one and two years
    assert adaptation.day == 15 and adaptation.month in (1, 4, 7, 10)
    assert timedelta(days=365) <= adaptation - created <= timedelta(days=366 + 92)
    assert transcription.replace(year=transcription.year - 1) == adaptation
    assert az.client.get(model["self"]).json() == model
    assert az.client.get("/models/locales").json() == ["en-US"]


def test_custom_model_from_a_dataset_and_its_dates_in_both_apis(azure_server: AzureServer) -> None:
    az = azure_server
    model = trained_model(az)
    assert model["status"] == "Succeeded", model
    assert model["baseModel"]["self"] == base_ref(az)
    assert len(model["datasets"]) == 1 and "/datasets/" in model["datasets"][0]["self"]
    date = model["properties"]["deprecationDates"]["transcriptionDateTime"]
    assert "adaptationDateTime" not in model["properties"]["deprecationDates"]
    cid = model["self"].rsplit("/", 1)[1]
    watson = httpx.get(f"{az.server.url}/v1/customizations/{cid}", auth=("apikey", az.server.apikey)).json()
    assert watson["deprecation_dates"] == {"transcription_date_time": date}
    base = httpx.get(f"{az.server.url}/v1/models/{PG}", auth=("apikey", az.server.apikey)).json()
    assert set(base["deprecation_dates"]) == {"adaptation_date_time", "transcription_date_time"}
    listed = az.client.get("/models").json()
    assert [m["self"] for m in listed["values"]] == [model["self"]] and listed["@nextLink"] is None


def test_endpoint_switches_model_and_recognizes_on_both_apis(azure_server: AzureServer) -> None:
    az = azure_server
    model = trained_model(az)
    resp = az.client.post(
        "/endpoints", json={"displayName": "calls", "locale": "en-US", "model": {"self": model["self"]}}
    )
    assert resp.status_code == 201, resp.text
    endpoint = resp.json()
    eid = endpoint["self"].rsplit("/", 1)[1]
    assert endpoint["model"]["self"] == model["self"] and endpoint["status"] == "Succeeded"
    assert endpoint["links"]["restConversation"].endswith(
        f"/speech/recognition/conversation/cognitiveservices/v1?cid={eid}"
    )

    assert "zzquux" in short_audio(az, eid)["DisplayText"]
    detailed = short_audio(az, eid, "detailed")
    assert detailed["RecognitionStatus"] == "Success" and "zzquux" in detailed["NBest"][0]["Lexical"]
    assert "zzquux" in transcript(watson_recognize(az, endpoint_id=eid).json())
    resp = watson_recognize(az, endpoint_id=eid, model=PG)
    assert resp.status_code == 400 and "endpoint_id cannot be combined with model" in resp.json()["error"]

    resp = az.client.patch(
        f"/endpoints/{eid}",
        content=b'{"model": {"self": "%s"}}' % base_ref(az).encode(),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"]["self"] == base_ref(az)
    assert "zzquux" not in short_audio(az, eid)["DisplayText"]
    assert [e["self"] for e in az.client.get("/endpoints").json()["values"]] == [endpoint["self"]]

    assert az.client.delete(f"/endpoints/{eid}").status_code == 204
    azure_error(az.client.get(f"/endpoints/{eid}"), 404, "NotFound")


def test_lifecycle_as_the_clock_moves(azure_server: AzureServer) -> None:
    az = azure_server
    model = trained_model(az)
    cid = model["self"].rsplit("/", 1)[1]
    expires = parse(model["properties"]["deprecationDates"]["transcriptionDateTime"])
    base = az.client.get(base_ref(az)).json()
    adaptation = parse(base["properties"]["deprecationDates"]["adaptationDateTime"])
    assert adaptation < expires < parse(base["properties"]["deprecationDates"]["transcriptionDateTime"])
    eid = (
        az.client.post("/endpoints", json={"displayName": "calls", "locale": "en-US", "model": {"self": model["self"]}})
        .json()["self"]
        .rsplit("/", 1)[1]
    )

    # before any date: everything works, nothing to warn about
    result = watson_recognize(az, model=PG, language_customization_id=cid).json()
    assert "zzquux" in transcript(result) and "warnings" not in result

    # after the base model's adaptation date: no training, recognition as before
    az.clock.current = adaptation + timedelta(hours=1)
    resp = httpx.post(f"{az.server.url}/v1/customizations/{cid}/train", auth=("apikey", az.server.apikey))
    assert (
        resp.status_code == 400 and base["properties"]["deprecationDates"]["adaptationDateTime"] in resp.json()["error"]
    )
    body = {"displayName": "late", "locale": "en-US", "datasets": [{"self": upload_dataset(az)}]}
    azure_error(az.client.post("/models", json=body), 400, "InvalidRequest", "ModelDeprecated")
    assert "zzquux" in transcript(watson_recognize(az, model=PG, language_customization_id=cid).json())

    # within 30 days of the custom model's transcription date: a warning naming the date
    az.clock.current = expires - timedelta(days=10)
    result = watson_recognize(az, model=PG, language_customization_id=cid).json()
    assert any(model["properties"]["deprecationDates"]["transcriptionDateTime"] in w for w in result["warnings"])

    # after it: direct recognition refused, naming the date and the model to use; the endpoint falls back
    az.clock.current = expires + timedelta(days=1)
    resp = watson_recognize(az, model=PG, language_customization_id=cid)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert model["properties"]["deprecationDates"]["transcriptionDateTime"] in error and PG in error
    fallback = short_audio(az, eid)
    assert "zzquux" not in fallback["DisplayText"] and "instead" in fallback["Warnings"][0]
    result = watson_recognize(az, endpoint_id=eid).json()
    assert "zzquux" not in transcript(result) and any("expired" in w for w in result["warnings"])
    body = {"displayName": "again", "locale": "en-US", "model": {"self": model["self"]}}
    azure_error(az.client.post("/endpoints", json=body), 400, "InvalidRequest", "ModelDeprecated")


def test_azure_errors_have_azure_bodies(azure_server: AzureServer) -> None:
    az = azure_server
    resp = httpx.get(f"{az.server.url}/speechtotext/v3.2/models/base")
    azure_error(resp, 401, "Unauthorized")
    azure_error(az.client.get("/models/base/nope"), 404, "NotFound")
    azure_error(az.client.get("/models/nope"), 404, "NotFound")
    azure_error(az.client.post("/endpoints", json={"displayName": "x"}), 400, "InvalidRequest")
    body = {"displayName": "x", "locale": "en-US", "model": {"self": "https://elsewhere/nothing"}}
    azure_error(az.client.post("/endpoints", json=body), 400, "InvalidRequest")
    body = {"displayName": "x", "locale": "de-DE", "model": {"self": base_ref(az)}}
    azure_error(az.client.post("/endpoints", json=body), 400, "InvalidRequest")
    body = {"displayName": "x", "locale": "en-US", "contentUrl": "file:///etc/passwd", "kind": "Language"}
    azure_error(az.client.post("/datasets", json=body), 400, "InvalidRequest")
    v31 = httpx.get(
        f"{az.server.url}/speechtotext/v3.1/models/base", headers={"Ocp-Apim-Subscription-Key": az.server.apikey}
    )
    assert v31.status_code == 200 and all("/speechtotext/v3.1/" in m["self"] for m in v31.json()["values"])


def test_endpoint_id_works_on_the_websocket_and_in_async_jobs(azure_server: AzureServer) -> None:
    az = azure_server
    model = trained_model(az)
    body = {"displayName": "calls", "locale": "en-US", "model": {"self": model["self"]}}
    eid = az.client.post("/endpoints", json=body).json()["self"].rsplit("/", 1)[1]

    with raw(az.server, f"?endpoint_id={eid}") as ws:
        ws.send(json.dumps({"action": "start", "content-type": "audio/wav"}))
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(CLIP.read_bytes())
        ws.send(json.dumps({"action": "stop"}))
        assert "zzquux" in transcript(json.loads(ws.recv()))

    stt = sdk(az.server)  # the SDK's create_job has no endpoint_id: Parlance's parameter goes in the query
    job = httpx.post(
        f"{az.server.url}/v1/recognitions",
        params={"endpoint_id": eid},
        auth=("apikey", az.server.apikey),
        headers={"Content-Type": "audio/wav"},
        content=CLIP.read_bytes(),
    ).json()
    deadline = time.monotonic() + 30
    while (status := stt.check_job(job["id"]).get_result())["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["status"] == "completed", status
    assert "zzquux" in transcript(status["results"][0])
