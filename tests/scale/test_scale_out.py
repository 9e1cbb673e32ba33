"""The scaled-out deployment as an operator runs it: 2 API replicas (`parlance serve`) and 2 Celery workers
(`parlance worker`) sharing PostgreSQL, Redis and one data directory, driven through the ibm-watson SDK."""

from __future__ import annotations

import json
import os
import random
import signal
import string
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_watson import SpeechToTextV1

from tests.conftest import LIBRIVOX, free_port, wait_until_up
from tests.e2e.test_upgrade_e2e import sdk
from tests.services_env import NO_BROKER, NO_POSTGRES, TEST_BROKER_URL, TEST_DATABASE_URL
from tests.testdata import FINANCE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason=NO_POSTGRES),
    pytest.mark.skipif(not TEST_BROKER_URL, reason=NO_BROKER),
]
BASE = "en-US_BroadbandModel"
LEASE = 6  # seconds: a killed worker's job is picked up again this long after its last heartbeat


@dataclass
class Cluster:
    a: SpeechToTextV1
    b: SpeechToTextV1
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]
    database_url: str


def parlance(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "parlance", *args], env=env, stdout=out, stderr=out)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    env = {
        **os.environ,
        "PARLANCE_DATA_DIR": str(tmp_path / "shared"),  # the folder every replica and worker mounts
        "PARLANCE_JOB_BROKER_URL": str(TEST_BROKER_URL),
        "PARLANCE_JOB_LEASE_SECONDS": str(LEASE),
        "HF_HUB_OFFLINE": "1",
    }
    subprocess.run([sys.executable, "-m", "parlance", "db", "upgrade"], env=env, check=True)
    key = json.loads(
        subprocess.run(
            [sys.executable, "-m", "parlance", "keys", "create"], env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    procs: list[subprocess.Popen[bytes]] = []
    urls, logs = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            procs.append(parlance(["serve", "--port", str(port)], env, tmp_path / f"replica-{name}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        workers = []
        for i in range(2):
            logs.append(tmp_path / f"worker-{i}.log")
            workers.append(parlance(["worker", "--concurrency", "1"], env, logs[-1]))
        procs += workers
        for url, proc in zip(urls, procs, strict=False):
            wait_until_up(url, 120, proc)
        for log in logs:  # both workers consuming (a second worker on one host once exited at start on RabbitMQ)
            wait_for_line(log, "ready.", 120)
        assert all(w.poll() is None for w in workers), [log.read_text(errors="replace")[-2000:] for log in logs]
        yield Cluster(
            sdk(urls[0], key["apikey"]), sdk(urls[1], key["apikey"]), workers, logs, env["PARLANCE_DATABASE_URL"]
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{log.name} never said {text!r}: {log.read_text(errors='replace')[-2000:]}")


def wait_for(stt: SpeechToTextV1, cid: str, statuses: set[str], timeout: float = 180) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = stt.get_language_model(cid).get_result()
        if model["status"] in statuses:
            return dict(model)
        time.sleep(0.1)
    raise AssertionError(f"model stayed {model['status']}")


def invented_words(n: int) -> str:
    """Out-of-vocabulary words make PocketSphinx training long enough (pronunciations, a bigger LM) to kill
    a worker in the middle of it."""
    rng = random.Random(12)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(6, 11))) for _ in range(n)]
    return "\n".join(" ".join(rng.choices(words, k=12)) for _ in range(n // 2))


def worker_running(cluster: Cluster, job_id: str) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for i, log in enumerate(cluster.logs):
            if f"runs job {job_id}" in log.read_text(errors="replace"):
                return i
        time.sleep(0.05)
    raise AssertionError("no worker took the job")


def training_job(cluster: Cluster, cid: str) -> str:
    url = cluster.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM jobs WHERE target_id = %s AND kind = 'train_language_model' ORDER BY created DESC",
            (cid,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_two_replicas_two_workers_survive_a_killed_worker(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    cid = a.create_language_model("scaled", BASE).get_result()["customization_id"]
    with open(FINANCE / "corpus.txt", "rb") as f:
        a.add_corpus(cid, "finance", f)
    wait_for(b, cid, {"ready"})
    a.add_words(cid, json.loads((FINANCE / "words.json").read_text())["words"])
    wait_for(a, cid, {"ready"})

    # Two concurrent train requests, one on each replica: exactly one wins.
    outcomes: list[int] = []

    def train(stt: SpeechToTextV1) -> None:
        try:
            outcomes.append(stt.train_language_model(cid).get_status_code())
        except ApiException as exc:
            outcomes.append(exc.status_code)

    threads = [threading.Thread(target=train, args=(stt,)) for stt in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [200, 409]
    assert wait_for(a, cid, {"available", "failed"})["status"] == "available"

    # Recognize through A with the custom model; read the model through B.
    audio = (LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav").read_bytes()
    result = a.recognize(audio, content_type="audio/wav", model=BASE, language_customization_id=cid).get_result()
    assert result["results"] and result["results"][0]["alternatives"][0]["transcript"].strip()
    assert b.get_language_model(cid).get_result()["status"] == "available"

    # A worker killed with SIGKILL in the middle of a training: the other one finishes it.
    a.add_corpus(cid, "invented", invented_words(3000).encode(), allow_overwrite=True)
    wait_for(a, cid, {"ready"})
    a.train_language_model(cid)
    victim = worker_running(cluster, training_job(cluster, cid))
    time.sleep(0.5)
    assert b.get_language_model(cid).get_result()["status"] == "training", "training ended before the kill"
    cluster.workers[victim].send_signal(signal.SIGKILL)
    model = wait_for(b, cid, {"available", "failed"}, timeout=LEASE * 10 + 180)
    assert model["status"] == "available", model
    survivor = cluster.logs[1 - victim].read_text(errors="replace")
    assert f"runs job {training_job(cluster, cid)}" in survivor
    ready = httpx.get(f"{b.service_url}/readyz", timeout=30).json()
    assert ready["status"] == "ready" and ready["checks"]["broker"] == "ok", ready
