"""Custom acoustic models end to end with the real PocketSphinx engine and the SphinxTrain tools:
create, add a zip with transcripts, train with a custom language model, recognize with both (better than
without on the adapted voice), the `parlance acoustic` CLI, then a new base version and seed 000's upgrade of
both models."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_watson import SpeechToTextV1

from bench.acoustic import TEST_SENTENCES, adaptation_text, edit_distance, words
from tests.api.test_recognize_api import sdk
from tests.conftest import LiveServer, free_port, wait_until_up
from tests.e2e.test_upgrade_e2e import install, make_version

pytestmark = pytest.mark.slow
SYNTH = Path(__file__).resolve().parents[1] / "data" / "synth.sh"
PG = "en-US_BroadbandModel"


def speak(voice: str, text: str, folder: Path, name: str) -> bytes:
    """`text` spoken by `voice`, synthesized once per name (the test sentences are heard several times)."""
    out = folder / f"{name}.wav"
    if not out.exists():
        subprocess.run(["bash", str(SYNTH), voice, str(out), text], check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("acoustic-data")
    env = {**os.environ, "PARLANCE_DATA_DIR": str(data_dir), "PARLANCE_ACOUSTIC_MIN_MINUTES": "0.5"}
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "keys", "create"], check=True, capture_output=True, text=True, env=env
    )
    key = json.loads(out.stdout)
    port = free_port()
    with open(data_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "parlance", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, 120, proc)
        yield LiveServer(url, None, key["apikey"], key["instance_id"], data_dir)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def wait(get, statuses: set[str], timeout: float = 300) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = get().get_result()
        if model["status"] in statuses:
            return dict(model)
        time.sleep(0.2)
    raise AssertionError(f"still {model['status']}")


def test_adapt_to_a_voice_with_a_zip_and_a_language_model(server: LiveServer) -> None:
    stt: SpeechToTextV1 = sdk(server)
    folder = Path(tempfile.mkdtemp(prefix="acoustic-e2e-"))
    voice = "en"  # espeak-ng: the voice the base model hears worst
    lines = adaptation_text(90)[:30]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, line in enumerate(lines):
            zf.writestr(f"speaker/u{i:03d}.wav", speak(voice, line, folder, f"a{i}"))
            zf.writestr(f"speaker/u{i:03d}.txt", line)

    lm = stt.create_language_model("general", PG).get_result()["customization_id"]
    stt.add_corpus(lm, "text", io.BytesIO("\n".join(lines).encode())).get_result()
    wait(lambda: stt.get_language_model(lm), {"ready"})
    stt.train_language_model(lm).get_result()
    wait(lambda: stt.get_language_model(lm), {"available"})

    am = stt.create_acoustic_model("espeak", PG).get_result()["customization_id"]
    stt.add_audio(am, "speaker", buf.getvalue(), content_type="application/zip").get_result()
    wait(lambda: stt.get_acoustic_model(am), {"ready"})
    listing = stt.get_audio(am, "speaker").get_result()
    assert len(listing["audio"]) == len(lines) and all(m["status"] == "ok" for m in listing["audio"])
    stt.train_acoustic_model(am, custom_language_model_id=lm).get_result()
    model = wait(lambda: stt.get_acoustic_model(am), {"available", "failed"})
    assert model["status"] == "available", model

    def wer(**ids: str) -> float:
        errors = total = 0
        for i, ref in enumerate(TEST_SENTENCES[:10]):
            audio = speak(voice, ref, folder, f"t{i}")
            result = stt.recognize(io.BytesIO(audio), content_type="audio/wav", model=PG, **ids).get_result()
            hyp = " ".join(r["alternatives"][0]["transcript"] for r in result["results"])
            errors += edit_distance(words(ref), words(hyp))
            total += len(words(ref))
        return errors / total

    before = wer(language_customization_id=lm)
    after = wer(language_customization_id=lm, acoustic_customization_id=am)
    assert after < before * 0.8, (before, after)

    env = {**os.environ, "PARLANCE_DATA_DIR": str(server.data_dir), "PARLANCE_ACOUSTIC_MIN_MINUTES": "0.5"}
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "acoustic", "show", am], check=True, capture_output=True, text=True, env=env
    )
    shown = json.loads(out.stdout)
    trained = shown["trained"][model["versions"][-1]]
    assert trained["language_customization_id"] == lm and trained["transcripts"]["transcript"] > 0
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "acoustic", "list"], check=True, capture_output=True, text=True, env=env
    )
    assert [m["customization_id"] for m in json.loads(out.stdout)] == [am]

    # the CLI trains again (here, in its own job runner or the server's) and shows progress while it waits
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "acoustic", "train", am, "--custom-language-model-id", lm, "--wait"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "available" and "training:" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "parlance", "acoustic", "upgrade", am], capture_output=True, text=True, env=env
    )
    assert out.returncode != 0 and "up-to-date" in out.stderr

    # seed 000: a new base version arrives; the language model is upgraded first, then the acoustic model,
    # then the acoustic model again with the upgraded language model (nothing changed after that: force)
    v2 = f"{PG}.v2099-03-01"
    install(server.data_dir, make_version(PG, "2099-03-01", folder / "v2"))
    with pytest.raises(ApiException) as err:
        stt.upgrade_acoustic_model(am, custom_language_model_id=lm)
    assert err.value.status_code == 400 and "upgrade the language model first" in err.value.message
    stt.upgrade_language_model(lm).get_result()
    assert wait(lambda: stt.get_language_model(lm), {"available"})["versions"][-1] == v2
    stt.upgrade_acoustic_model(am).get_result()
    assert wait(lambda: stt.get_acoustic_model(am), {"available", "failed"})["versions"][-1] == v2
    stt.upgrade_acoustic_model(am, custom_language_model_id=lm).get_result()
    assert wait(lambda: stt.get_acoustic_model(am), {"available", "failed"})["status"] == "available"
    with pytest.raises(ApiException) as err:
        stt.upgrade_acoustic_model(am, custom_language_model_id=lm)
    assert err.value.status_code == 400 and err.value.message == "No input data modified since last training"
    stt.upgrade_acoustic_model(am, custom_language_model_id=lm, force=True).get_result()
    assert wait(lambda: stt.get_acoustic_model(am), {"available", "failed"})["status"] == "available"
    # both on the new version: no "previous version" warning, and the adapted model still helps as much
    both = {"language_customization_id": lm, "acoustic_customization_id": am}
    result = stt.recognize(io.BytesIO(speak(voice, TEST_SENTENCES[0], folder, "t0")), content_type="audio/wav", **both)
    assert "warnings" not in result.get_result()
    assert wer(**both) < before * 0.8
