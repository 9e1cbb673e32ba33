"""Batch transcriptions on the job runner: resuming after an interrupted run, giving up after two, and a
timeToLive sweep that never fails a read (fake engine; the real-engine runs are in tests/e2e)."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from parlance.engines.registry import EngineRegistry
from parlance.jobs.runner import ABANDONED, MAX_ATTEMPTS
from parlance.services import transcriptions as module
from parlance.services.container import Services
from parlance.services.transcriptions import TranscriptionSpec
from parlance.settings import Settings
from parlance.store.orm import Job, Transcription, utcnow
from tests.api.test_recognize_api import CLIP
from tests.conftest import MovableClock
from tests.fakes import FakeEngine, fake_version


def build(data: Path, content: Path, clock: MovableClock | None = None) -> Services:
    registry = EngineRegistry()
    registry.register(FakeEngine("fake-previous", "previous"))
    settings = Settings(data_dir=data, content_root=content)
    builtins = [fake_version("en-US_BroadbandModel", "fake-previous")]
    clock = clock or MovableClock(datetime.now(UTC))
    return Services.build(settings, registry=registry, builtins=builtins, clock=clock)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    root.mkdir()
    for name in ("a.wav", "b.wav"):
        shutil.copy(CLIP, root / name)
    return root


def spec(content: Path, **extra: object) -> TranscriptionSpec:
    urls = [(content / n).as_uri() for n in ("a.wav", "b.wav")]
    return TranscriptionSpec(display_name="t", locale="en-US", content_urls=urls, **extra)  # type: ignore[arg-type]


def wait_terminal(svc: Services, owner: str, tid: str, timeout: float = 30) -> Transcription:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = svc.transcriptions.get(owner, tid)
        if row.status in ("Succeeded", "Failed"):
            return row
        time.sleep(0.05)
    raise AssertionError(f"still {row.status}")


def interrupt(svc: Services, tid: str, attempts: int) -> None:
    """What a killed server leaves: the job `running` after `attempts` runs, the transcription Running."""
    with svc.db.session() as s:
        silent = utcnow() - timedelta(hours=1)  # no heartbeat since: on PostgreSQL, recovery goes by that lease
        s.execute(update(Job).where(Job.target_id == tid).values(status="running", attempts=attempts, updated=silent))
        s.execute(update(Transcription).where(Transcription.id == tid).values(status="Running", finished=None))


def test_a_resumed_job_skips_inputs_already_written(tmp_path: Path, content: Path) -> None:
    svc = build(tmp_path / "data", content)
    owner = svc.auth.ensure_dev_instance()
    tid = svc.transcriptions.create(owner, spec(content)).id
    svc.start()
    assert wait_terminal(svc, owner, tid).status == "Succeeded"
    svc.close()
    folder = svc.transcriptions.folder(tid)
    done_before = (folder / "contenturl_0.json").stat().st_mtime_ns
    (folder / "contenturl_1.json").unlink()  # the run was killed after the first input
    (folder / "report.json").unlink()
    interrupt(svc, tid, attempts=1)

    again = build(tmp_path / "data", content)
    again.start()
    try:
        assert wait_terminal(again, owner, tid).status == "Succeeded"
        assert (folder / "contenturl_0.json").stat().st_mtime_ns == done_before  # not decoded again
        assert (folder / "contenturl_1.json").is_file() and (folder / "report.json").is_file()
        assert not list(folder.glob(".*.tmp"))
    finally:
        again.close()


def test_a_transcription_interrupted_twice_fails_with_the_reason(tmp_path: Path, content: Path) -> None:
    svc = build(tmp_path / "data", content)
    owner = svc.auth.ensure_dev_instance()
    tid = svc.transcriptions.create(owner, spec(content)).id
    interrupt(svc, tid, attempts=MAX_ATTEMPTS)
    svc.start()  # recovery gives up on the job
    try:
        row = svc.transcriptions.get(owner, tid)
        assert row.status == "Failed" and row.error == {"code": "InternalServerError", "message": ABANDONED}
        assert row.finished is not None
        report = svc.transcriptions.files(owner, tid)
        assert [f.name for f in report] == ["report.json"]
        assert '"failedTranscriptionsCount": 2' in report[0].path.read_text()
        with svc.db.session() as s:
            assert s.scalar(select(Job.status).where(Job.target_id == tid)) == "failed"
    finally:
        svc.close()


def test_the_sweep_skips_a_row_it_cannot_delete_and_reads_still_work(
    tmp_path: Path, content: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = MovableClock(datetime.now(UTC))
    svc = build(tmp_path / "data", content, clock)
    owner = svc.auth.ensure_dev_instance()
    stuck, gone = (svc.transcriptions.create(owner, spec(content, time_to_live=timedelta(hours=1))).id for _ in "ab")
    svc.start()
    try:
        for tid in (stuck, gone):
            wait_terminal(svc, owner, tid)
        real_rmtree = shutil.rmtree

        def rmtree(path: Path, *args: object, **kwargs: object) -> None:
            if Path(path).name == stuck:
                raise PermissionError(f"cannot remove {path}")
            real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(module.shutil, "rmtree", rmtree)
        clock.current += timedelta(hours=2)
        with caplog.at_level(logging.ERROR, logger=module.__name__):
            rows, total = svc.transcriptions.list(owner)
        assert [r.id for r in rows] == [stuck] and total == 1  # kept for the next sweep, the other deleted
        assert f"could not delete {stuck}" in caplog.text
        monkeypatch.setattr(module.shutil, "rmtree", real_rmtree)
        assert svc.transcriptions.list(owner) == ([], 0)
    finally:
        svc.close()
