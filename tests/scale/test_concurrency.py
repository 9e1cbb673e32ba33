"""Check-and-set under concurrency: job claims and training claims, on whichever database the suite runs
(SQLite by default; PostgreSQL with PARLANCE_TEST_DATABASE_URL, where replicas really race)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from parlance.errors import Conflict
from parlance.jobs.runner import JobKind, JobRunner
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Job
from tests.conftest import fake_services
from tests.services_env import NO_POSTGRES, TEST_DATABASE_URL


@pytest.mark.skipif(not TEST_DATABASE_URL, reason=NO_POSTGRES + " (replicas share PostgreSQL, never a SQLite file)")
def test_competing_runners_run_each_job_exactly_once(tmp_path: Path) -> None:
    """Two runners (as two replicas) with four workers each share one jobs table; the second one starting
    must not take back the jobs the first is running."""
    db = Database(Settings(data_dir=tmp_path))
    db.migrate()
    ran: Counter[str] = Counter()
    lock = threading.Lock()

    def work(job: Job, _progress) -> None:  # type: ignore[no-untyped-def]
        with lock:
            ran[job.target_id] += 1

    runners = [JobRunner(Database(Settings(data_dir=tmp_path)), workers=4) for _ in range(2)]
    for runner in runners:
        runner.register("work", JobKind(work, lambda job, reason: None))
    ids = [runners[i % 2].enqueue("work", f"t{i}") for i in range(200)]
    for runner in runners:
        runner.start()
    try:
        assert runners[0].wait_idle(60)
    finally:
        for runner in runners:
            runner.stop()
            runner.db.close()
    assert ran == Counter({f"t{i}": 1 for i in range(200)})
    with db.session() as s:
        assert {s.get(Job, i).status for i in ids} == {"succeeded"}  # type: ignore[union-attr]
    db.close()


def test_concurrent_train_requests_exactly_one_wins(tmp_path: Path) -> None:
    svc = fake_services(tmp_path / "data")  # its job runner is not started: the claim is what is tested
    owner = svc.auth.create_key(instance_name="tests").instance_id
    cid = svc.customizations.create(owner, {"name": "m", "base_model_name": "en-US_BroadbandModel"})
    svc.words.add_one(owner, cid, "parlance", {"sounds_like": ["par lance"]})
    svc.words.finish_batch(cid)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def train() -> None:
        start.wait()
        try:
            svc.customizations.train(owner, cid, {})
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=train) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    with svc.db.session() as s:
        assert s.query(Job).filter(Job.kind == "train_language_model").count() == 1
    svc.close()
