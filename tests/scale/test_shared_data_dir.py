"""Replicas sharing one data directory agree on what it holds."""

from __future__ import annotations

import threading
from pathlib import Path

from parlance.services.auth import AuthService


def test_replicas_starting_together_share_one_token_secret(tmp_path: Path) -> None:
    """Each replica once wrote its own secret when none existed: tokens from one failed on the other."""
    for attempt in range(20):
        path = tmp_path / str(attempt) / "token-secret"
        start = threading.Barrier(8)
        seen: list[str] = []

        def load(path: Path = path, start: threading.Barrier = start, seen: list[str] = seen) -> None:
            start.wait()
            seen.append(AuthService._load_secret(path))

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(seen)) == 1, f"attempt {attempt}: {len(set(seen))} different secrets"


def test_concurrent_first_requests_without_auth_share_the_development_instance(tmp_path: Path) -> None:
    """`serve --no-auth` creates its instance on the first request; concurrent first requests (or replicas)
    raced to insert it and all but one answered 500."""
    from parlance.settings import Settings
    from parlance.store.db import Database

    for attempt in range(10):
        db = Database(Settings(data_dir=tmp_path / str(attempt)))
        db.migrate()
        auth = AuthService(Settings(data_dir=tmp_path / str(attempt)), db)
        start = threading.Barrier(6)
        failures: list[BaseException] = []

        def first_request(
            start: threading.Barrier = start, failures: list[BaseException] = failures, auth: AuthService = auth
        ) -> None:
            start.wait()
            try:
                auth.ensure_dev_instance()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=first_request) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        db.close()
        assert not failures, failures[0]
