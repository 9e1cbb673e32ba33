"""Pools of idle PocketSphinx decoders: decoders are not thread-safe, so each configuration keeps its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class DecoderPool:
    """Idle decoders for one configuration; `acquire` reuses one or creates a new one."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def acquire(self) -> Iterator[Any]:
        decoder = self.take()
        try:
            yield decoder
        except BaseException:
            decoder = None  # a decoder that raised mid-utterance is not reused
            raise
        finally:
            if decoder is not None:
                self.give(decoder)

    def take(self) -> Any:
        """An idle decoder, or a new one; hand it back with `give` once its utterance has ended."""
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        return decoder if decoder is not None else self._factory()

    def give(self, decoder: Any) -> None:
        with self._lock:
            self._idle.append(decoder)
