"""The Alembic migrations build exactly the schema the ORM describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Base


def test_migrations_match_the_orm(tmp_path: Path) -> None:
    db = Database(Settings(data_dir=tmp_path))
    db.migrate()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
