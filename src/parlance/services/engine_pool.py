"""Loaded models and the bounded pool every engine call runs on.

Engine calls block (C++ decoders), so they run off the event loop on `settings.engine_workers` workers;
at most `engine_queue` more may wait. Beyond that a request is refused at once with 503 instead of hanging
(admission control, as in sherpa-onnx's server).

The workers are threads by default (`engine_mode=threads`). PocketSphinx's bindings hold the GIL while
decoding, so threads give `en-US_BroadbandModel` one core at most; `engine_mode=processes` runs recognition
in that many worker processes instead (one decode each, models loaded once per process), so both engines use
every core. Work for a process must be picklable: it is named as a method of `RecognitionService` plus its
arguments (`Prepared` and the audio), and each process holds its own service with its own loaded models.
What runs inside a process (`services/engine_process.py`) is passed in as `ProcessEntry`, so this module does
not depend on the recognition service that depends on it.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from parlance.engines.base import Engine, LoadedModel, ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.errors import EngineBusy, ParlanceError
from parlance.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)
BUSY = "The service is busy; too many recognition requests are in progress. Retry later."


class EngineProcessLost(ParlanceError):
    """An engine process died in the middle of a request (e.g. killed for memory); it is replaced."""

    status, description = 503, "Service Unavailable"


@dataclass(frozen=True)
class ProcessEntry:
    """Module-level functions (picklable by name) that set up an engine process and run a method there."""

    initializer: Callable[[Settings], None]
    call: Callable[[str, tuple[Any, ...]], Any]


class EnginePool:
    def __init__(self, settings: Settings, registry: EngineRegistry, processes: ProcessEntry | None = None) -> None:
        self.registry = registry
        self.settings = settings
        self.workers = settings.engine_workers
        self._executor = ThreadPoolExecutor(settings.engine_workers, thread_name_prefix="engine")
        self._slots = threading.BoundedSemaphore(settings.engine_workers + settings.engine_queue)
        self._loaded: dict[str, LoadedModel] = {}
        self._load_lock = threading.Lock()
        self._busy = 0  # calls holding a slot (running or waiting): queue depth and utilisation
        self._running = 0
        self._count_lock = threading.Lock()
        self._entry = processes
        self._processes: ProcessPoolExecutor | None = None
        if settings.engine_mode == "processes":
            if processes is None:
                raise ValueError("engine_mode=processes needs the engine-process entry points")
            self._processes = self._new_process_pool()

    @property
    def mode(self) -> str:
        return "processes" if self._processes is not None else "threads"

    def engine(self, version: ModelVersion) -> Engine:
        return self.registry.get(version.engine)

    def model(self, version: ModelVersion) -> LoadedModel:
        """Load a version once; later calls reuse it."""
        with self._load_lock:
            if version.version not in self._loaded:
                self._loaded[version.version] = self.engine(version).load(version)
            return self._loaded[version.version]

    def stats(self) -> dict[str, int]:
        """In flight (running + waiting) and running calls, and the worker count (metrics)."""
        with self._count_lock:
            return {"in_flight": self._busy, "running": self._running, "workers": self.workers}

    def submit(self, fn: Callable[[], T], *, wait: bool) -> Future[T]:
        """Run blocking engine work on a thread. With every worker and queue slot taken, `wait=False`
        (requests) is refused at once with 503 and `wait=True` (background jobs) blocks for a slot.
        The slot is held until the work ends, not until the caller stops waiting for it, so a client
        that hangs up cannot leave more work running than the limit."""
        self._admit(wait)

        def work() -> T:
            with self._count_lock:
                self._running += 1
            try:
                return fn()
            finally:  # before the result is set: whoever saw the result sees the slot free
                with self._count_lock:
                    self._running -= 1
                self._release()

        try:
            future = self._executor.submit(work)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release_if_cancelled)
        return future

    def call(self, local: Callable[..., T], method: str, *args: Any, wait: bool) -> Future[T]:
        """Recognition work: `local(*args)` on a thread, or `RecognitionService.<method>(*args)` in an engine
        process (same admission control)."""
        if self._processes is None:
            return self.submit(lambda: local(*args), wait=wait)
        self._admit(wait)
        with self._count_lock:
            self._running += 1  # a process pool queues internally; counted as running once admitted
        try:
            assert self._entry is not None  # set whenever there is a process pool
            future: Future[T] = self._processes.submit(self._entry.call, method, args)
        except BaseException:
            self._process_done(None)
            raise
        future.add_done_callback(self._process_done)
        return future

    def _process_done(self, future: Future[Any] | None) -> None:
        with self._count_lock:
            self._running -= 1
        self._release()
        if future is not None and not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self._replace_broken_pool()

    def _admit(self, wait: bool) -> None:
        if not self._slots.acquire(blocking=wait):
            raise EngineBusy(BUSY)
        with self._count_lock:
            self._busy += 1

    def _release(self) -> None:
        with self._count_lock:
            self._busy -= 1
        self._slots.release()

    def _release_if_cancelled(self, future: Future[T]) -> None:
        if future.cancelled():  # cancelled before it started: `work` never ran to release the slot
            self._release()

    def _new_process_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (uvicorn, jobs) and C++ engine state a fork would copy
        context = multiprocessing.get_context("spawn")
        assert self._entry is not None
        return ProcessPoolExecutor(
            self.settings.engine_workers,
            mp_context=context,
            initializer=self._entry.initializer,
            initargs=(self.settings,),
        )

    def _replace_broken_pool(self) -> None:
        with self._load_lock:
            broken = self._processes
            if broken is None or not getattr(broken, "_broken", False):
                return
            log.error("an engine process died; starting a new pool")
            self._processes = self._new_process_pool()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._processes is not None:  # waits for the decodes running now (one per process), then they exit
            self._processes.shutdown(wait=True, cancel_futures=True)
