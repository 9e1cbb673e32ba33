"""Giving freed heap memory back to the system (glibc's `malloc_trim`).

Decoding a phrase allocates and frees buffers of a few MB on several threads (CTranslate2's encoder output,
mel features, PocketSphinx lattices); glibc keeps freed memory in per-thread arenas, so a long stream's RSS
creeps up although nothing stays allocated. Streams trim once per phrase (a few milliseconds).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim() -> None:
    """Return free heap pages to the system; a no-op without glibc."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
