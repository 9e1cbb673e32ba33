"""Where the optional services (PostgreSQL, Redis) are for the tests, and fresh PostgreSQL schemas.

`PARLANCE_TEST_DATABASE_URL` (e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/test`) runs the suite on
PostgreSQL: every test gets a schema of its own, dropped afterwards. `PARLANCE_TEST_BROKER_URL` (e.g.
`redis://127.0.0.1:6379/0`) enables the Celery tests. Unset, those tests skip with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

TEST_DATABASE_URL = os.environ.get("PARLANCE_TEST_DATABASE_URL")
TEST_BROKER_URL = os.environ.get("PARLANCE_TEST_BROKER_URL")
NO_POSTGRES = "PostgreSQL tests need PARLANCE_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
NO_BROKER = "Celery tests need PARLANCE_TEST_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"


def _plain(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (psycopg connects with it directly)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A new, empty schema; yields a SQLAlchemy URL whose connections use it (search_path), then drops it.
    Connections are tagged with the schema as application_name so the ones a test left open can be ended."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    sep = "&" if "?" in base_url else "?"
    url = f"{base_url}{sep}options={quote(f'-csearch_path={name}')}&application_name={name}"
    with psycopg.connect(_plain(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(_plain(base_url), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,))
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def sqlite_only(reason: str):  # type: ignore[no-untyped-def]
    """For a test whose premise only SQLite allows (it reads the database file, or stores what PostgreSQL's
    stricter types refuse): skipped when the suite runs on PostgreSQL."""
    import pytest

    return pytest.mark.skipif(bool(TEST_DATABASE_URL), reason=f"SQLite only: {reason}")
