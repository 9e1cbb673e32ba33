"""A restart after a crash must never run a finished recognition job again."""

from __future__ import annotations

from pathlib import Path

from parlance.store.orm import Job
from tests.api.test_recognize_api import CLIP
from tests.conftest import fake_services


def test_a_job_killed_after_saving_its_results_is_not_run_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = fake_services(data)
    owner = first.auth.create_key(instance_name="tests").instance_id
    created = first.recognition_jobs.create(owner, [(CLIP.read_bytes(), "audio/wav")], {}, "http://test")
    job = first.jobs._claim()  # what a worker does, up to the kind's own commit; then the process dies
    assert job is not None and job.target_id == created["id"]
    first.jobs.kinds[job.kind].run(job, lambda pct: None)
    first.close()

    second = fake_services(data)  # the restart
    second.start()
    try:
        assert second.jobs.wait_idle(20)
        finished = second.recognition_jobs.get(owner, created["id"])
        with second.db.session() as s:
            assert s.get(Job, job.id).status == "succeeded"
    finally:
        second.close()
    assert finished["status"] == "completed" and len(finished["results"]) == 1
    assert "warnings" not in finished
