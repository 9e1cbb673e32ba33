"""Liveness, readiness and Prometheus metrics (`/healthz`, `/readyz`, `/metrics`).

Readiness checks what a replica needs to serve: the database answers, the job broker (when configured)
answers, and every base model's newest version has its engine and its files. Metrics use a registry per
application (not prometheus-client's global one) so several apps can live in one process (tests).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from parlance.services.container import Services
from parlance.store.orm import Job

JOB_STATES = ("queued", "running", "succeeded", "failed")


def readiness(svc: Services) -> dict[str, str]:
    """Each dependency -> "ok" or what is wrong with it."""
    checks: dict[str, str] = {}
    checks["database"] = _check(svc.db.ping)
    ping = getattr(svc.jobs, "ping", None)
    checks["broker"] = _check(ping) if ping is not None else "ok (in-process jobs)"
    checks["models"] = _check(lambda: _models_present(svc))
    return checks


def _check(probe: Callable[[], None]) -> str:
    try:
        probe()
    except Exception as exc:  # any failure means "not ready"; its text tells the operator why
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


def _models_present(svc: Services) -> None:
    for base in svc.catalog.base_models():
        version = svc.catalog.newest(base)
        svc.pool.engine(version)  # the engine is installed
        missing = [rel for rel in version.files if not (version.path / rel).exists()]
        if missing:
            raise FileNotFoundError(f"{version.version}: {', '.join(missing[:3])} missing")


class StateCollector(Collector):
    """Read at each scrape: engine pool occupancy and jobs by state (from the database, so every replica
    reports the whole deployment's jobs)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.svc.pool.stats()
        mode = self.svc.pool.mode
        yield _gauge("parlance_engine_workers", "Engine workers (threads or processes).", stats["workers"], mode)
        yield _gauge("parlance_engine_busy", "Engine workers decoding now.", stats["running"], mode)
        yield _gauge(
            "parlance_engine_utilization", "Busy engine workers / workers.", stats["running"] / stats["workers"], mode
        )
        waiting = max(0, stats["in_flight"] - stats["running"])
        yield _gauge("parlance_engine_queue_depth", "Engine calls waiting for a worker.", waiting, mode)
        jobs = GaugeMetricFamily("parlance_jobs", "Background jobs by state.", labels=["state"])
        with self.svc.db.session() as s:
            counts = {status: n for status, n in s.execute(select(Job.status, func.count()).group_by(Job.status))}
        for state in JOB_STATES:
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs


def _gauge(name: str, doc: str, value: float, mode: str) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["mode"])
    g.add_metric([mode], value)
    return g


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "parlance_http_requests", "HTTP requests.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "parlance_http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self._state: StateCollector | None = None

    def watch(self, svc: Services) -> None:
        if self._state is None:
            self._state = StateCollector(svc)
            self.registry.register(self._state)

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route: Any = request.scope.get("route")
            path = getattr(route, "path", "unmatched")  # the route template keeps label values few
            self.requests.labels(request.method, path, str(status)).inc()
            self.latency.labels(request.method, path).observe(time.perf_counter() - start)
