"""The first-pass decoding of untranscribed adaptation audio: done when the audio is added, cached per
member, reused by training, and made again when training uses another custom language model (or version).
On a fake engine that counts its decodings; adaptation quality is tested with the real engine elsewhere."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parlance.engines.base import AdaptationInput, Alternative, Capabilities, DecodeOptions, ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.services import acoustic_first_pass
from parlance.services.container import Services
from parlance.settings import Settings
from tests.api.test_recognize_api import CLIP
from tests.fakes import FakeEngine, _Loaded, fake_version

PG = "en-US_BroadbandModel"


class CountingModel(_Loaded):
    def __init__(self) -> None:
        self.calls: list[DecodeOptions] = []

    def transcribe(self, audio: np.ndarray, options: DecodeOptions, *, speech: int | None = None) -> list[Alternative]:
        self.calls.append(options)
        return super().transcribe(audio, options, speech=speech)


class RecordingAdapter(FakeEngine):
    def __init__(self) -> None:
        super().__init__("fake-adapting", "previous")
        self.capabilities = Capabilities(generation="previous", acoustic_adaptation=True)
        self.model = CountingModel()
        self.inputs: list[AdaptationInput] = []

    def load(self, version: ModelVersion) -> CountingModel:
        return self.model

    def adapt(self, version: ModelVersion, data: AdaptationInput, out_dir: Path, progress: Any) -> dict[str, Any]:
        self.inputs.append(data)
        (out_dir / "model.json").write_text("{}")
        return {}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Services, RecordingAdapter, str]]:
    engine = RecordingAdapter()
    registry = EngineRegistry()
    registry.register(engine)
    settings = Settings(data_dir=tmp_path / "data", auth=False, acoustic_min_minutes=0.01)
    svc = Services.build(settings, registry=registry, builtins=[fake_version(PG, "fake-adapting")])
    svc.start()
    try:
        yield svc, engine, svc.auth.ensure_dev_instance()
    finally:
        svc.close()


def wait_status(svc: Services, get: Any, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (row := get())["status"] in statuses:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"still {row['status']}")


def cache_files(svc: Services, cid: str) -> list[Path]:
    return sorted((svc.settings.data_dir / "artifacts" / cid / "audio").rglob("*.decoded.json"))


def test_audio_is_decoded_when_added_and_training_reuses_it(setup: tuple[Services, RecordingAdapter, str]) -> None:
    svc, engine, owner = setup
    am = svc.acoustic.create(owner, {"name": "voice", "base_model_name": PG})
    svc.acoustic_audio.add(owner, am, "clip", CLIP.read_bytes(), "audio/wav", None, False)
    wait_status(svc, lambda: svc.acoustic.get(owner, am), {"ready"})
    decoded_at_add = len(engine.model.calls)
    assert decoded_at_add >= 1 and all(o.custom is None for o in engine.model.calls)
    [cache] = cache_files(svc, am)
    assert json.loads(cache.read_text())["key"] == {"version": f"{PG}.v2026-01-01", "language_id": None,
                                                     "language_revision": None}  # fmt: skip

    svc.acoustic.train(owner, am, None)
    wait_status(svc, lambda: svc.acoustic.get(owner, am), {"available"})
    assert len(engine.model.calls) == decoded_at_add  # training decoded nothing
    [data] = engine.inputs
    assert len(data.utterances) == decoded_at_add
    assert all(u.transcript is None and u.decoded for u in data.utterances)
    assert [w.text for w in data.utterances[0].decoded or ()] == ["hello", "world"]


def test_training_with_a_language_model_decodes_again_and_caches_that(
    setup: tuple[Services, RecordingAdapter, str],
) -> None:
    svc, engine, owner = setup
    lm = svc.customizations.create(owner, {"name": "words", "base_model_name": PG})
    svc.words.add_one(owner, lm, "parlance", {})
    wait_status(svc, lambda: svc.customizations.get(owner, lm), {"ready"})
    svc.customizations.train(owner, lm, {})
    wait_status(svc, lambda: svc.customizations.get(owner, lm), {"available"})

    am = svc.acoustic.create(owner, {"name": "voice", "base_model_name": PG})
    svc.acoustic_audio.add(owner, am, "clip", CLIP.read_bytes(), "audio/wav", None, False)
    wait_status(svc, lambda: svc.acoustic.get(owner, am), {"ready"})
    at_add = len(engine.model.calls)

    svc.acoustic.train(owner, am, lm)
    wait_status(svc, lambda: svc.acoustic.get(owner, am), {"available"})
    again = engine.model.calls[at_add:]
    assert again and all(o.custom is not None for o in again)  # the cached base-model decoding was not used
    assert [w.text for w in engine.inputs[-1].utterances[0].decoded or ()] == ["hello", "world", "parlance"]
    [cache] = cache_files(svc, am)
    assert json.loads(cache.read_text())["key"]["language_id"] == lm

    # the same language model again: the new cache serves
    calls = len(engine.model.calls)
    svc.acoustic.train(owner, am, lm)
    wait_status(svc, lambda: svc.acoustic.get(owner, am), {"available"})
    assert len(engine.model.calls) == calls and len(engine.inputs) == 2


def test_a_cache_for_another_version_or_language_model_revision_is_not_read(tmp_path: Path) -> None:
    wav = tmp_path / "m0.wav"
    segments = [acoustic_first_pass.DecodedSegment(0.5, 2.0, ())]
    key = acoustic_first_pass.DecodeKey("v1", "lm", 3)
    acoustic_first_pass.write(wav, key, segments)
    assert acoustic_first_pass.read(wav, key) == segments
    assert acoustic_first_pass.read(wav, acoustic_first_pass.DecodeKey("v2", "lm", 3)) is None
    assert acoustic_first_pass.read(wav, acoustic_first_pass.DecodeKey("v1", "lm", 4)) is None
    assert acoustic_first_pass.read(wav, acoustic_first_pass.DecodeKey("v1")) is None
    acoustic_first_pass.cache_path(wav).write_text("{broken")
    assert acoustic_first_pass.read(wav, key) is None
