"""The durable job runner: progress, failures, and what a restart does to running jobs."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from parlance.jobs.runner import ABANDONED, MAX_ATTEMPTS, JobKind, JobRunner
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Job, utcnow


def database(tmp_path: Path) -> Database:
    db = Database(Settings(data_dir=tmp_path))
    db.migrate()
    return db


def job(db: Database, job_id: str) -> Job:
    with db.session() as s:
        row = s.get(Job, job_id)
        assert row is not None
        s.expunge(row)
        return row


def test_jobs_run_report_progress_and_fail_cleanly(tmp_path: Path) -> None:
    db = database(tmp_path)
    runner = JobRunner(db)
    failures: list[str] = []

    def work(j: Job, progress) -> None:  # type: ignore[no-untyped-def]
        progress(40)
        if j.payload.get("fail"):
            raise ValueError("boom")

    runner.register("work", JobKind(work, lambda j, reason: failures.append(reason)))
    runner.start()
    try:
        ok = runner.enqueue("work", "t1")
        bad = runner.enqueue("work", "t2", {"fail": True})
        assert runner.wait_idle(10)
    finally:
        runner.stop()
    assert job(db, ok).status == "succeeded"
    assert job(db, bad).status == "failed" and job(db, bad).error == "ValueError: boom"
    assert failures == ["ValueError: boom"]


def test_restart_requeues_then_gives_up(tmp_path: Path) -> None:
    db = database(tmp_path)
    abandoned: list[str] = []
    ran = threading.Event()
    silent = utcnow() - timedelta(minutes=5)  # their process died: no heartbeat since (PostgreSQL goes by that)
    with db.session() as s:
        s.add(Job(id="resume", kind="work", target_id="a", status="running", attempts=1, updated=silent))
        s.add(Job(id="give-up", kind="work", target_id="b", status="running", attempts=MAX_ATTEMPTS, updated=silent))
    runner = JobRunner(db)
    runner.register("work", JobKind(lambda j, p: ran.set(), lambda j, reason: abandoned.append(j.id)))
    runner.start()  # as after a crash: recover() runs first
    try:
        assert ran.wait(10) and runner.wait_idle(10)
    finally:
        runner.stop()
    assert job(db, "resume").status == "succeeded"
    assert job(db, "give-up").status == "failed" and job(db, "give-up").error == ABANDONED
    assert abandoned == ["give-up"]
