"""`RecognitionStream`: the interim policy on its own (local agreement keeps an agreed prefix fixed), and
PocketSphinx's final results at pauses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from parlance.engines.base import Word
from parlance.services.container import Services
from parlance.services.recognition_stream import RecognitionStream, _Shown
from parlance.settings import Settings
from tests.audio.conftest import CLIP, LIBRIVOX

L16 = "audio/l16;rate=16000;endianness=little-endian"


def words(text: str) -> list[Word]:
    return [Word(w, i * 0.3, i * 0.3 + 0.3, 0.5) for i, w in enumerate(text.split())]


def shown_text(hypotheses: list[str]) -> list[str]:
    shown = _Shown(0, [])
    return [" ".join(w.text for w in RecognitionStream._agreed(words(h), shown)) for h in hypotheses]


def test_a_prefix_two_hypotheses_agree_on_stays_as_shown() -> None:
    hypotheses = ["he was", "he was not", "he is not until", "he was not until this", "he was not until this blows"]
    assert shown_text([*hypotheses, "he was not until exposed", "he was not until exposed young man"]) == [
        "he was",
        "he was not",  # "he was" agreed
        "he was not until",  # "he was" stays although the hypothesis now says "he is"
        "he was not until this",
        "he was not until this blows",  # "he was not until this" agreed (the last two say it)
        "he was not until this",  # fixed: "exposed" cannot replace "this"
        "he was not until this young man",
    ]


def test_without_agreement_the_newest_hypothesis_is_shown() -> None:
    assert shown_text(["a", "b c", "d e f"]) == ["a", "b c", "d e f"]


@pytest.mark.skipif(not CLIP.exists(), reason="needs Debian's pocketsphinx-testdata")
def test_phrases_that_pause_get_recognizes_results_from_the_restarted_live_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PocketSphinx at a pause starts the live decoder again normalized by the speech so far, so each final
    result is `recognize`'s without decoding the phrase once more (the clock stands still: always in time)."""
    clips = [sf.read(p, dtype="float32")[0] for p in sorted(LIBRIVOX.glob("*.wav"))[:3]]
    pause = np.zeros(24000, dtype=np.float32)
    pcm = (np.concatenate([x for clip in clips for x in (clip, pause)]) * 32767).astype("<i2").tobytes()
    services = Services.build(Settings(data_dir=tmp_path / "data"))
    try:
        prepared = services.recognition.prepare("me", {"model": "en-US_BroadbandModel", "timestamps": True})
        decoded_again: list[object] = []
        monkeypatch.setattr(RecognitionStream, "_decode_whole", lambda _, segment: decoded_again.append(segment) or [])
        stream = RecognitionStream(services.recognition, prepared, L16, per_phrase=True, clock=lambda: 0.0)
        messages = [m for at in range(0, len(pcm), 3200) for m in stream.feed(pcm[at : at + 3200])]
        messages += stream.finish()
        finals = [m["results"][0] for m in messages if m["results"] and m["results"][0]["final"]]
        assert finals == services.recognition.run(prepared, [(pcm, L16)])["results"]
        assert len(finals) == 3 and not decoded_again
        assert sum(1 for m in messages if m["results"] and not m["results"][0]["final"]) >= 6  # interim results
    finally:
        services.close()
