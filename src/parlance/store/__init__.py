"""Persistence: SQLAlchemy ORM, Alembic migrations and the artifact directory."""
