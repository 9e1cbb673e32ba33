"""Custom acoustic model API through the ibm-watson SDK and plain HTTP, on a fake engine (shapes, rules,
archive attacks); adaptation quality is tested with the real engine in tests/e2e/test_acoustic_e2e.py."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from ibm_cloud_sdk_core import ApiException
from ibm_watson import SpeechToTextV1

from parlance.api.app import create_app
from parlance.engines.base import AdaptationInput, Capabilities, ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.api.test_recognize_api import CLIP, assert_watson_error, sdk
from tests.conftest import LiveServer, free_port, wait_until_up
from tests.fakes import FakeEngine, fake_version

PG = "en-US_BroadbandModel"
NG = "en-US_Multimedia"
WAV = CLIP.read_bytes()


class FakeAdaptingEngine(FakeEngine):
    """The fake previous-generation engine, able to 'adapt': it records what it was given."""

    def __init__(self) -> None:
        super().__init__("fake-adapting", "previous")
        self.capabilities = Capabilities(generation="previous", acoustic_adaptation=True)

    def adapt(self, version: ModelVersion, data: AdaptationInput, out_dir: Path, progress: Any) -> dict[str, Any]:
        progress(50)
        transcripts = sum(1 for u in data.utterances if u.transcript is not None)
        summary = {"utterances": len(data.utterances), "transcripts": transcripts}
        (out_dir / "model.json").write_text(json.dumps(summary))
        return summary


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    registry = EngineRegistry()
    registry.register(FakeAdaptingEngine())
    registry.register(FakeEngine("fake-next", "next"))
    builtins = [fake_version(PG, "fake-adapting"), fake_version(NG, "fake-next")]
    settings = Settings(data_dir=tmp_path / "data", acoustic_min_minutes=0.04)
    services = Services.build(settings, registry=registry, builtins=builtins)
    key = services.auth.create_key(instance_name="tests")
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(settings, services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    yield LiveServer(url, services, key.apikey, key.instance_id, tmp_path / "data")
    srv.should_exit = True
    thread.join(timeout=10)


def client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("apikey", server.apikey), timeout=30)


def wait_model(stt: SpeechToTextV1, cid: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = stt.get_acoustic_model(cid).get_result()
        if model["status"] in statuses:
            return dict(model)
        time.sleep(0.05)
    raise AssertionError(f"model stayed {model['status']}")


def make_zip(members: dict[str, bytes], **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", **kwargs) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tgz(add: Any) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        add(tf)
    return buf.getvalue()


def tar_file(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def test_workflow_with_sdk(server: LiveServer) -> None:
    stt = sdk(server)
    cid = stt.create_acoustic_model("speaker", PG, description="one voice").get_result()["customization_id"]
    model = stt.get_acoustic_model(cid).get_result()
    assert model["status"] == "pending" and model["versions"] == [f"{PG}.v2026-01-01"]
    assert model["owner"] == server.instance_id and "dialect" not in model
    assert [m["customization_id"] for m in stt.list_acoustic_models().get_result()["customizations"]] == [cid]
    # an acoustic model is not a language model, and vice versa
    with pytest.raises(ApiException) as err:
        stt.get_language_model(cid)
    assert err.value.status_code == 404

    stt.add_audio(cid, "clip", WAV, content_type="audio/wav").get_result()
    archive = make_zip({"a/one.wav": WAV, "a/one.txt": b"Hello, world!", "two.wav": WAV})
    stt.add_audio(cid, "batch", archive, content_type="application/zip").get_result()
    wait_model(stt, cid, {"ready"})
    listing = stt.list_audio(cid).get_result()
    seconds = len(WAV[44:]) / 32000
    assert listing["total_minutes_of_audio"] == pytest.approx(3 * seconds / 60, abs=0.02)
    assert {a["name"]: a["status"] for a in listing["audio"]} == {"clip": "ok", "batch": "ok"}
    one = stt.get_audio(cid, "clip").get_result()
    assert one["details"] == {"type": "audio", "codec": "pcm_s16le", "frequency": 16000}
    assert one["duration"] == round(seconds)
    batch = stt.get_audio(cid, "batch").get_result()
    assert batch["container"]["details"] == {"type": "archive", "compression": "zip"}
    assert [m["name"] for m in batch["audio"]] == ["a/one.wav", "two.wav"]

    stt.train_acoustic_model(cid).get_result()
    model = wait_model(stt, cid, {"available"})
    assert model["progress"] == 100
    meta = json.loads(next((server.data_dir / "artifacts" / cid / "acoustic").rglob("model.json")).read_text())
    assert meta["transcripts"] == 1  # the .txt beside a/one.wav; the others are decoded first
    # recognition uses it, no longer "ignored"
    result = stt.recognize(io.BytesIO(WAV), content_type="audio/wav", acoustic_customization_id=cid).get_result()
    assert "warnings" not in result
    with pytest.raises(ApiException) as err:
        stt.upgrade_acoustic_model(cid)
    assert err.value.status_code == 400 and "up-to-date" in err.value.message

    stt.delete_audio(cid, "clip").get_result()
    assert stt.get_acoustic_model(cid).get_result()["status"] == "ready"
    stt.reset_acoustic_model(cid).get_result()
    assert stt.list_audio(cid).get_result() == {"total_minutes_of_audio": 0, "audio": []}
    stt.delete_acoustic_model(cid).get_result()
    assert not (server.data_dir / "artifacts" / cid).exists()


def test_rules(server: LiveServer) -> None:
    http = client(server)
    r = http.post("/v1/acoustic_customizations", json={"name": "ng", "base_model_name": NG})
    assert "not support acoustic" in assert_watson_error(r, 400)["error"]
    cid = http.post("/v1/acoustic_customizations", json={"name": "m", "base_model_name": PG}).json()["customization_id"]
    assert_watson_error(http.post("/v1/acoustic_customizations", json={"name": "m", "base_model_name": PG}), 409)
    # another instance sees nothing
    other = server.services.auth.create_key(instance_name="other").apikey  # type: ignore[union-attr]
    assert_watson_error(httpx.get(f"{server.url}/v1/acoustic_customizations/{cid}", auth=("apikey", other)), 404)
    # no audio / too little audio: 400 and the model is failed
    assert_watson_error(http.post(f"/v1/acoustic_customizations/{cid}/train"), 400)
    short = WAV[:44] + WAV[44:16044]
    r = http.post(
        f"/v1/acoustic_customizations/{cid}/audio/short", content=short, headers={"content-type": "audio/wav"}
    )
    assert r.status_code == 201
    deadline = time.monotonic() + 20
    while http.get(f"/v1/acoustic_customizations/{cid}/audio/short").json()["status"] == "being_processed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = http.post(f"/v1/acoustic_customizations/{cid}/train")
    assert "audio duration must be between" in assert_watson_error(r, 400)["error"]
    assert http.get(f"/v1/acoustic_customizations/{cid}").json()["status"] == "failed"
    # duplicates need allow_overwrite; a single audio file takes no Contained-Content-Type
    headers = {"content-type": "audio/wav"}
    assert_watson_error(
        http.post(f"/v1/acoustic_customizations/{cid}/audio/short", content=short, headers=headers), 400
    )
    r = http.post(
        f"/v1/acoustic_customizations/{cid}/audio/x",
        content=WAV,
        headers={**headers, "contained-content-type": "audio/wav"},
    )
    assert_watson_error(r, 400)
    # an undecodable file is accepted, then invalid; strict training refuses it
    r = http.post(f"/v1/acoustic_customizations/{cid}/audio/bad", content=b"RIFF" + b"\x00" * 200, headers=headers)
    assert r.status_code == 201
    deadline = time.monotonic() + 20
    while (bad := http.get(f"/v1/acoustic_customizations/{cid}/audio/bad").json())["status"] == "being_processed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert bad["status"] == "invalid"
    # a language model id that does not exist
    r = http.post(f"/v1/acoustic_customizations/{cid}/train", params={"custom_language_model_id": "nope"})
    assert_watson_error(r, 400)
    # recognizing with an untrained acoustic model, or on the wrong base model
    r = http.post("/v1/recognize", params={"acoustic_customization_id": cid}, content=WAV, headers=headers)
    assert "acoustic model is not available" in assert_watson_error(r, 400)["error"]
    r = http.post("/v1/recognize", params={"acoustic_customization_id": cid, "model": NG}, content=WAV, headers=headers)
    assert_watson_error(r, 400)


UP_ONE = "../evil.wav"  # outside-path: test input
UP_TWO = "../../evil.wav"  # outside-path: test input
ATTACKS = {
    "traversal": (make_zip({UP_ONE: WAV}), "application/zip", "path traversal"),
    "absolute": (make_zip({"/etc/evil.wav": WAV}), "application/zip", "absolute"),
    "nested": (make_zip({"inner.zip": make_zip({"a.wav": WAV})}), "application/zip", "nested"),
    "nested-renamed": (
        make_zip({"inner.wav": make_tgz(lambda tf: tar_file(tf, "a.wav", WAV))}),
        "application/zip",
        "nested",
    ),
    "not-audio": (make_zip({"a.wav": WAV, "run.sh": b"#!/bin/sh\n"}), "application/zip", "not audio"),
    "too-many": (make_zip({f"{i}.txt": b"x" for i in range(1001)}), "application/zip", "more than"),
    "zip-bomb": (
        make_zip({"a.wav": b"\x00" * (60 << 20)}, compression=zipfile.ZIP_DEFLATED),
        "application/zip",
        "bomb",
    ),
    "gzip-bomb": (make_tgz(lambda tf: tar_file(tf, "a.wav", b"\x00" * (60 << 20))), "application/gzip", "bomb"),
    "tar-traversal": (make_tgz(lambda tf: tar_file(tf, UP_TWO, WAV)), "application/gzip", "traversal"),
    "not-a-zip": (b"this is not a zip archive at all", "application/zip", "not a valid zip"),
    "empty": (make_zip({}), "application/zip", "no audio"),
}


def _symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.wav")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _symlink_tgz(tf: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("link.wav")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tf.addfile(info)


ATTACKS["zip-symlink"] = (_symlink_zip(), "application/zip", "link")
ATTACKS["tar-symlink"] = (make_tgz(_symlink_tgz), "application/gzip", "link")


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_archive_attacks_are_refused_and_leave_nothing(server: LiveServer, attack: str) -> None:
    data, content_type, message = ATTACKS[attack]
    http = client(server)
    cid = http.post("/v1/acoustic_customizations", json={"name": "m", "base_model_name": PG}).json()["customization_id"]
    r = http.post(
        f"/v1/acoustic_customizations/{cid}/audio/{attack}", content=data, headers={"content-type": content_type}
    )
    assert message in assert_watson_error(r, 400)["error"]
    assert http.get(f"/v1/acoustic_customizations/{cid}/audio").json() == {"total_minutes_of_audio": 0, "audio": []}
    assert not (server.data_dir / "artifacts" / cid).exists()
    assert not list((server.data_dir).rglob("evil.wav"))


def install_v2(server: LiveServer, tmp_path: Path) -> str:
    src = tmp_path / "v2"
    src.mkdir()
    (src / "weights.bin").write_bytes(b"new weights")
    version = f"{PG}.v2026-02-01"
    manifest = {
        "base_model": PG,
        "version": version,
        "engine": "fake-adapting",
        "language": "en-US",
        "created": "2026-02-01T00:00:00+00:00",
        "files": {"weights.bin": hashlib.sha256(b"new weights").hexdigest()},
    }
    (src / "manifest.json").write_text(json.dumps(manifest))
    assert server.services is not None
    server.services.catalog.install(src)
    return version


def wait_lm(stt: SpeechToTextV1, cid: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (model := stt.get_language_model(cid).get_result())["status"] not in statuses:
        assert time.monotonic() < deadline, model
        time.sleep(0.05)
    return dict(model)


def test_seed_000_upgrade_of_language_and_acoustic_models_together(server: LiveServer, tmp_path: Path) -> None:
    stt = sdk(server)
    v1 = f"{PG}.v2026-01-01"
    lm = stt.create_language_model("words", PG).get_result()["customization_id"]
    stt.add_word(lm, "zzquux").get_result()
    wait_lm(stt, lm, {"ready"})
    stt.train_language_model(lm).get_result()
    wait_lm(stt, lm, {"available"})
    am = stt.create_acoustic_model("voice", PG).get_result()["customization_id"]
    stt.add_audio(am, "clip", WAV, content_type="audio/wav").get_result()
    wait_model(stt, am, {"ready"})
    stt.train_acoustic_model(am, custom_language_model_id=lm).get_result()
    wait_model(stt, am, {"available"})

    def recognize(**params: Any) -> dict[str, Any]:
        ids = {"language_customization_id": lm, "acoustic_customization_id": am}
        return dict(stt.recognize(io.BytesIO(WAV), content_type="audio/wav", **ids, **params).get_result())

    assert "warnings" not in recognize()
    v2 = install_v2(server, tmp_path)
    # the language model must be upgraded first
    with pytest.raises(ApiException) as err:
        stt.upgrade_acoustic_model(am, custom_language_model_id=lm)
    assert err.value.status_code == 400 and "upgrade the language model first" in err.value.message
    stt.upgrade_language_model(lm).get_result()
    assert wait_lm(stt, lm, {"available"})["versions"] == [v1, v2]
    # only one of the two upgraded: the version both have (the old one) is used, with Watson's warning
    assert "previous version of base model" in recognize()["warnings"][0]
    stt.upgrade_acoustic_model(am).get_result()
    assert wait_model(stt, am, {"available"})["versions"] == [v1, v2]
    # again with the upgraded language model; then nothing changed: force is needed
    stt.upgrade_acoustic_model(am, custom_language_model_id=lm).get_result()
    wait_model(stt, am, {"available"})
    with pytest.raises(ApiException) as err:
        stt.upgrade_acoustic_model(am, custom_language_model_id=lm)
    assert err.value.status_code == 400 and err.value.message == "No input data modified since last training"
    stt.upgrade_acoustic_model(am, custom_language_model_id=lm, force=True).get_result()
    wait_model(stt, am, {"available"})
    assert "warnings" not in recognize()  # both on the new version
    assert "previous version of base model" in recognize(base_model_version=v1)["warnings"][0]
    assert server.services is not None
    meta = server.services.acoustic.artifact_meta(am, v2)
    assert meta["language_customization_id"] == lm
