"""Backups the server makes on its own: each schedule's cron expression (croniter, UTC) gives its due times; at each
one the scheduler starts a job in the job store, like any backup job, whose work (given by the server: create,
then prune) runs in a worker thread.

* Two runs of one schedule never overlap: a due time that comes while the schedule's previous run still runs is
  skipped, with a warning in the log and a count in the store (`milvus_backup_schedule_skipped_runs_total`).
* Each handled due time (run or skipped) is recorded in the store. At start-up, a schedule with `catch_up` whose
  latest due time passed while no server ran it (its recorded one is older) runs once, at once, however many
  were missed. A schedule seen for the first time has nothing to catch up.
* A run that fails calls `on_failure` (the server's webhook) after its job is marked failed.
* When the server stops, the runs still running are cancelled (they clean up as after any failure).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from croniter import croniter

from milvus_backup.errors import BackupToolError, UsageError
from milvus_backup.service.jobs import BACKUP, SUCCESS, Job, JobRunner
from milvus_backup.service.names import validate_backup_name
from milvus_backup.service.run import Run

logger = logging.getLogger(__name__)

#: The longest the scheduler sleeps between looks at the clock (a stop is noticed within it).
TICK_SECONDS = 1.0
#: How long a stopping server waits for its cancelled scheduled runs to clean up.
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    name_template: str
    catch_up: bool
    #: What the run does, for the job's request and the web page (selection, retention...).
    describes: dict[str, Any]

    def validate(self) -> None:
        if not croniter.is_valid(self.cron):
            raise UsageError(
                detail=f"schedule {self.name!r}: cron {self.cron!r} is not a cron expression",
                hint="Five fields (minute hour day month weekday), or six with seconds last, e.g. '0 2 * * *'.",
            )
        validate_backup_name(self.backup_name(datetime(2000, 1, 1, tzinfo=timezone.utc)))

    def backup_name(self, due: datetime) -> str:
        try:
            return self.name_template.format(schedule=self.name, date=due)
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                detail=f"schedule {self.name!r}: name template {self.name_template!r}: {exc!r}",
                hint="Use {schedule} and {date:%Y%m%d_%H%M%S} (strftime codes).",
            ) from exc

    def next_due(self, after: float) -> float:
        return float(croniter(self.cron, datetime.fromtimestamp(after, tz=timezone.utc)).get_next(float))

    def previous_due(self, before: float) -> float:
        return float(croniter(self.cron, datetime.fromtimestamp(before, tz=timezone.utc)).get_prev(float))


@dataclass(frozen=True)
class Failure:
    schedule: str
    job: Job


#: What a scheduled run does: given the schedule, the backup name and the job's run; returns the job's result.
ScheduledWork = Callable[[Schedule, str, Run], dict[str, Any]]


class Scheduler:
    def __init__(
        self,
        schedules: list[Schedule],
        runner: JobRunner,
        work: ScheduledWork,
        on_failure: Callable[[Failure], None] = lambda failure: None,
    ) -> None:
        for schedule in schedules:
            schedule.validate()
        self.schedules = schedules
        self._runner, self._work, self._on_failure = runner, work, on_failure
        self._next: dict[str, float] = {}
        self._running: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def next_run(self, schedule: str) -> float | None:
        return self._next.get(schedule)

    def start(self) -> None:
        """Catch up what was missed, then run the schedules in a thread until `stop`."""
        if not self.schedules:
            return
        now = time.time()
        store = self._runner.store
        for schedule in self.schedules:
            handled = store.last_due(schedule.name)
            latest = schedule.previous_due(now)
            if handled is None:
                store.mark_due(schedule.name, now)  # first seen: nothing before now is this server's to run
            elif schedule.catch_up and latest > handled:
                logger.info(
                    "schedule %s: due at %s while no server ran it: running it once now",
                    schedule.name,
                    _iso(latest),
                )
                self._due(schedule, latest, catch_up=True)
            else:
                store.mark_due(schedule.name, latest)
            self._next[schedule.name] = schedule.next_due(now)
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling; cancel the runs still running and wait (at most STOP_SECONDS) until they have cleaned
        up, so none is cut off while the server closes its job store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TICK_SECONDS * 5)
        running = [job_id for schedule in self.schedules if (job_id := self._busy(schedule)) is not None]
        self._runner.cancel_and_wait(running, STOP_SECONDS)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for schedule in self.schedules:
                due = self._next[schedule.name]
                if now >= due:
                    self._next[schedule.name] = schedule.next_due(now)
                    self._due(schedule, due, catch_up=False)
            wait = min(self._next.values()) - time.time()
            self._stop.wait(max(0.01, min(wait, TICK_SECONDS)))

    def _busy(self, schedule: Schedule) -> str | None:
        """The job id of the schedule's run that is still running, if any."""
        job_id = self._running.get(schedule.name)
        if job_id is not None and self._runner.store.get(job_id).running:
            return job_id
        return None

    def _due(self, schedule: Schedule, due: float, catch_up: bool) -> None:
        store = self._runner.store
        busy = self._busy(schedule)
        if busy is not None:
            logger.warning(
                "schedule %s: its run due at %s is skipped: the previous run (job %s) still runs",
                schedule.name,
                _iso(due),
                busy,
            )
            store.mark_due(schedule.name, due, skipped=True)
            return
        store.mark_due(schedule.name, due)
        name = schedule.backup_name(datetime.fromtimestamp(due, tz=timezone.utc))
        request = {"schedule": schedule.name, "due": due, "catch_up": catch_up, **schedule.describes}
        try:
            job = store.add(f"{schedule.name}-{uuid.uuid4().hex[:12]}", BACKUP, name, request)
        except BackupToolError as exc:  # another job writes this name: this due time cannot run
            logger.warning("schedule %s: the run due at %s cannot start: %s", schedule.name, _iso(due), exc.message)
            store.mark_due(schedule.name, due, skipped=True)
            return
        self._running[schedule.name] = job.id
        logger.info("schedule %s: job %s makes backup %s", schedule.name, job.id, name)

        def work(run: Run) -> dict[str, Any]:
            return self._work(schedule, name, run)

        self._runner.start(job, work, on_end=self._ended(schedule))

    def _ended(self, schedule: Schedule) -> Callable[[Job], None]:
        def ended(job: Job) -> None:
            if job.state != SUCCESS:
                self._on_failure(Failure(schedule.name, job))

        return ended


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
