"""What runs inside an engine process (`engine_mode=processes`): one `RecognitionService` per process, with
its own loaded models, on which the parent's pool calls methods by name (see `services/engine_pool.py`)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from parlance.engines.registry import EngineRegistry
from parlance.errors import ParlanceError
from parlance.services.engine_pool import EnginePool, ProcessEntry
from parlance.services.recognition import RecognitionService
from parlance.settings import Settings

# This process's service: built by the initializer, one per process (process-wide state by design).
_service: RecognitionService | None = None


def initialize(settings: Settings) -> None:
    global _service
    _exit_with_parent(os.getppid())
    # `run` and `inactivity_so_far` use only the pool (models) and pure helpers; the catalog, custom models
    # and endpoints were resolved into `Prepared` by the parent already.
    local = settings.model_copy(update={"engine_mode": "threads"})
    _service = RecognitionService(None, EnginePool(local, EngineRegistry()))  # type: ignore[arg-type]


def call(method: str, args: tuple[Any, ...]) -> Any:
    try:
        return getattr(_service, method)(*args)
    except ParlanceError:
        raise
    except BrokenProcessPool:
        raise
    except Exception as exc:  # exceptions from C++ bindings may not pickle back; keep type and message
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None


ENTRY = ProcessEntry(initializer=initialize, call=call)


def _exit_with_parent(parent: int) -> None:
    """An engine process must not outlive its server (killed with SIGKILL, it cannot shut the pool down)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
