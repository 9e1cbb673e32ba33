"""bench/sdk_integration.py: a suite written as the SDK's integration tests are (a client built from the
environment alone) runs against a TLS server with IAM authentication, and each test's outcome is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

SUITE = """
import ibm_watson


def test_models_over_https_with_an_iam_token():
    stt = ibm_watson.SpeechToTextV1()  # URL, IAM apikey and SSL settings from SPEECH_TO_TEXT_* only
    names = {m["name"] for m in stt.list_models().get_result()["models"]}
    assert "en-US_BroadbandModel" in names


def test_a_failure_is_reported():
    assert False, "on purpose"
"""


def test_runner_reports_each_test(tmp_path: Path) -> None:
    suite = tmp_path / "test" / "integration" / "test_suite.py"
    suite.parent.mkdir(parents=True)
    suite.write_text(SUITE)
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sdk_integration.py"), str(suite)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr  # pytest's status: a test failed
    assert "| test_models_over_https_with_an_iam_token | passed |" in run.stdout
    assert "| test_a_failure_is_reported | failed |" in run.stdout
    assert "1 passed, 1 failed" in run.stdout
