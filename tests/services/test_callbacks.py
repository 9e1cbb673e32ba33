"""Callback addresses: resolved once, checked, and connected to as checked (no DNS rebinding window)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from parlance.errors import BadRequest
from parlance.services.callbacks import Callbacks
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Instance
from tests.api.test_recognitions_api import CallbackServer

NAME = "callback.invalid"  # `.invalid` never resolves through DNS: only the checked address can be reached


@pytest.fixture
def callback() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.server.shutdown()


def callbacks(tmp_path: Path, allowed: list[str], answers: list[list[str]]) -> tuple[Callbacks, list[str]]:
    """Callbacks whose resolver gives `answers` in turn (a rebinding name) and records each lookup."""
    settings = Settings(data_dir=tmp_path, callback_allowed_hosts=allowed)
    db = Database(settings)
    db.migrate()
    with db.session() as s:
        s.add(Instance(id="owner", name="tests"))
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups), len(answers)) - 1]

    return Callbacks(db, settings, resolver), lookups


@pytest.mark.parametrize("allowed", [["127.0.0.1"], [NAME]])
def test_the_challenge_goes_to_the_checked_address_with_the_name_as_host(
    tmp_path: Path, callback: CallbackServer, allowed: list[str]
) -> None:
    cb, lookups = callbacks(tmp_path, allowed, [["127.0.0.1"], ["10.9.9.9"]])
    port = callback.server.server_port
    url = f"http://{NAME}:{port}/results"
    assert cb.register("owner", url, None) == ({"status": "created", "url": url}, True)
    assert lookups == [NAME]  # one lookup: the HTTP client did not resolve the name again
    assert callback.hosts == [f"{NAME}:{port}"]
    cb.notify("owner", url, {"id": "j", "event": "recognitions.started", "user_token": ""})
    assert lookups == [NAME, NAME] and len(callback.notifications) == 0  # now 10.9.9.9: not notified


def test_a_name_with_any_internal_address_is_refused(tmp_path: Path, callback: CallbackServer) -> None:
    cb, _ = callbacks(tmp_path, [], [["93.184.215.14", "127.0.0.1"]])
    with pytest.raises(BadRequest):
        cb.register("owner", f"http://{NAME}:{callback.server.server_port}/results", None)
    assert callback.challenges == []
