"""Acoustic adaptation without transcripts from a first pass made beforehand (as the service does when audio
is added): training uses the given decoding and decodes nothing itself. Real engine, real synthesized speech."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.acoustic import adaptation_text
from parlance.engines.base import AdaptationInput, AdaptationUtterance
from parlance.engines.pocketsphinx.engine import PocketSphinxEngine
from parlance.engines.pocketsphinx.model import PocketSphinxModel
from parlance.engines.pocketsphinx.version import builtin_version
from parlance.services import acoustic_first_pass
from parlance.services.acoustic_audio import read_float

pytestmark = pytest.mark.slow
SYNTH = Path(__file__).resolve().parents[2] / "data" / "synth.sh"


def test_untranscribed_adaptation_uses_the_given_first_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version, engine = builtin_version(), PocketSphinxEngine()
    model = engine.load(version)
    utterances = []
    for i, line in enumerate(adaptation_text(60)[:14]):
        wav = tmp_path / f"u{i}.wav"
        subprocess.run(["bash", str(SYNTH), "rms", str(wav), line], check=True, capture_output=True)
        for seg in acoustic_first_pass.decode(model, read_float(wav), None):
            utterances.append(AdaptationUtterance(wav, wav.name, seg.start, seg.end, decoded=seg.words))
    assert sum(len(u.decoded or ()) for u in utterances) > 50

    def no_decoding(*_args: object) -> None:
        raise AssertionError("training decoded audio that came decoded")

    monkeypatch.setattr(PocketSphinxModel, "transcribe", no_decoding)
    out = tmp_path / "model"
    out.mkdir()
    summary = engine.adapt(version, AdaptationInput(utterances, tmp_path / "base"), out, lambda _p: None)
    assert summary["first_pass_given"] == len(utterances) and summary["decoding_rounds"] == 1
    assert summary["transcripts"]["decoded"] > 0 and summary["seconds"] >= 20
    assert (out / "mllr_matrix").is_file()  # under 90 s of aligned speech: MLLR
    assert json.loads((out / "model.json").read_text())["method"] == "mllr"
