"""JSON from clients, parsed with a nesting limit.

`json.loads` recurses once per nesting level, so `[` * 100000 raises `RecursionError` (not a
`ValueError`) deep inside the parser, and an integer of more than 4300 digits raises a plain
`ValueError`. Neither the standard library nor orjson (fixed at 1024 levels) takes a depth limit, so the
depth is measured first by a linear scan of the brackets outside strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from parlance.errors import BadRequest

DEFAULT_MAX_DEPTH = 64
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # "unrolled": linear, no backtracking
_BRACKET = re.compile(r"[\[\]{}]")


def loads_limited(data: str | bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse JSON text; `BadRequest` if it is not UTF-8, not JSON, or nested deeper than `max_depth`."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The JSON is not valid UTF-8") from None
    if _depth_exceeds(data, max_depth):
        raise BadRequest(f"The JSON is nested more than {max_depth} levels deep")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError, as is the digit limit
        raise BadRequest(f"The JSON is not valid: {exc}") from None


def _depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether brackets outside strings nest deeper than `max_depth` (on invalid JSON the count may be
    off, but the parser refuses such text anyway)."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > max_depth:
            return True
    return False
