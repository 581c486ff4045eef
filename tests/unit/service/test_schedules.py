"""The scheduler on a real job store: no overlapping runs, catch-up once after downtime, failures reported,
the per-schedule figures the metrics read."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from milvus_backup.errors import UsageError
from milvus_backup.service.jobs import FAIL, SUCCESS, JobRunner, JobStore
from milvus_backup.service.run import Run
from milvus_backup.service.schedules import Failure, Schedule, Scheduler

WAIT = 10.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "jobs")
    yield store
    store.close()


def schedule(cron: str = "* * * * * *", catch_up: bool = True, name: str = "nightly") -> Schedule:
    return Schedule(name, cron, "{schedule}_{date:%Y%m%d_%H%M%S}", catch_up, {"collections": ["c1"]})


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {WAIT} s"
        time.sleep(0.05)


def test_a_run_that_outlasts_due_times_skips_them_and_runs_never_overlap(store):
    release = threading.Event()
    started: list[str] = []

    def work(sched: Schedule, name: str, run: Run) -> dict[str, Any]:
        started.append(name)
        release.wait(WAIT)
        return {"create": {"bytes": 7}}

    scheduler = Scheduler([schedule()], JobRunner(store), work)  # due every second
    scheduler.start()
    try:
        wait_for(lambda: store.schedule_figures() and store.schedule_figures()[0].skipped >= 2, "skipped due times")
        assert len(started) == 1, "a second run started while the first ran"
        release.set()
        wait_for(lambda: len(started) >= 2, "run after the first ended")
    finally:
        release.set()
        scheduler.stop()
    jobs = sorted(store.scheduled("nightly", limit=10), key=lambda job: job.start_time)
    for earlier, later in itertools.pairwise(jobs):
        assert earlier.end_time <= later.start_time, "two runs of one schedule overlapped"
    (figures,) = store.schedule_figures()
    assert (
        figures.last_bytes == 7 and figures.failures == 0 and figures.last_success == max(job.end_time for job in jobs)
    )
    assert jobs[0].request == {
        "schedule": "nightly",
        "due": jobs[0].request["due"],
        "catch_up": False,
        "collections": ["c1"],
    }
    assert jobs[0].name.startswith("nightly_") and jobs[0].state == SUCCESS


def test_a_due_time_missed_while_down_runs_once_at_start_and_only_with_catch_up(store):
    ran: list[str] = []

    def work(sched: Schedule, name: str, run: Run) -> dict[str, Any]:
        ran.append(sched.name)
        return {}

    an_hour_ago = time.time() - 3600  # a previous server handled a due time then, and stopped
    for name in ("catches_up", "does_not"):
        store.mark_due(name, an_hour_ago)
    schedules = [schedule("*/10 * * * *", name="catches_up"), schedule("*/10 * * * *", False, "does_not")]
    scheduler = Scheduler([*schedules, schedule("*/10 * * * *", name="first_seen")], JobRunner(store), work)
    scheduler.start()
    try:
        wait_for(lambda: ran, "catch-up run")
        time.sleep(0.3)
    finally:
        scheduler.stop()
    assert ran == ["catches_up"]
    (job,) = store.scheduled("catches_up", limit=10)
    assert job.request["catch_up"] is True and job.state == SUCCESS
    assert store.scheduled("does_not") == [] and store.scheduled("first_seen") == []
    assert store.last_due("does_not") > an_hour_ago and store.last_due("first_seen") is not None
    assert scheduler.next_run("catches_up") > time.time()


def test_a_failed_run_is_reported_and_counted(store):
    failures: list[Failure] = []

    def work(sched: Schedule, name: str, run: Run) -> dict[str, Any]:
        raise UsageError(detail="no such collection")

    store.mark_due("nightly", time.time() - 3600)
    scheduler = Scheduler([schedule("*/10 * * * *")], JobRunner(store), work, failures.append)
    scheduler.start()
    try:
        wait_for(lambda: failures, "failure report")
    finally:
        scheduler.stop()
    (failure,) = failures
    assert failure.schedule == "nightly" and failure.job.state == FAIL and "no such collection" in failure.job.error
    (figures,) = store.schedule_figures()
    assert figures.failures == 1 and figures.last_success is None and figures.last_duration is not None


@pytest.mark.parametrize(
    ("cron", "template", "error"),
    [
        ("every night", "{schedule}", "not a cron expression"),
        ("0 2 * * *", "{schedule}-{date:%H}", "backup name"),
        ("0 2 * * *", "{nightly}", "name template"),
    ],
)
def test_a_schedule_that_cannot_run_is_refused_at_start(store, cron, template, error):
    with pytest.raises(UsageError, match=error):
        Scheduler([Schedule("nightly", cron, template, True, {})], JobRunner(store), lambda *args: {})


def test_stopping_cancels_a_running_run_and_waits_for_it_to_end(store):
    started = threading.Event()

    def work(sched: Schedule, name: str, run: Run) -> dict[str, Any]:
        started.set()
        while True:  # a long copy: it checks the run between units of work
            run.check()
            time.sleep(0.01)

    store.mark_due("nightly", time.time() - 3600)
    scheduler = Scheduler([schedule("*/10 * * * *")], JobRunner(store), work)
    scheduler.start()
    assert started.wait(WAIT)
    scheduler.stop()
    (job,) = store.scheduled("nightly")
    assert job.state == FAIL and job.cancel_requested and "cancel" in job.error.lower()
