"""`engine_mode=processes` on the real engines: HTTP and WebSocket recognition run in engine processes,
and a full pool answers 503 with Watson's body and Retry-After."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.test_recognize_stream_api import stream
from tests.conftest import LIBRIVOX, LiveServer, free_port, wait_until_up
from tests.e2e.test_recognition_e2e import NG, PG, client

pytestmark = pytest.mark.slow
WORKERS = 2


@pytest.fixture(scope="module")
def process_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, subprocess.Popen[bytes]]]:
    data_dir = tmp_path_factory.mktemp("processes")
    env = {
        **os.environ,
        "PARLANCE_DATA_DIR": str(data_dir),
        "PARLANCE_ENGINE_MODE": "processes",
        "PARLANCE_ENGINE_WORKERS": str(WORKERS),
        "PARLANCE_ENGINE_QUEUE": "0",
        "HF_HUB_OFFLINE": "1",
    }
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "keys", "create"], env=env, check=True, capture_output=True, text=True
    )
    key = json.loads(out.stdout)
    port = free_port()
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "parlance", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, 120, proc)
        yield LiveServer(url, None, key["apikey"], key["instance_id"], data_dir), proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("model", [PG, NG])
def test_http_and_websocket_recognition_run_in_engine_processes(process_server, model: str) -> None:  # type: ignore[no-untyped-def]
    server, proc = process_server
    audio = (LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav").read_bytes()
    expected = client(server).recognize(audio, content_type="audio/wav", model=model).get_result()
    assert len(expected["results"][0]["alternatives"][0]["transcript"].split()) > 3  # real speech recognized
    recorder = stream(server, audio, model=model)
    assert not recorder.errors and recorder.data[-1] == expected
    assert len(children(proc.pid)) >= WORKERS  # spawned engine processes (plus multiprocessing's tracker)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert f'parlance_engine_workers{{mode="processes"}} {float(WORKERS)}' in metrics


def test_a_full_pool_answers_503_with_retry_after(process_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = process_server
    audio = (LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav").read_bytes()  # 7 s of speech

    def post(_: int) -> httpx.Response:
        return httpx.post(
            f"{server.url}/v1/recognize",
            params={"model": PG},
            content=audio,
            headers={"Content-Type": "audio/wav"},
            auth=("apikey", server.apikey),
            timeout=300,
        )

    with ThreadPoolExecutor(WORKERS * 3) as pool:
        responses = list(pool.map(post, range(WORKERS * 3)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= WORKERS and 503 in codes, codes
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["Retry-After"].isdigit()
    assert set(busy.json()) == {"error", "code", "code_description"} and busy.json()["code"] == 503


def test_the_server_log_has_no_engine_process_failure(process_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = process_server
    assert server.data_dir is not None
    assert "engine process died" not in Path(server.data_dir / "server.log").read_text(errors="replace")


def test_engine_processes_do_not_outlive_a_killed_server(tmp_path: Path) -> None:
    env = {**os.environ, "PARLANCE_DATA_DIR": str(tmp_path), "PARLANCE_ENGINE_MODE": "processes", "HF_HUB_OFFLINE": "1"}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "parlance", "serve", "--no-auth", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, 120, proc)
        audio = (LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav").read_bytes()
        r = httpx.post(f"{url}/v1/recognize", content=audio, headers={"Content-Type": "audio/wav"}, timeout=300)
        assert r.status_code == 200
        engines = children(proc.pid)
        assert engines
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in engines):
        time.sleep(0.2)
    alive = [pid for pid in engines if Path(f"/proc/{pid}").exists()]
    for pid in alive:  # don't leave them behind when the test fails
        os.kill(pid, 9)
    assert not alive, f"engine processes {alive} outlived their server"
