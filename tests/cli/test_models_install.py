"""`parlance models install` killed mid-copy: the server keeps recognizing and the install can be redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LIBRIVOX, free_port, start_real_server, wait_until_up
from tests.e2e.test_upgrade_e2e import make_version

pytestmark = pytest.mark.slow
BASE = "en-US_BroadbandModel"
NEW = f"{BASE}.v2031-01-01"
# `parlance models install` whose copy stalls after its first file, once the manifest is in place too (the
# order a directory listing may give), so the kill lands mid-copy with most listed files missing.
STALLED_INSTALL = textwrap.dedent(
    """
    import shutil, sys, time
    from pathlib import Path
    from parlance.cli import app
    source, copytree = Path(sys.argv[1]), shutil.copytree
    def stalling_copy(src, dst, **kw):
        out = shutil.copy2(src, dst, **kw)
        shutil.copy2(source / "manifest.json", Path(dst).parents[len(Path(src).relative_to(source).parts) - 1])
        time.sleep(120)
        return out
    def patched(src, dst, *args, **kw):  # subfolders come back here with the copy function already passed
        return copytree(src, dst, *args, **kw) if args else copytree(src, dst, **{**kw, "copy_function": stalling_copy})
    shutil.copytree = patched
    app(["models", "install", str(source), "--data-dir", sys.argv[2]])
    """
)


def parlance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parlance", *args], capture_output=True, text=True, timeout=300)


def recognize(url: str, key: str) -> httpx.Response:
    audio = (LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav").read_bytes()
    headers = {"Content-Type": "audio/wav"}
    return httpx.post(f"{url}/v1/recognize", content=audio, headers=headers, auth=("apikey", key), timeout=120)


def test_a_killed_install_breaks_nothing_and_can_be_redone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    models = data / "models"
    source = make_version(BASE, "2031-01-01", tmp_path / "new-version")
    proc = subprocess.Popen([sys.executable, "-c", STALLED_INSTALL, str(source), str(data)], env=os.environ.copy())
    deadline = time.monotonic() + 120
    while not any((d / "manifest.json").is_file() for d in models.glob(".install-*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the install never started copying"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL and list(models.glob(".install-*"))

    key = json.loads(parlance("keys", "create", "--data-dir", str(data)).stdout)["apikey"]
    port = free_port()
    server = start_real_server(data, port)  # the next start
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, 120, server)
        first = recognize(url, key)
        assert first.status_code == 200, first.text
        assert not list(models.glob(".install-*"))  # removed at start
        assert NEW not in parlance("models", "versions", BASE, "--data-dir", str(data)).stdout
        redo = parlance("models", "install", str(source), "--data-dir", str(data))  # beside the running server
        assert redo.returncode == 0, redo.stderr
        versions = parlance("models", "versions", BASE, "--data-dir", str(data)).stdout.strip().splitlines()
        assert versions[-1].split("\t")[1] == NEW
        again = recognize(url, key)  # now on the new version
        assert again.status_code == 200 and again.json() == first.json()
    finally:
        server.terminate()
        server.wait(timeout=20)
