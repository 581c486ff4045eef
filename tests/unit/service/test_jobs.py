"""`JobRunner` and `JobStore`: how a job ends (success, failure, cancel, timeout) and when `start` returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from milvus_backup.errors import DeadlineExceededError, JobCancelledError, UsageError
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.jobs import BACKUP, EXECUTING, FAIL, SUCCESS, TIMEOUT, Job, JobRunner, JobStore
from milvus_backup.service.resources import Resources
from milvus_backup.service.run import Run
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import backup_keys

WAIT = 5.0  # at most, for anything a test waits for


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "jobs")
    yield store
    store.close()


@pytest.fixture
def runner(store: JobStore) -> JobRunner:
    return JobRunner(store, threads=2)


def _job(store: JobStore, job_id: str = "j1") -> Job:
    return store.add(job_id, BACKUP, "nightly", {"name": "nightly"})


def _ended(store: JobStore, job_id: str) -> Job:
    gives_up = time.monotonic() + WAIT
    while (job := store.get(job_id)).running:
        assert time.monotonic() < gives_up, f"job {job_id} still running"
        time.sleep(0.01)
    return job


def test_a_job_that_succeeds_keeps_its_result(runner: JobRunner, store: JobStore) -> None:
    def work(run: Run) -> dict[str, Any]:
        run.progress.start(3, "segments", "backup")
        run.progress.advance(3)
        run.progress.finish()
        return {"segments": 3}

    job = runner.run(_job(store), work)
    assert (job.state, job.progress, job.result, job.error) == (SUCCESS, 100, {"segments": 3}, "")
    assert (job.unit, job.done, job.total) == ("segments", 3, 3)


def test_a_job_that_fails_keeps_the_message(runner: JobRunner, store: JobStore) -> None:
    def work(run: Run) -> dict[str, Any]:
        raise UsageError(detail="no such collection")

    with pytest.raises(UsageError):
        runner.run(_job(store), work)
    job = store.get("j1")
    assert (job.state, job.error) == (FAIL, "no such collection")


def test_a_cancelled_job_stops_at_its_next_unit(runner: JobRunner, store: JobStore) -> None:
    done: list[int] = []
    third_done, go_on = threading.Event(), threading.Event()

    def work(run: Run) -> dict[str, Any]:
        for unit in range(100):
            run.check()
            done.append(unit)
            if unit == 2:
                third_done.set()
                go_on.wait(WAIT)
        return {}

    runner.start(_job(store), work)
    assert third_done.wait(WAIT)
    assert runner.cancel("j1").cancel_requested
    go_on.set()
    job = _ended(store, "j1")
    assert done == [0, 1, 2]
    assert job.state == FAIL and job.error == JobCancelledError(job_id="j1").message


def test_stopping_the_runner_cancels_every_running_job_and_waits_until_each_has_cleaned_up(
    runner: JobRunner, store: JobStore
) -> None:
    started, cleaned_up = threading.Event(), threading.Event()

    def work(run: Run) -> dict[str, Any]:
        started.set()
        try:
            while True:  # a long copy: it checks the run between units of work
                run.check()
                time.sleep(0.01)
        finally:
            time.sleep(0.2)  # the clean-up after a cancel takes a while; the store must stay open for it
            cleaned_up.set()

    runner.start(_job(store), work)
    assert started.wait(WAIT)
    runner.stop(WAIT)
    assert cleaned_up.is_set()
    job = store.get("j1")
    assert job.state == FAIL and job.error == JobCancelledError(job_id="j1").message


def test_a_job_past_its_timeout_ends_in_state_timeout(runner: JobRunner, store: JobStore) -> None:
    def work(run: Run) -> dict[str, Any]:
        run.sleep(WAIT)
        return {}

    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        runner.run(_job(store), work, timeout=0.1)
    assert time.monotonic() - started < 1
    job = store.get("j1")
    assert job.state == TIMEOUT == 4
    assert "timeout of 0.1 s" in job.error


def test_start_waits_for_the_checks_then_returns_while_the_job_runs(runner: JobRunner, store: JobStore) -> None:
    release = threading.Event()

    def work(run: Run) -> dict[str, Any]:
        run.checks_passed()
        release.wait(WAIT)
        return {"ok": True}

    job = runner.start(_job(store), work, wait_for_checks=True)
    assert job.state == EXECUTING
    release.set()
    assert _ended(store, "j1").state == SUCCESS


def test_a_request_refused_by_its_checks_fails_in_start(runner: JobRunner, store: JobStore) -> None:
    def work(run: Run) -> dict[str, Any]:
        raise UsageError(detail="backup 'nightly' exists")

    with pytest.raises(UsageError, match="exists"):
        runner.start(_job(store), work, wait_for_checks=True)
    assert store.get("j1").state == FAIL


def test_a_backup_job_past_its_timeout_leaves_no_backup(
    runner: JobRunner, store: JobStore, resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    source.flush_polls = 1000  # the flush never ends
    with pytest.raises(DeadlineExceededError):
        runner.run(
            _job(store), lambda run: {"name": create_backup(resources, CreateRequest("nightly"), run).name}, timeout=0.2
        )
    assert store.get("j1").state == TIMEOUT
    assert backup_keys(backup_storage, "nightly") == []
