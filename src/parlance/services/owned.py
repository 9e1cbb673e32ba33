"""Rows that belong to a service instance: fetched only by their owner, listed a page at a time."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parlance.errors import NotFound

T = TypeVar("T")


def get_owned(s: Session, model: type[T], owner: str, entity_id: str, what: str) -> T:
    """The row, or 404 (also for another instance's rows: their existence is not revealed)."""
    row = s.get(model, entity_id)
    if row is None or getattr(row, "owner") != owner:  # noqa: B009 - every owned table has `owner`
        raise NotFound(f"{what} {entity_id} does not exist")
    return row


def list_owned(s: Session, model: type[T], owner: str, skip: int, top: int, *where: Any) -> tuple[list[T], int]:
    """One page of the owner's rows, oldest first, detached from the session, and how many there are."""
    mine = select(model).where(getattr(model, "owner") == owner, *where)  # noqa: B009
    total = s.scalar(select(func.count()).select_from(mine.subquery())) or 0
    order = (getattr(model, "created"), getattr(model, "id"))  # noqa: B009
    rows = list(s.scalars(mine.order_by(*order).offset(skip).limit(top)))
    for row in rows:
        s.expunge(row)
    return rows, total
