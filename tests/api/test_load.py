"""Load: 30 concurrent clients against `parlance serve` (real engine) with one engine worker and a short
queue get only 200s and 503s, and every 503 says when to retry."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.test_recognize_api import CLIP
from tests.conftest import free_port, start_real_server, wait_until_up

CLIENTS = 30


@pytest.mark.slow
def test_concurrent_clients_get_200_or_503_with_retry_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "keys", "create", "--data-dir", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    apikey = json.loads(out.stdout)["apikey"]
    monkeypatch.setenv("PARLANCE_ENGINE_WORKERS", "1")
    monkeypatch.setenv("PARLANCE_ENGINE_QUEUE", "2")
    port = free_port()
    proc = start_real_server(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    audio = CLIP.read_bytes()

    def client(_: int) -> httpx.Response:
        return httpx.post(
            f"{url}/v1/recognize",
            params={"model": "en-US_BroadbandModel"},
            content=audio,
            headers={"Content-Type": "audio/wav"},
            auth=("apikey", apikey),
            timeout=120,
        )

    try:
        wait_until_up(url, 120, proc)
        with ThreadPoolExecutor(CLIENTS) as pool:
            responses = list(pool.map(client, range(CLIENTS)))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    codes = sorted(r.status_code for r in responses)
    assert set(codes) == {200, 503}, codes  # some served, the rest refused at once: none failed or hung
    for r in responses:
        assert r.headers.get("X-Global-Transaction-Id")
        if r.status_code == 503:
            assert r.json()["code"] == 503
            assert int(r.headers["Retry-After"]) >= 1
