from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from parlance.api.app import create_app
from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.fakes import FakeEngine, fake_version
from tests.services_env import TEST_DATABASE_URL, postgres_schema

os.environ.setdefault("HF_HUB_OFFLINE", "1")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session", autouse=True)
def _postgres_for_the_session() -> Iterator[None]:
    """With PARLANCE_TEST_DATABASE_URL, everything (session-wide servers included) runs on PostgreSQL."""
    if not TEST_DATABASE_URL:
        yield
        return
    with postgres_schema(TEST_DATABASE_URL) as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARLANCE_DATABASE_URL", url)
        yield


@pytest.fixture(autouse=True)
def _postgres_per_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh PostgreSQL schema per test, as each test has a fresh SQLite file by default."""
    if not TEST_DATABASE_URL:
        yield
        return
    with postgres_schema(TEST_DATABASE_URL) as url:
        monkeypatch.setenv("PARLANCE_DATABASE_URL", url)
        yield


class MovableClock:
    """A lifecycle clock the tests move (`Services.build(..., clock=...)`); at None it is real time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current or datetime.now(UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    services: Services | None
    apikey: str
    instance_id: str
    data_dir: Path | None = None


def fake_services(data_dir: Path) -> Services:
    registry = EngineRegistry()
    registry.register(FakeEngine("fake-previous", "previous"))
    registry.register(FakeEngine("fake-next", "next"))
    builtins = [
        fake_version("en-US_BroadbandModel", "fake-previous"),
        fake_version("en-US_Multimedia", "fake-next"),
    ]
    # the callback servers of the tests listen on loopback, which callbacks refuse unless allowed
    settings = Settings(data_dir=data_dir, callback_allowed_hosts=["127.0.0.1"])
    return Services.build(settings, registry=registry, builtins=builtins)


@pytest.fixture
def fake_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A real uvicorn server over HTTP, on the fake engine (API-shape tests only)."""
    services = fake_services(tmp_path / "data")
    key = services.auth.create_key(instance_name="tests")
    port = free_port()
    config = uvicorn.Config(create_app(services.settings, services), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    yield LiveServer(url, services, key.apikey, key.instance_id)
    server.should_exit = True
    thread.join(timeout=10)


def wait_until_up(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `/health` until it answers 200 (over https, a self-signed certificate is accepted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1, verify=False).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up")


def wait_status(stt: Any, cid: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
    """Poll a custom model through the SDK until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = stt.get_language_model(cid).get_result()
        if model["status"] in statuses:
            return dict(model)
        time.sleep(0.05)
    raise AssertionError(f"model stayed {model['status']}")


def start_real_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PARLANCE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "parlance", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`parlance serve` as a subprocess with the real engines."""
    data_dir = tmp_path_factory.mktemp("real-data")
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "keys", "create", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    import json

    key = json.loads(out.stdout)
    port = free_port()
    proc = start_real_server(data_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, 120, proc)
        yield LiveServer(url, None, key["apikey"], key["instance_id"], data_dir)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def serving(services: Services, app: FastAPI | None = None) -> Iterator[str]:
    """Serve `app` (default: the service's app) with uvicorn on a free port; yields the base URL."""
    port = free_port()
    app = app or create_app(services.settings, services)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
