"""Batch transcription on the real engines, through `parlance serve` subprocesses: the five LibriVox clips in one
job give the same words as `/v1/recognize`, and a server killed with SIGKILL mid-job resumes it on restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.azure.conftest import wait_for_status
from tests.conftest import LIBRIVOX, free_port, start_real_server, wait_until_up

pytestmark = pytest.mark.slow
V32 = "/speechtotext/v3.2"
MODEL = "en-US_BroadbandModel"
CLIPS = sorted(LIBRIVOX.glob("*.wav"))


class Server:
    """`parlance serve` on a data dir whose content root is the LibriVox folder; can be killed and restarted."""

    def __init__(self, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PARLANCE_CONTENT_ROOT", str(LIBRIVOX))
        self.data_dir = data_dir
        out = subprocess.run(
            [sys.executable, "-m", "parlance", "keys", "create", "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        self.apikey = json.loads(out.stdout)["apikey"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.proc = start_real_server(self.data_dir, port)
        self.url = f"http://127.0.0.1:{port}"
        wait_until_up(self.url, 120, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Ocp-Apim-Subscription-Key": self.apikey}, timeout=120)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    srv = Server(tmp_path, monkeypatch)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def newest_version(c: httpx.Client, base: str) -> str:
    versions = [m for m in c.get(f"{V32}/models/base").json()["values"] if m["displayName"].startswith(base + ".")]
    return str(max(versions, key=lambda m: m["createdDateTime"])["self"])


def create_batch(c: httpx.Client, clips: list[Path]) -> dict[str, Any]:
    payload = {
        "displayName": "librivox",
        "locale": "en-US",
        "model": {"self": newest_version(c, MODEL)},
        "contentUrls": [clip.as_uri() for clip in clips],
    }
    resp = c.post(f"{V32}/transcriptions", json=payload)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def results(c: httpx.Client, item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    files = c.get(item["links"]["files"]).json()["values"]
    return {f["name"]: c.get(f["links"]["contentUrl"]).json() for f in files}


def test_five_librivox_clips_in_one_job_match_recognize(server: Server) -> None:
    with server.client() as c:
        item = wait_for_status(c, create_batch(c, CLIPS)["self"], timeout=600)
        assert item["status"] == "Succeeded", item
        out = results(c, item)
        assert out["report.json"]["successfulTranscriptionsCount"] == len(CLIPS) == 5
        for i, clip in enumerate(CLIPS):
            batch = out[f"contenturl_{i}.json"]
            assert batch["source"] == clip.as_uri()
            recognized = c.post(
                "/v1/recognize",
                params={"model": MODEL},
                content=clip.read_bytes(),
                headers={"Content-Type": "audio/wav"},
                auth=("apikey", server.apikey),
            ).json()
            words = " ".join(r["alternatives"][0]["transcript"] for r in recognized["results"]).split()
            assert words, clip.name
            assert batch["combinedRecognizedPhrases"][0]["lexical"] == " ".join(words), clip.name


def test_a_server_killed_mid_job_resumes_it_after_restart(server: Server) -> None:
    clips = CLIPS * 2  # ten inputs: enough time to kill the server between two of them
    with server.client() as c:
        item = create_batch(c, clips)
    tid = item["self"].rsplit("/", 1)[1]
    folder = server.data_dir / "transcriptions" / tid
    deadline = time.monotonic() + 300
    while not (folder / "contenturl_0.json").exists():
        assert time.monotonic() < deadline, "no input was transcribed"
        time.sleep(0.02)
    server.kill()
    done = {p.name: p.stat().st_mtime_ns for p in folder.glob("contenturl_*.json")}
    assert not (folder / "report.json").exists() and len(done) < len(clips), "the job ended before the kill"

    server.start()  # on another port: entity URLs change with the server's
    with server.client() as c:
        item = wait_for_status(c, f"{V32}/transcriptions/{tid}", timeout=600)
        assert item["status"] == "Succeeded", item
        out = results(c, item)
    assert out["report.json"]["successfulTranscriptionsCount"] == len(clips)
    assert sorted(out) == sorted([f"contenturl_{i}.json" for i in range(len(clips))] + ["report.json"])
    # inputs done before the kill were not transcribed again
    assert {name: (folder / name).stat().st_mtime_ns for name in done} == done
    # the same clip gives the same words before and after the restart
    first, again = out["contenturl_0.json"], out[f"contenturl_{len(CLIPS)}.json"]
    assert first["combinedRecognizedPhrases"] == again["combinedRecognizedPhrases"]
    assert not list(folder.glob(".*.tmp"))


def parlance(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARLANCE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "parlance", *args], env=env, capture_output=True, text=True)


def test_cli_creates_waits_shows_and_downloads(tmp_path: Path) -> None:
    clip, missing = CLIPS[0], LIBRIVOX / "missing.wav"
    root = ["--content-root", str(LIBRIVOX)]
    made = parlance(
        "transcriptions", "create", "--name", "cli", "--locale", "en-US", "--model", MODEL, "--wait", *root,
        str(clip), missing.as_uri(), data_dir=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = json.loads(made.stdout)
    assert shown["status"] == "Succeeded" and shown["files"] == ["contenturl_0.json", "report.json"]
    assert made.stderr.startswith(f"Awaiting transcription {shown['id']} success or failure ")
    assert "Running" in made.stderr and made.stderr.rstrip().endswith("Succeeded Done!")

    listed = parlance("transcriptions", "list", data_dir=tmp_path)
    assert listed.stdout.split("\t")[:2] == [shown["id"], "Succeeded"]
    assert json.loads(parlance("transcriptions", "show", shown["id"], data_dir=tmp_path).stdout) == shown

    out = tmp_path / "out"
    got = parlance("transcriptions", "download", shown["id"], "--out", str(out), data_dir=tmp_path)
    assert got.stdout.split() == [str(out / "contenturl_0.json"), str(out / "report.json")]
    report = json.loads((out / "report.json").read_text())
    assert [d["status"] for d in report["details"]] == ["Succeeded", "Failed"]
    assert json.loads((out / "contenturl_0.json").read_text())["source"] == clip.as_uri()

    outside = parlance("transcriptions", "create", "--name", "x", "--locale", "en-US", "/etc/hosts", data_dir=tmp_path)
    assert outside.returncode != 0 and "file:// URLs are not allowed" in outside.stderr
