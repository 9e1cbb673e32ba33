"""Azure's paginated lists: `{"values": [...], "@nextLink": url | null}` with `skip` and `top`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query

T = TypeVar("T")
Skip = Annotated[int, Query(ge=0, le=2**31 - 1)]
Top = Annotated[int, Query(ge=1, le=100)]


def page(
    items: Sequence[T], total: int, skip: int, top: int, list_url: str, render: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """One page of an already sliced list; `@nextLink` points at the next slice while there is one."""
    following = skip + len(items)
    next_link = f"{list_url}?{urlencode({'skip': following, 'top': top})}" if following < total else None
    return {"values": [render(item) for item in items], "@nextLink": next_link}


def sliced(items: Sequence[T], skip: int, top: int) -> tuple[Sequence[T], int]:
    return items[skip : skip + top], len(items)
