"""Seed 000 end to end: base-model versions and custom-model upgrade, through the ibm-watson SDK."""

from __future__ import annotations

import functools
import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import BasicAuthenticator
from ibm_watson import SpeechToTextV1

from parlance.engines import pocketsphinx, whisper
from tests.conftest import LiveServer, free_port, start_real_server, wait_status, wait_until_up
from tests.testdata import FINANCE, SYNTH

pytestmark = pytest.mark.slow
BUILTIN = {"en-US_BroadbandModel": pocketsphinx.builtin_version, "en-US_Multimedia": whisper.builtin_version}
WARNING = "Using previous version of base model"


def make_version(base: str, day: str, out: Path) -> Path:
    """A new version directory: the built-in files under a new name and date, with a manifest."""
    v1 = BUILTIN[base]()
    out.mkdir(parents=True)
    for rel in v1.files:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(v1.path / rel, out / rel)
    manifest = {
        "base_model": base,
        "version": f"{base}.v{day}",
        "engine": v1.engine,
        "language": v1.language,
        "rate": v1.rate,
        "description": v1.description,
        "created": datetime.now(UTC).isoformat(),
        "files": v1.files,
        "options": v1.options,
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def install(data_dir: Path, version_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "parlance", "models", "install", str(version_dir), "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
    )


def sdk(url: str, apikey: str) -> SpeechToTextV1:
    stt = SpeechToTextV1(authenticator=BasicAuthenticator("apikey", apikey))
    stt.set_service_url(url)
    return stt


wait = functools.partial(wait_status, timeout=120)  # real training and upgrades take seconds


def trained_model(stt: SpeechToTextV1, base: str, name: str) -> str:
    cid = stt.create_language_model(name, base).get_result()["customization_id"]
    with open(FINANCE / "corpus.txt", "rb") as f:
        stt.add_corpus(cid, "finance", f)
    wait(stt, cid, {"ready"})
    stt.add_words(cid, json.loads((FINANCE / "words.json").read_text())["words"])
    wait(stt, cid, {"ready"})
    stt.train_language_model(cid)
    assert wait(stt, cid, {"available", "failed"})["status"] == "available"
    return cid


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("clip") / "clip.wav"
    subprocess.run(
        [
            "bash",
            str(SYNTH),
            "slt",
            str(out),
            "the e bit dah margin grew while the bitcoin price fell",
        ],
        check=True,
    )
    return out.read_bytes()


def recognize(stt: SpeechToTextV1, clip: bytes, base: str, cid: str, **kw: str) -> dict:
    return stt.recognize(clip, content_type="audio/wav", model=base, language_customization_id=cid, **kw).get_result()


@pytest.mark.parametrize("base", ["en-US_BroadbandModel", "en-US_Multimedia"])
def test_upgrade_lifecycle(real_server: LiveServer, base: str, clip: bytes, tmp_path: Path) -> None:
    assert real_server.data_dir is not None
    stt = sdk(real_server.url, real_server.apikey)
    cid = trained_model(stt, base, f"upgrade-{base}")
    v1 = stt.get_language_model(cid).get_result()["versions"]
    assert len(v1) == 1
    assert "warnings" not in recognize(stt, clip, base, cid)

    empty = stt.create_language_model(f"empty-{base}", base).get_result()["customization_id"]
    v2_name = f"{base}.v2099-01-0{1 if base.startswith('en-US_B') else 2}"
    install(real_server.data_dir, make_version(base, v2_name.rsplit(".v", 1)[1], tmp_path / "v2"))
    assert v2_name in [
        ln.split("\t")[1]
        for ln in subprocess.run(
            [sys.executable, "-m", "parlance", "models", "versions", base, "--data-dir", str(real_server.data_dir)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    ]

    # still on version 1: one entry in versions, and a warning that an upgrade is available
    assert stt.get_language_model(cid).get_result()["versions"] == v1
    result = recognize(stt, clip, base, cid)
    assert any(WARNING in w for w in result["warnings"]) and result["results"]

    with pytest.raises(ApiException) as err:  # no data
        stt.upgrade_language_model(empty)
    assert err.value.status_code == 400

    started = time.monotonic()
    stt.upgrade_language_model(cid)
    with pytest.raises(ApiException) as err:  # busy while upgrading
        stt.add_word(cid, "zebra")
    assert err.value.status_code == 409
    recognize(stt, clip, base, cid)  # the old version keeps working during the upgrade
    model = wait(stt, cid, {"available"})
    print(f"\n{base}: upgrade took {time.monotonic() - started:.1f} s")
    assert model["versions"] == [*v1, v2_name]

    old = recognize(stt, clip, base, cid, base_model_version=v1[0])
    new = recognize(stt, clip, base, cid, base_model_version=v2_name)
    assert any(WARNING in w for w in old["warnings"]) and "warnings" not in new
    assert old["results"] and new["results"]
    assert "warnings" not in recognize(stt, clip, base, cid)  # newest version by default

    with pytest.raises(ApiException) as err:  # already on the newest version
        stt.upgrade_language_model(cid)
    assert err.value.status_code == 400 and "up-to-date" in err.value.message


def test_restart_during_upgrade_leaves_a_true_status(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = json.loads(
        subprocess.run(
            [sys.executable, "-m", "parlance", "keys", "create", "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    base = "en-US_BroadbandModel"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_real_server(data_dir, port)
    try:
        wait_until_up(url, 120, proc)
        stt = sdk(url, key["apikey"])
        cid = trained_model(stt, base, "restart")
        install(data_dir, make_version(base, "2099-02-01", tmp_path / "v2"))
        stt.upgrade_language_model(cid)
        proc.send_signal(signal.SIGKILL)  # die mid-upgrade
        proc.wait(timeout=20)
        proc = start_real_server(data_dir, port)
        wait_until_up(url, 120, proc)
        model = wait(stt, cid, {"available", "ready"})
        # resumed to completion, or back to where it was with an error that says why
        assert model["versions"][-1] == f"{base}.v2099-02-01" or "error" in model
        silent = stt.recognize(_silence(), content_type="audio/wav", model=base, language_customization_id=cid)
        assert silent.get_result()["results"] == []  # the model is usable after the restart
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _silence() -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    return buf.getvalue()
