"""Engine registry: built-in engines register through the same entry-point group as third parties."""

from __future__ import annotations

from importlib.metadata import entry_points

from parlance.engines.base import Engine
from parlance.errors import EngineUnavailable

GROUP = "parlance.engines"


class EngineRegistry:
    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}

    def register(self, engine: Engine) -> None:
        self._engines[engine.name] = engine

    def get(self, name: str) -> Engine:
        if name not in self._engines:
            self._load_entry_point(name)
        return self._engines[name]

    def _load_entry_point(self, name: str) -> None:
        for ep in entry_points(group=GROUP, name=name):
            try:
                self.register(ep.load()())
            except ImportError as exc:
                raise EngineUnavailable(f"Engine '{name}' cannot be loaded: {exc}") from exc
            return
        raise EngineUnavailable(f"No engine named '{name}' is installed")
