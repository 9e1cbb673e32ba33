"""`/healthz`, `/readyz` and `/metrics` over HTTP on a live server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.conftest import LIBRIVOX, LiveServer, serving
from tests.fakes import FakeEngine, fake_version

CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format."""
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            return float(m.group(2))
    raise AssertionError(f"no sample {name} {labels}")


def test_liveness_and_readiness(fake_server: LiveServer) -> None:
    assert httpx.get(f"{fake_server.url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{fake_server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok (in-process jobs)", "models": "ok"},
    }


def test_metrics_count_requests_jobs_and_engine_workers(fake_server: LiveServer) -> None:
    auth = ("apikey", fake_server.apikey)
    url = fake_server.url
    for _ in range(3):
        r = httpx.post(
            f"{url}/v1/recognize", content=CLIP.read_bytes(), headers={"Content-Type": "audio/wav"}, auth=auth
        )
        assert r.status_code == 200
    job = httpx.post(
        f"{url}/v1/recognitions", content=CLIP.read_bytes(), headers={"Content-Type": "audio/wav"}, auth=auth
    )
    assert job.status_code == 201
    assert fake_server.services is not None and fake_server.services.jobs.wait_idle(30)
    text = httpx.get(f"{url}/metrics").text
    assert sample(text, "parlance_http_requests_total", method="POST", route="/v1/recognize", status="200") == 3
    assert sample(text, "parlance_http_request_duration_seconds_count", method="POST", route="/v1/recognize") == 3
    assert sample(text, "parlance_jobs", state="succeeded") == 1
    assert sample(text, "parlance_jobs", state="running") == 0
    assert sample(text, "parlance_engine_workers", mode="threads") == 2
    assert sample(text, "parlance_engine_queue_depth", mode="threads") == 0
    assert 0 <= sample(text, "parlance_engine_utilization", mode="threads") <= 1


def test_readiness_names_an_unreachable_broker(tmp_path: Path) -> None:
    pytest.importorskip("celery", reason="the `scale` extra (celery) is not installed")
    registry = EngineRegistry()
    registry.register(FakeEngine("fake-previous", "previous"))
    settings = Settings(data_dir=tmp_path, job_broker_url="redis://127.0.0.1:9/0")  # nothing listens on port 9
    services = Services.build(
        settings, registry=registry, builtins=[fake_version("en-US_BroadbandModel", "fake-previous")]
    )
    with serving(services) as url:
        r = httpx.get(f"{url}/readyz", timeout=30)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert "Error" in body["checks"]["broker"]


def test_values_the_database_cannot_hold_are_400_not_500(fake_server: LiveServer) -> None:
    """PostgreSQL refuses NUL characters in text (SQLite takes them): a query or body holding one was a 500."""
    auth = ("apikey", fake_server.apikey)
    r = httpx.get(f"{fake_server.url}/v1/customizations", params={"language": "en\x00US"}, auth=auth)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert set(r.json()) == {"error", "code", "code_description"}
    r = httpx.post(
        f"{fake_server.url}/v1/customizations",
        json={"name": "nul\x00name", "base_model_name": "en-US_BroadbandModel"},
        auth=auth,
    )
    assert r.status_code in (201, 400), r.text
