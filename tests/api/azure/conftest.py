"""A live fake-engine server whose lifecycle clock the tests move, and an Azure-style HTTP client."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from parlance.api.app import create_app
from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.conftest import LiveServer, MovableClock, free_port, wait_until_up
from tests.fakes import FakeEngine, fake_version

# Base-model versions "created" 200 days from now, so that, by the quarter rule, their adaptation date comes
# before the transcription date of a custom model created now, which comes before their own transcription date.
BASE_CREATED = datetime.now(UTC) + timedelta(days=200)


@dataclasses.dataclass
class AzureServer:
    server: LiveServer
    clock: MovableClock
    client: httpx.Client  # Azure's auth header, base URL `/speechtotext/v3.2`

    @property
    def services(self) -> Services:
        assert self.server.services is not None
        return self.server.services


@pytest.fixture
def azure_server(tmp_path: Path) -> Iterator[AzureServer]:
    registry = EngineRegistry()
    registry.register(FakeEngine("fake-previous", "previous"))
    registry.register(FakeEngine("fake-next", "next"))
    builtins = [
        dataclasses.replace(fake_version("en-US_BroadbandModel", "fake-previous"), created=BASE_CREATED),
        dataclasses.replace(fake_version("en-US_Multimedia", "fake-next"), created=BASE_CREATED),
    ]
    clock = MovableClock()
    settings = Settings(data_dir=tmp_path / "data", content_root=tmp_path / "content")
    services = Services.build(settings, registry=registry, builtins=builtins, clock=clock)
    key = services.auth.create_key(instance_name="azure-tests")
    port = free_port()
    config = uvicorn.Config(create_app(settings, services), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    headers = {"Ocp-Apim-Subscription-Key": key.apikey}
    with httpx.Client(base_url=f"{url}/speechtotext/v3.2", headers=headers, timeout=30) as client:
        yield AzureServer(LiveServer(url, services, key.apikey, key.instance_id), clock, client)
    server.should_exit = True
    thread.join(timeout=10)


def wait_for_status(
    client: httpx.Client, url: str, statuses: frozenset[str] = frozenset({"Succeeded", "Failed"}), timeout: float = 30
) -> dict[str, Any]:
    """Poll an Azure entity until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entity = client.get(url).json()
        if entity["status"] in statuses:
            return dict(entity)
        time.sleep(0.05)
    raise AssertionError(f"{url} stayed {entity['status']}")
