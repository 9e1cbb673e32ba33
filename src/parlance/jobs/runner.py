"""A durable in-process job runner backed by the `jobs` table.

Jobs survive a restart: at start-up, jobs left `running` by a dead process are queued again
(up to `MAX_ATTEMPTS` runs), otherwise failed with a reason, and the kind's `on_abandon` hook puts
the resource they worked on back into a truthful state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parlance.errors import ParlanceError
from parlance.store.db import Database
from parlance.store.orm import Job, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2
# One reason whether a restart (SQLite) or a lease that ran out (PostgreSQL, Celery workers) found the job.
ABANDONED = "The server running this job stopped while it ran, more than once; it was not resumed again."

Progress = Callable[[int], None]


@dataclass(frozen=True)
class JobKind:
    run: Callable[[Job, Progress], None]
    on_failure: Callable[[Job, str], None]  # record the error on the resource


class JobRunner:
    def __init__(self, db: Database, workers: int = 1, *, lease_seconds: float = 60.0) -> None:
        self.db = db
        self.workers = workers
        self.lease = float(lease_seconds)
        self.kinds: dict[str, JobKind] = {}
        self._wake = threading.Condition()
        self._stop = False
        self._threads: list[threading.Thread] = []

    def register(self, kind: str, job_kind: JobKind) -> None:
        self.kinds[kind] = job_kind

    def enqueue(self, kind: str, target_id: str, payload: dict[str, Any] | None = None) -> str:
        with self.db.session() as s:
            job = Job(kind=kind, target_id=target_id, payload=payload or {})
            s.add(job)
            s.flush()
            job_id = job.id
        self._dispatch(job_id)
        return job_id

    def recover(self) -> None:
        """Requeue or fail jobs a previous process left running."""
        given_up: list[Job] = []
        with self.db.session() as s:
            for job in s.scalars(select(Job).where(Job.status == "running")):
                if job.attempts < MAX_ATTEMPTS:
                    job.status = "queued"
                    log.info("requeued interrupted job %s (%s)", job.id, job.kind)
                else:
                    job.status, job.error = "failed", ABANDONED
                    given_up.append(job)
        for job in given_up:  # outside the transaction: hooks open their own
            if job.kind in self.kinds:
                self.kinds[job.kind].on_failure(job, ABANDONED)

    def start(self) -> None:
        """Start the job threads. On SQLite one process owns the database, so whatever is `running` at
        start-up was left by a dead process and is recovered at once. On PostgreSQL other replicas may be
        running those jobs: only jobs whose lease ran out are taken back, by the periodic sweep."""
        if not self.db.is_postgres:
            self.recover()
        else:
            self.sweep()  # at once, as recover() would: jobs of a replica that died long ago
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"jobs-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self._start_sweeper()

    def _dispatch(self, job_id: str) -> None:
        """Make a queued job's existence known to whoever runs jobs (here: wake a thread)."""
        with self._wake:
            self._wake.notify()

    # -- leases: a running job's runner proves it is alive; a silent one's job is taken back -----------
    @contextmanager
    def _lease(self, job_id: str) -> Iterator[None]:
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.lease / 3):
                with self.db.session() as s:
                    s.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(updated=utcnow()))

        t = threading.Thread(target=beat, name=f"lease-{job_id[:8]}", daemon=True)
        t.start()
        try:
            yield
        finally:
            done.set()
            t.join(timeout=5)

    def _start_sweeper(self) -> None:
        t = threading.Thread(target=self._sweep_loop, name="jobs-sweeper", daemon=True)
        t.start()
        self._threads.append(t)

    def _sweep_loop(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("job sweep failed")
            with self._wake:
                if not self._stop:
                    self._wake.wait(timeout=self.lease / 2)
                if self._stop:
                    return

    def sweep(self) -> None:
        """Requeue (or fail) running jobs whose lease ran out; dispatch queued jobs nobody took for a lease."""
        cutoff = utcnow() - timedelta(seconds=self.lease)
        requeued: list[str] = []
        given_up: list[Job] = []
        with self.db.session() as s:
            stale = select(Job).where(Job.updated < cutoff, Job.status.in_(["running", "queued"]))
            for job in s.scalars(stale.with_for_update(skip_locked=True)):
                if job.status == "queued" or job.attempts < MAX_ATTEMPTS:
                    if job.status == "running":
                        log.warning("job %s (%s) lost its worker; queued again", job.id, job.kind)
                    job.status, job.updated = "queued", utcnow()
                    requeued.append(job.id)
                else:
                    job.status, job.error, job.updated = "failed", ABANDONED, utcnow()
                    given_up.append(job)
            s.flush()  # before expunging: an expunged object's changes would never be written
            for job in given_up:
                s.expunge(job)
        for job_id in requeued:
            self._dispatch(job_id)
        for job in given_up:  # outside the transaction: hooks open their own
            if job.kind in self.kinds:
                self.kinds[job.kind].on_failure(job, ABANDONED)

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def _claim(self) -> Job | None:
        """Take the oldest queued job. Several runners (threads, replicas) may race: on PostgreSQL the row
        lock with SKIP LOCKED makes each pick a different job; the conditional UPDATE is the check-and-set
        that stays correct where FOR UPDATE does not exist (SQLite serialises writers instead)."""
        with self.db.session() as s:
            queued = select(Job).where(Job.status == "queued").order_by(Job.created).limit(5)
            for job in s.scalars(queued.with_for_update(skip_locked=True)):
                if self._take(s, job.id, "queued"):
                    s.flush()
                    s.refresh(job)
                    return job
        return None

    @staticmethod
    def _take(s: Session, job_id: str, expected: str) -> bool:
        """Check-and-set: move one job from `expected` to running; False if someone else changed it first."""
        claimed = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == expected)
            .values(status="running", attempts=Job.attempts + 1, updated=utcnow())
        ).rowcount
        return bool(claimed)

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stop:
                    return
            job = self._claim()
            if job is None:
                with self._wake:
                    if not self._stop:
                        self._wake.wait(timeout=1.0)
                continue
            with self._lease(job.id):
                self._execute(job)

    def _execute(self, job: Job) -> None:
        kind = self.kinds.get(job.kind)
        if kind is None:
            self._finish(job.id, "failed", f"No handler for job kind {job.kind}")
            return
        try:
            kind.run(job, lambda pct: self._progress(job.id, pct))
        except Exception as exc:  # a job must never take the worker down
            message = exc.message if isinstance(exc, ParlanceError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ParlanceError):
                log.exception("job %s (%s) failed", job.id, job.kind)
            self._finish(job.id, "failed", message)
            try:
                kind.on_failure(job, message)
            except Exception:
                log.exception("on_failure hook of job %s failed", job.id)
            return
        self._finish(job.id, "succeeded", None)

    def _progress(self, job_id: str, pct: int) -> None:
        with self.db.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(progress=int(pct)))

    def _finish(self, job_id: str, status: str, error: str | None) -> None:
        with self.db.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(status=status, error=error, progress=100))

    @staticmethod
    def succeed_in(s: Session, job_id: str) -> None:
        """Mark a job done inside the caller's transaction, so a kind commits its result and the job's end
        together: a crash between two commits would run a finished job again after the restart."""
        s.execute(update(Job).where(Job.id == job_id).values(status="succeeded", error=None, progress=100))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Test/CLI helper: wait until no job is queued or running."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.session() as s:
                busy = s.scalar(select(Job.id).where(Job.status.in_(["queued", "running"])).limit(1))
            if busy is None:
                return True
            time.sleep(0.05)
        return False
