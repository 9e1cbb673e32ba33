"""Pieces of one audio decoded several at a time give exactly the sequential results (real engines, real
speech): the same transcripts, alternatives, confidences and word timings, in the same order."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded

import numpy as np
import pytest
import soundfile as sf

from parlance.engines.base import parallel_decodes
from parlance.services.container import Services
from parlance.settings import Settings
from tests.audio.conftest import CLIP, LIBRIVOX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CLIP.exists(), reason="needs Debian's pocketsphinx-testdata"),
]
L16 = "audio/l16;rate=16000;endianness=little-endian"


def phrases() -> bytes:
    """The five LibriVox clips (25 s of speech) twice, the second time quieter, with pauses of 0.9 to
    1.6 s: ten pieces of several lengths, as 16 kHz l16."""
    clips = [sf.read(p, dtype="float32")[0] for p in sorted(LIBRIVOX.glob("*.wav"))]
    pauses = np.random.default_rng(7).uniform(0.9, 1.6, 2 * len(clips))
    parts = []
    for i, pause in enumerate(pauses):
        gain = 1.0 if i < len(clips) else 0.7
        parts += [clips[i % len(clips)] * gain, np.zeros(int(pause * 16000), dtype=np.float32)]
    return (np.concatenate(parts) * 30000).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, Services]]:
    made = [
        Services.build(Settings(data_dir=tmp_path_factory.mktemp(f"batch{n}"), decode_batch_size=n)) for n in (1, 4)
    ]
    yield made[0], made[1]
    for services in made:
        services.close()


def run(services: Services, params: dict[str, Any], audio: bytes) -> tuple[dict[str, Any], set[str]]:
    """The result of `RecognitionService.run`, and the threads the engine decoded on."""
    prepared = services.recognition.prepare("me", params)
    model = services.pool.model(prepared.version)
    threads: set[str] = set()
    original = model.transcribe

    def recording(samples: np.ndarray, options: Any, *, speech: int | None = None) -> Any:
        threads.add(threading.current_thread().name)
        return original(samples, options, speech=speech)

    model.transcribe = recording  # type: ignore[method-assign]
    try:
        return services.recognition.run(prepared, [(audio, L16)]), threads
    finally:
        del model.transcribe  # the class's method again


@pytest.mark.parametrize(
    "params",
    [
        {"timestamps": True, "word_confidence": True},
        {"max_alternatives": 3, "keywords": "dashwood,amiable", "keywords_threshold": 0.3, "smart_formatting": True},
    ],
    ids=["timings", "alternatives"],
)
def test_multimedia_batched_equals_sequential(sides: tuple[Services, Services], params: dict[str, Any]) -> None:
    sequential, batched = sides
    audio = phrases()
    params = {"model": "en-US_Multimedia", **params}
    expected, seq_threads = run(sequential, params, audio)
    got, batch_threads = run(batched, params, audio)
    assert len(expected["results"]) == 10
    assert "dashwood" in "".join(r["alternatives"][0]["transcript"] for r in expected["results"])
    assert got == expected
    assert len(seq_threads) == 1 and not any(t.startswith("piece") for t in seq_threads)
    model = batched.pool.model(batched.recognition.prepare("me", params).version)
    assert parallel_decodes(model) >= 2 or os.cpu_count() == 1
    if parallel_decodes(model) >= 2:  # the pieces really were decoded on several threads
        assert len(batch_threads) >= 2 and all(t.startswith("piece") for t in batch_threads)


def test_broadband_is_decoded_one_piece_at_a_time(sides: tuple[Services, Services]) -> None:
    """PocketSphinx holds the GIL: parallel decodes would only queue, so the service does not start them."""
    _, batched = sides
    audio = phrases()[: 2 * 16000 * 20]
    params = {"model": "en-US_BroadbandModel", "timestamps": True}
    got, threads = run(batched, params, audio)
    assert got["results"] and len(threads) == 1 and not any(t.startswith("piece") for t in threads)
    model = batched.pool.model(batched.recognition.prepare("me", params).version)
    assert parallel_decodes(model) == 1
