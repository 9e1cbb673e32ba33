"""The recognition service: `prepare` once, `run` on any audio; the engine pool's admission; parameter
ranges (in process on the fake engine, and over HTTP against a live server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlance.engines.registry import EngineRegistry
from parlance.errors import BadRequest, EngineBusy
from parlance.services.container import Services
from parlance.services.engine_pool import EnginePool
from parlance.services.recognition import RecognizeParams
from parlance.settings import Settings
from tests.api.test_recognize_api import CLIP
from tests.conftest import LiveServer, fake_services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = fake_services(tmp_path / "data")
    yield svc
    svc.close()


def test_prepare_resolves_once_and_runs_on_any_audio(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    versions = services.catalog.versions
    monkeypatch.setattr(services.catalog, "versions", lambda model: calls.append(model) or versions(model))
    prepared = services.recognition.prepare("me", {"model": "en-US_Multimedia", "max_alternatives": 2, "foo": 1})
    assert prepared.version.base_model == "en-US_Multimedia" and prepared.options.max_alternatives == 2
    assert prepared.warnings == ("Unknown arguments: foo.",)
    audio = CLIP.read_bytes()
    first = services.recognition.run(prepared, [(audio, "audio/wav")])
    again = services.recognition.run(prepared, [(audio, None), (audio, "audio/wav")])  # two parts, one request
    assert calls == ["en-US_Multimedia"]  # resolved by prepare only
    assert first["warnings"] == again["warnings"] == ["Unknown arguments: foo."]
    assert len(first["results"][0]["alternatives"]) == 2 and "timestamps" not in first["results"][0]["alternatives"][0]


def test_prepare_refuses_what_cannot_be_served(services: Services) -> None:
    with pytest.raises(BadRequest, match="customization weight"):
        services.recognition.prepare("me", {"customization_weight": 0.5})
    with pytest.raises(BadRequest, match="grammar_name requires"):
        services.recognition.prepare("me", {"grammar_name": "digits"})


def test_a_waiting_submit_and_a_refused_one_share_the_pool() -> None:
    """Requests are refused with 503 when every slot is taken; jobs wait for one."""
    pool = EnginePool(Settings(data_dir=Path("."), engine_workers=1, engine_queue=0), EngineRegistry())
    release = threading.Event()
    busy = pool.submit(release.wait, wait=False)
    with pytest.raises(EngineBusy):
        pool.submit(lambda: "refused", wait=False)
    waiting: list[Any] = []
    waiter = threading.Thread(target=lambda: waiting.append(pool.submit(lambda: "waited", wait=True).result()))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and not waiting  # blocked on the slot, not refused
    release.set()
    waiter.join(5)
    assert busy.result() is True and waiting == ["waited"]
    pool.close()


def test_a_slot_is_held_until_the_work_ends_not_until_the_caller_gives_up() -> None:
    pool = EnginePool(Settings(data_dir=Path("."), engine_workers=1, engine_queue=0), EngineRegistry())
    release = threading.Event()

    async def give_up() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.wrap_future(pool.submit(release.wait, wait=False)), 0.1)

    asyncio.run(give_up())
    with pytest.raises(EngineBusy):  # the abandoned decode still runs on the only worker
        pool.submit(lambda: None, wait=False)
    release.set()
    assert pool.submit(lambda: "free", wait=True).result(timeout=5) == "free"
    pool.close()


def test_the_streaming_silence_check_runs_within_the_engine_limit(tmp_path: Path) -> None:
    svc = fake_services(tmp_path / "data")
    svc.pool = EnginePool(Settings(data_dir=tmp_path, engine_workers=1, engine_queue=0), svc.pool.registry)
    svc.recognition.pool = svc.pool
    prepared = svc.recognition.prepare("me", {"inactivity_timeout": 1})
    release = threading.Event()
    busy = svc.pool.submit(release.wait, wait=False)
    with pytest.raises(EngineBusy):
        svc.recognition.submit_inactivity_check(prepared, CLIP.read_bytes(), "audio/wav")
    release.set()
    busy.result(timeout=5)
    silence = b"\x00\x00" * 16000 * 2
    error = svc.recognition.submit_inactivity_check(prepared, silence, "audio/l16;rate=16000").result(timeout=10)
    assert error is not None and error.message == "No speech detected for 1s."
    svc.close()


OUT_OF_RANGE = [
    ("inactivity_timeout", -2),
    ("inactivity_timeout", 10**20),
    ("inactivity_timeout", "1e400"),
    ("max_alternatives", -1),
    ("max_alternatives", 10**20),
    ("end_of_phrase_silence_time", 120.5),
    ("end_of_phrase_silence_time", "inf"),
    ("end_of_phrase_silence_time", "nan"),
    ("customization_weight", "nan"),
    ("customization_weight", 1.5),
    ("keywords_threshold", -0.1),
    ("word_alternatives_threshold", "inf"),
    ("speech_detector_sensitivity", "nan"),
    ("background_audio_suppression", 2),
    ("character_insertion_bias", -1.5),
    ("processing_metrics_interval", 0.01),
    ("smart_formatting_version", 10**20),
]


@pytest.mark.parametrize(("name", "value"), OUT_OF_RANGE)
def test_numeric_parameters_out_of_range_are_refused_by_name(name: str, value: Any) -> None:
    with pytest.raises(BadRequest, match=name):
        RecognizeParams.parse({name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("inactivity_timeout", -1), ("inactivity_timeout", 0), ("end_of_phrase_silence_time", 120.0)]
    + [("character_insertion_bias", -1), ("max_alternatives", 0), ("customization_weight", 1)],
)
def test_numeric_parameters_at_the_ends_of_their_ranges_are_accepted(name: str, value: Any) -> None:
    params, _ = RecognizeParams.parse({name: value})
    assert getattr(params, name) == value


def test_huge_and_non_finite_numbers_over_http_are_400_naming_the_parameter(fake_server: LiveServer) -> None:
    audio = CLIP.read_bytes()
    for name, value in [(n, v) for n, v in OUT_OF_RANGE if not isinstance(v, int) or abs(v) > 2**31]:
        resp = httpx.post(
            f"{fake_server.url}/v1/recognize",
            params={name: str(value)},
            content=audio,
            headers={"Content-Type": "audio/wav"},
            auth=("apikey", fake_server.apikey),
        )
        assert resp.status_code == 400, (name, value, resp.text)
        assert name in resp.json()["error"] and resp.json()["code"] == 400
