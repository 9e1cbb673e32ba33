"""Background jobs on Celery workers (scale-out); the embedded default is `JobRunner`'s threads.

The job row stays the source of truth and a Celery message only carries its id, so delivery may be
repeated or lost without harm:
- a task claims its job with the runner's check-and-set (queued -> running); a duplicate finds it taken
  and returns, so tasks are idempotent;
- late acks (`task_acks_late`, prefetch 1) leave a message unacknowledged until its job has ended;
- a running job carries a lease: its worker touches `jobs.updated` every `job_lease_seconds / 3`. Every
  worker sweeps for leases that ran out (a worker killed, a machine lost): such a job is queued again and
  dispatched to any worker, or after `MAX_ATTEMPTS` runs it fails with a reason and its kind's
  `on_failure` puts the resource back into a truthful state. A queued job whose message went missing
  (an API replica died between its commit and the send) is dispatched again by the same sweep.
So no job stays stuck, whatever the broker does with unacknowledged messages.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from parlance.jobs.runner import JobRunner
from parlance.store.db import Database
from parlance.store.orm import Job

log = logging.getLogger(__name__)
TASK = "parlance.run_job"
QUEUE = "parlance"


def celery_app(broker_url: str) -> Any:
    from celery import Celery  # the `scale` extra; only imported when a broker is configured

    app = Celery("parlance", broker=broker_url)
    app.conf.update(
        task_acks_late=True,  # a message is acknowledged once its job ended, not when it was received
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds no more messages than it runs
        task_ignore_result=True,  # results live in the database
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
    )
    return app


class CeleryJobs(JobRunner):
    """`JobRunner`'s interface and job rows; running happens in `parlance worker` processes."""

    def __init__(self, db: Database, broker_url: str, *, lease_seconds: float = 60.0, threads: int = 1) -> None:
        super().__init__(db, workers=threads, lease_seconds=lease_seconds)
        self.broker_url = broker_url
        self.app = celery_app(broker_url)
        self.app.task(name=TASK, acks_late=True)(self.run_job)

    # -- API side -------------------------------------------------------------------------
    def enqueue(self, kind: str, target_id: str, payload: dict[str, Any] | None = None) -> str:
        with self.db.session() as s:
            job = Job(kind=kind, target_id=target_id, payload=payload or {})
            s.add(job)
            s.flush()
            job_id = job.id
        self._dispatch(job_id)  # after the commit: a worker must find the row
        return job_id

    def _dispatch(self, job_id: str) -> None:
        try:
            self.app.send_task(TASK, args=[job_id], queue=QUEUE)
        except Exception:  # the row is durable: the next sweep dispatches it again
            log.exception("could not send job %s to the broker; it will be dispatched again", job_id)

    def start(self) -> None:
        """API replicas run no jobs (no recovery at start-up either: other replicas' workers may be running
        them). Workers call `start_worker_side`."""

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def ping(self) -> None:
        """Raise if the broker cannot be reached (readiness)."""
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)

    # -- worker side ----------------------------------------------------------------------
    def run_job(self, job_id: str) -> None:
        """The Celery task: claim the job, run it under a lease. A job already taken or ended is left alone."""
        with self.db.session() as s:
            taken = self._take(s, job_id, "queued")
        if not taken:
            log.info("job %s is not queued (already taken or ended); message dropped", job_id)
            return
        with self.db.session() as s:
            job = s.get(Job, job_id)
            assert job is not None
            s.expunge(job)
        log.info("worker %d runs job %s (%s)", os.getpid(), job_id, job.kind)
        with self._lease(job_id):
            self._execute(job)

    def start_worker_side(self) -> None:
        self._start_sweeper()

    def run_worker(self, concurrency: int, extra_args: list[str] | None = None) -> None:
        """Block in a Celery worker (threads pool: engines and the database engine are built once here)."""
        self.start_worker_side()
        # A node name of its own: Celery's default (celery@host) is shared by every worker on one host, and
        # RabbitMQ refuses a second consumer of that name's exclusive control queue (the worker then exits).
        node = f"--hostname=parlance-{os.getpid()}@%h"
        argv = [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={QUEUE}",
            node,
            "--loglevel=INFO",
        ]
        self.app.worker_main(argv=[*argv, "--without-gossip", "--without-mingle", *(extra_args or [])])
