"""Celery jobs' leases: what a worker's sweep does with jobs whose worker went silent (no broker needed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from parlance.jobs.runner import ABANDONED, MAX_ATTEMPTS, JobKind
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Job, utcnow

pytest.importorskip("celery", reason="the `scale` extra (celery) is not installed")
from parlance.jobs.celery_queue import CeleryJobs  # noqa: E402


def test_the_sweep_requeues_lost_jobs_then_gives_up(tmp_path: Path) -> None:
    db = Database(Settings(data_dir=tmp_path))
    db.migrate()
    jobs = CeleryJobs(db, "memory://", lease_seconds=5)
    dispatched: list[str] = []
    jobs._dispatch = dispatched.append  # type: ignore[method-assign]  # the broker is not what is tested here
    abandoned: list[tuple[str, str]] = []
    jobs.register("work", JobKind(lambda j, p: None, lambda j, reason: abandoned.append((j.id, reason))))
    old, fresh = utcnow() - timedelta(seconds=30), utcnow()
    with db.session() as s:
        s.add(Job(id="lost", kind="work", target_id="a", status="running", attempts=1, updated=old))
        s.add(Job(id="lost-twice", kind="work", target_id="b", status="running", attempts=MAX_ATTEMPTS, updated=old))
        s.add(Job(id="alive", kind="work", target_id="c", status="running", attempts=1, updated=fresh))
        s.add(Job(id="unsent", kind="work", target_id="d", status="queued", updated=old))
    jobs.sweep()
    with db.session() as s:
        status = {j.id: (j.status, j.error) for j in s.query(Job)}
    assert status == {
        "lost": ("queued", None),
        "lost-twice": ("failed", ABANDONED),
        "alive": ("running", None),
        "unsent": ("queued", None),
    }
    assert sorted(dispatched) == ["lost", "unsent"]
    assert abandoned == [("lost-twice", ABANDONED)]
    jobs.run_job("lost")  # the redelivered message runs it once...
    jobs.run_job("lost")  # ...and a duplicate finds it taken
    with db.session() as s:
        assert s.get(Job, "lost").status == "succeeded"  # type: ignore[union-attr]
    db.close()
