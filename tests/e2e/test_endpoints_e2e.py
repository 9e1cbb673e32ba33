"""Endpoints on the real engines: switching an endpoint's model while 8 clients recognize through it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.test_upgrade_e2e import sdk, trained_model
from tests.testdata import synthesize

pytestmark = pytest.mark.slow
PG = "en-US_BroadbandModel"


def test_switching_an_endpoints_model_under_load_fails_no_request(real_server: LiveServer, tmp_path: Path) -> None:
    stt = sdk(real_server.url, real_server.apikey)
    cid = trained_model(stt, PG, "endpoint-switch")
    audio = synthesize("rms", tmp_path / "clip.wav", "the e bit dah margin grew while the bitcoin price fell")
    clip = audio.read_bytes()
    azure = httpx.Client(
        base_url=f"{real_server.url}/speechtotext/v3.2",
        headers={"Ocp-Apim-Subscription-Key": real_server.apikey},
        timeout=60,
    )
    base_url = next(m["self"] for m in azure.get("/models/base").json()["values"] if m["displayName"].startswith(PG))
    custom_url = f"{real_server.url}/speechtotext/v3.2/models/{cid}"
    created = azure.post("/endpoints", json={"displayName": "switch", "locale": "en-US", "model": {"self": custom_url}})
    assert created.status_code == 201, created.text
    eid = created.json()["self"].rsplit("/", 1)[1]

    def recognize() -> str:
        resp = httpx.post(
            f"{real_server.url}/v1/recognize",
            params={"endpoint_id": eid},
            auth=("apikey", real_server.apikey),
            headers={"Content-Type": "audio/wav"},
            content=clip,
            timeout=120,
        )
        assert resp.status_code == 200, resp.text
        return " ".join(r["alternatives"][0]["transcript"].strip() for r in resp.json()["results"])

    with_custom = recognize()
    azure.patch(f"/endpoints/{eid}", json={"model": {"self": base_url}}).raise_for_status()
    with_base = recognize()
    assert with_custom != with_base  # the two models hear the clip differently, so each answer tells its model

    stop = threading.Event()
    switches = []

    def switch() -> None:
        targets = [custom_url, base_url]
        while not stop.is_set():
            target = targets[len(switches) % 2]
            azure.patch(f"/endpoints/{eid}", json={"model": {"self": target}}).raise_for_status()
            switches.append(target)
            time.sleep(0.1)

    switcher = threading.Thread(target=switch)
    switcher.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: recognize(), range(32)))
    finally:
        stop.set()
        switcher.join()
    assert len(switches) >= 5
    assert set(answers) <= {with_custom, with_base}, set(answers)
    assert set(answers) == {with_custom, with_base}  # both models served during the run
