"""Loaded models and the bounded thread pool every engine call runs on.

Engine calls block (C++ decoders), so they run off the event loop on `settings.engine_workers`
threads; at most `engine_queue` more may wait. Beyond that a request is refused at once with
503 instead of hanging (admission control, as in sherpa-onnx's server).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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

    async def run(self, fn: Callable[[], T]) -> T:
        """Run blocking engine work on the pool; 503 when every worker and queue slot is taken."""
        if not self._slots.acquire(blocking=False):
            raise EngineBusy("The service is busy; too many recognition requests are in progress. Retry later.")
        try:
            return await asyncio.wrap_future(self._executor.submit(fn))
        finally:
            self._slots.release()

    def call(self, fn: Callable[[], T]) -> T:
        """Blocking, for background jobs: wait for a worker rather than being refused."""
        with self._slots:
            return self._executor.submit(fn).result()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
