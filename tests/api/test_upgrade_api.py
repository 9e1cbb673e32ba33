"""Upgrade failure cases (seed 000) over HTTP with the SDK, on the fake engine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ibm_watson import SpeechToTextV1

from tests.api.test_customizations_api import PG, api_error
from tests.api.test_recognize_api import sdk
from tests.conftest import LiveServer, wait_status


def install_v2(server: LiveServer, tmp_path: Path) -> str:
    src = tmp_path / "v2"
    src.mkdir()
    (src / "weights.bin").write_bytes(b"new weights")
    version = f"{PG}.v2026-02-01"
    manifest = {
        "base_model": PG,
        "version": version,
        "engine": "fake-previous",
        "language": "en-US",
        "created": "2026-02-01T00:00:00+00:00",
        "files": {"weights.bin": hashlib.sha256(b"new weights").hexdigest()},
    }
    (src / "manifest.json").write_text(json.dumps(manifest))
    assert server.services is not None
    server.services.catalog.install(src)
    return version


def test_upgrade_failure_cases(fake_server: LiveServer, tmp_path: Path) -> None:
    stt: SpeechToTextV1 = sdk(fake_server)
    cid = stt.create_language_model("up", PG).get_result()["customization_id"]
    stt.add_corpus(cid, "c", b"slowtraining words here")
    wait_status(stt, cid, {"ready"})
    v2 = install_v2(fake_server, tmp_path)
    assert "pending" in api_error(  # no data: the model is still pending
        lambda: stt.upgrade_language_model(stt.create_language_model("e", PG).get_result()["customization_id"]), 400
    )
    stt.train_language_model(cid)
    assert "busy" in api_error(lambda: stt.upgrade_language_model(cid), 409)  # training
    wait_status(stt, cid, {"available"})
    stt.upgrade_language_model(cid)
    assert stt.get_language_model(cid).get_result()["status"] == "upgrading"
    assert "busy" in api_error(lambda: stt.upgrade_language_model(cid), 409)  # already upgrading
    api_error(lambda: stt.train_language_model(cid, force=True), 409)
    model = wait_status(stt, cid, {"available"})
    assert model["versions"][-1] == v2
    assert "up-to-date" in api_error(lambda: stt.upgrade_language_model(cid), 400)


def test_failed_model_cannot_be_upgraded(fake_server: LiveServer, tmp_path: Path) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("f", PG).get_result()["customization_id"]
    stt.add_corpus(cid, "c", b"failtraining words")
    wait_status(stt, cid, {"ready"})
    stt.train_language_model(cid)
    wait_status(stt, cid, {"failed"})
    install_v2(fake_server, tmp_path)
    assert "failed" in api_error(lambda: stt.upgrade_language_model(cid), 400)
