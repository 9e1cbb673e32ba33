"""JSON request bodies parsed with a nesting limit.

`json.loads` recurses once per nesting level, so a body of 100000 `[` raises `RecursionError` (a 500)
instead of a parse error. pydantic-core's parser (already a dependency through pydantic) refuses deep
nesting itself, with a ValueError; the stricter `max_depth` is then checked on the parsed value without
recursion.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

from parlance.errors import BadRequest

MAX_DEPTH = 64


def loads_limited(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text; BadRequest if it is not valid JSON or nests arrays/objects deeper than `max_depth`."""
    try:
        value = pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:  # also raised for nesting beyond pydantic-core's own limit
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise BadRequest(f"The JSON nests arrays and objects deeper than {max_depth} levels")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects (a scalar is 0), walked with an explicit stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest
