"""Run the ibm-watson SDK's own STT integration suite against a Parlance server with TLS.

    python bench/sdk_integration.py PATH/test/integration/test_speech_to_text_v1.py [-- extra pytest args]

The suite is not ours and is not kept in this repository: pass the path of a copy of the SDK's
`test/integration/test_speech_to_text_v1.py` laid out as upstream, with its `resources/` two levels up. This
starts `parlance serve` on a fresh data directory with a self-signed certificate, creates an API key, and runs
pytest on the suite with the SDK configured only through its environment variables, as its README says:
IAM authentication against the server's `/identity/token` and SSL verification disabled for both the service
and the token requests. It prints pass/fail per test and exits with pytest's status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def parlance(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "parlance", *args], env=env, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", verify=False, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")


def sdk_environment(url: str, apikey: str) -> dict[str, str]:
    """The variables ibm-cloud-sdk-core reads for a service named `speech_to_text`."""
    return {
        "SPEECH_TO_TEXT_URL": url,
        "SPEECH_TO_TEXT_AUTH_TYPE": "iam",
        "SPEECH_TO_TEXT_APIKEY": apikey,
        "SPEECH_TO_TEXT_AUTH_URL": url,  # the IAM authenticator posts to {AUTH_URL}/identity/token
        "SPEECH_TO_TEXT_DISABLE_SSL": "true",  # the service's requests and its WebSocket
        "SPEECH_TO_TEXT_AUTH_DISABLE_SSL": "true",  # the token requests
    }


def outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """(test, outcome, first line of the failure) from pytest's JUnit XML."""
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, why = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                why = (node.get("message") or "").splitlines()[0][:160] if node.get("message") else ""
                break
        rows.append((case.get("name", "?"), outcome, why))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, help="the SDK's test_speech_to_text_v1.py, its resources/ two levels up")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    parser.add_argument("--keep", type=Path, help="data directory to use and keep (default: a temporary one)")
    args = parser.parse_args()
    suite = args.suite.resolve()
    with tempfile.TemporaryDirectory(prefix="parlance-sdk-") as tmp:
        data = args.keep or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed_certificate(data)
        apikey = json.loads(
            parlance("keys", "create", "--data-dir", str(data), check=True, capture_output=True).stdout
        )["apikey"]
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        with open(data / "server.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "parlance", "serve", "--port", str(port), "--data-dir", str(data),
                 "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
                stdout=log, stderr=log, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            )  # fmt: skip
            try:
                wait_up(url, proc)
                junit = data / "junit.xml"
                # run from the suite's directory with no conftest or ini of ours in the way
                run = subprocess.run(
                    [sys.executable, "-m", "pytest", str(suite), "-v", "-p", "no:cacheprovider", "--rootdir",
                     str(suite.parent), f"--junitxml={junit}", *args.pytest_args],
                    cwd=suite.parent, env={**os.environ, **sdk_environment(url, apikey)},
                )  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        rows = outcomes(junit) if junit.exists() else []
        print(f"\nSDK integration suite against {url} (TLS, self-signed, IAM):\n")
        print("| test | outcome | why |\n|---|---|---|")
        for name, outcome, why in rows:
            print(f"| {name} | {outcome} | {why} |")
        print(f"\n{sum(o == 'passed' for _, o, _ in rows)} passed, {sum(o != 'passed' for _, o, _ in rows)} failed")
        return run.returncode


if __name__ == "__main__":
    sys.exit(main())
