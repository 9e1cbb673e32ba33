"""Decoding the pieces of one audio (its utterances, split at pauses) several at a time, in order.

A long file is many short pieces, each decoded on its own; one request decoding them one after another
uses one core. When the loaded model can run decodes in parallel (`engines.base.parallel_decodes`:
Whisper's CTranslate2 replicas), the pieces are handed to that many threads as the audio is split, and
their results come back in the order of the pieces, exactly as the one-by-one loop gives them. Each
piece is still decoded alone, so its result does not depend on its neighbours.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def decoded_in_order(
    pieces: Iterable[T], decode: Callable[[T], R], *, batch_size: int, workers: int
) -> Iterator[tuple[T, R]]:
    """`(piece, decode(piece))` for each piece, in order. Up to `workers` decodes run at once, and at most
    `batch_size` pieces are held (taken from `pieces` and not yet given back): the memory bound. With
    either at 1 this is the plain sequential loop on the caller's thread.

    The first failure (of a decode, or of `pieces` itself) is raised where the sequential loop would
    raise it at the latest; pieces not yet started are dropped, and the ones running are waited for, so
    nothing of the request runs after it has ended (nor when the caller stops early)."""
    if batch_size <= 1 or workers <= 1:
        for piece in pieces:
            yield piece, decode(piece)
        return
    held: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(min(workers, batch_size), thread_name_prefix="piece") as pool:
        try:
            for piece in pieces:
                held.append((piece, pool.submit(decode, piece)))
                if len(held) >= batch_size:
                    done, future = held.popleft()
                    yield done, future.result()
            while held:
                done, future = held.popleft()
                yield done, future.result()
        finally:
            for _, future in held:
                future.cancel()
