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
