"""Loaded models and the bounded thread pool every engine call runs on.

Engine calls block (C++ decoders), so they run off the event loop on `settings.engine_workers`
threads; at most `engine_queue` more may wait. Beyond that a request is refused at once with
503 instead of hanging (admission control, as in sherpa-onnx's server).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from parlance.engines.base import Engine, LoadedModel, ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.errors import EngineBusy
from parlance.settings import Settings

T = TypeVar("T")


class EnginePool:
    def __init__(self, settings: Settings, registry: EngineRegistry) -> None:
        self.registry = registry
        self._executor = ThreadPoolExecutor(settings.engine_workers, thread_name_prefix="engine")
        self._slots = threading.BoundedSemaphore(settings.engine_workers + settings.engine_queue)
        self._loaded: dict[str, LoadedModel] = {}
        self._load_lock = threading.Lock()

    def engine(self, version: ModelVersion) -> Engine:
        return self.registry.get(version.engine)

    def model(self, version: ModelVersion) -> LoadedModel:
        """Load a version once; later calls reuse it."""
        with self._load_lock:
            if version.version not in self._loaded:
                self._loaded[version.version] = self.engine(version).load(version)
            return self._loaded[version.version]

    def submit(self, fn: Callable[[], T], *, wait: bool) -> Future[T]:
        """Run blocking engine work on the pool. With every worker and queue slot taken, `wait=False`
        (requests) is refused at once with 503 and `wait=True` (background jobs) blocks for a slot.
        The slot is held until the work ends, not until the caller stops waiting for it, so a client
        that hangs up cannot leave more work running than the limit."""
        if not self._slots.acquire(blocking=wait):
            raise EngineBusy("The service is busy; too many recognition requests are in progress. Retry later.")

        def work() -> T:
            try:
                return fn()
            finally:  # before the result is set: whoever saw the result sees the slot free
                self._slots.release()

        try:
            future = self._executor.submit(work)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._release_if_cancelled)
        return future

    def _release_if_cancelled(self, future: Future[T]) -> None:
        if future.cancelled():  # cancelled before it started: `work` never ran to release the slot
            self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
