"""Durable jobs for the REST server: every backup, restore and verify started over HTTP is a row in a SQLite
database, so its state, progress and outcome survive a server restart (the Go server keeps them in memory).

A job runs in a worker thread with a `Run` of its own: `JobProgress` writes what the run's progress hears to the
job's row (at most every `WRITE_INTERVAL` seconds); a cancel sets the run's cancel token and a `timeout` gives it
a deadline, either of which unwinds the service call at its next unit of work and lets it clean up after itself.
A job past its deadline ends in upstream's state 4 (timeout).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from milvus_backup.errors import BackupToolError, DeadlineExceededError, JobConflictError, JobNotFoundError
from milvus_backup.service.run import Run

logger = logging.getLogger(__name__)

# Upstream's BackupTaskStateCode / RestoreTaskStateCode.
INITIAL, EXECUTING, SUCCESS, FAIL, TIMEOUT = 0, 1, 2, 3, 4
STATE_NAMES = {INITIAL: "initial", EXECUTING: "executing", SUCCESS: "success", FAIL: "fail", TIMEOUT: "timeout"}
BACKUP, RESTORE, VERIFY = "backup", "restore", "verify"

WRITE_INTERVAL = 0.5
INTERRUPTED = "the server stopped while it ran"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    state INTEGER NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    unit TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    start_time REAL NOT NULL,
    end_time REAL NOT NULL DEFAULT 0,
    request TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    parts TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs (kind, name, start_time);
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    last_due REAL NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    name: str
    state: int
    progress: int
    unit: str
    done: int
    total: int
    error: str
    start_time: float
    end_time: float
    request: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    #: Progress by collection: name -> [done, total], in `unit`.
    parts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in (INITIAL, EXECUTING)


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["request"] = json.loads(data["request"])
    data["parts"] = json.loads(data["parts"])
    data["result"] = json.loads(data["result"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Job(**data)


class JobStore:
    """The job table. One connection shared by every thread, serialised by a lock: writes are few and small."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "jobs.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._locked() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._locked() as db:
            db.close()

    def fail_interrupted(self) -> int:
        """At start-up nothing runs yet: a job still marked running was cut off when the server died."""
        with self._locked() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = ?, error = ?, end_time = ? WHERE state IN (?, ?)",
                (FAIL, INTERRUPTED, time.time(), INITIAL, EXECUTING),
            )
            return cursor.rowcount

    def add(self, job_id: str, kind: str, name: str, request: dict[str, Any]) -> Job:
        """A new executing job; refused when the id is taken or, for a backup, another backup job is writing
        the same name (checked and inserted under one lock, so two requests cannot both win)."""
        with self._locked() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone():
                raise JobConflictError(
                    detail=f"a job with id {job_id!r} exists already",
                    hint="Leave requestId (or id) out to get a fresh one.",
                )
            if (
                kind == BACKUP
                and db.execute(
                    "SELECT 1 FROM jobs WHERE kind = ? AND name = ? AND state IN (?, ?)",
                    (BACKUP, name, INITIAL, EXECUTING),
                ).fetchone()
            ):
                raise JobConflictError(
                    detail=f"backup {name!r} is being created by another job",
                    hint="Wait for it (GET /api/v1/get_backup) or choose another name.",
                )
            db.execute(
                "INSERT INTO jobs (id, kind, name, state, progress, start_time, request) VALUES (?, ?, ?, ?, 1, ?, ?)",
                (job_id, kind, name, EXECUTING, time.time(), json.dumps(request)),
            )
        return self.get(job_id)

    def get(self, job_id: str, kind: str | None = None) -> Job:
        with self._locked() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (kind is not None and row["kind"] != kind):
            raise JobNotFoundError(job_id=job_id)
        return _job(row)

    def latest(self, kind: str, name: str) -> Job | None:
        with self._locked() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE kind = ? AND name = ? ORDER BY start_time DESC LIMIT 1", (kind, name)
            ).fetchone()
        return None if row is None else _job(row)

    def recent(self, limit: int, kind: str | None = None) -> list[Job]:
        query = "SELECT * FROM jobs"
        args: tuple[str, ...] = ()
        if kind:
            query, args = query + " WHERE kind = ?", (kind,)
        with self._locked() as db:
            rows = db.execute(query + " ORDER BY start_time DESC LIMIT ?", (*args, limit)).fetchall()
        return [_job(row) for row in rows]

    def counts(self) -> dict[tuple[str, int], int]:
        with self._locked() as db:
            rows = db.execute("SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state").fetchall()
        return {(kind, state): count for kind, state, count in rows}

    def scheduled(self, schedule: str, limit: int = 1) -> list[Job]:
        """The latest jobs a schedule started (its name is the request's `schedule`), newest first."""
        with self._locked() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE json_extract(request, '$.schedule') = ? ORDER BY start_time DESC LIMIT ?",
                (schedule, limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def schedule_figures(self) -> list[ScheduleFigures]:
        """Per schedule that ever ran: its last success, its latest ended run, its failures and skipped runs."""
        with self._locked() as db:
            rows = db.execute(_SCHEDULE_FIGURES, (SUCCESS, FAIL, TIMEOUT, INITIAL, EXECUTING)).fetchall()
        return [ScheduleFigures(*row) for row in rows]

    def last_due(self, schedule: str) -> float | None:
        """The latest due time of the schedule that a server handled (ran or skipped), if any."""
        with self._locked() as db:
            row = db.execute("SELECT last_due FROM schedules WHERE name = ?", (schedule,)).fetchone()
        return None if row is None else float(row[0])

    def mark_due(self, schedule: str, due: float, skipped: bool = False) -> None:
        with self._locked() as db:
            db.execute(
                "INSERT INTO schedules (name, last_due, skipped) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE "
                "SET last_due = MAX(last_due, excluded.last_due), skipped = skipped + excluded.skipped",
                (schedule, due, int(skipped)),
            )

    def set_progress(
        self, job_id: str, unit: str, done: int, total: int, parts: dict[str, list[int]] | None = None
    ) -> None:
        # 1 while preparing, 99 at most until the job has really finished (upstream never shows 0 while running).
        percent = 1 + (98 * done // total if total else 0)
        with self._locked() as db:
            db.execute(
                "UPDATE jobs SET unit = ?, done = ?, total = ?, progress = ?, parts = ? WHERE id = ? AND state = ?",
                (unit, done, total, percent, json.dumps(parts or {}), job_id, EXECUTING),
            )

    def request_cancel(self, job_id: str) -> None:
        with self._locked() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFoundError(job_id=job_id)
            if row["state"] not in (INITIAL, EXECUTING):
                raise JobConflictError(detail=f"job {job_id!r} has already ended ({STATE_NAMES[row['state']]})")
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))

    def finish(self, job_id: str, state: int, error: str = "", result: dict[str, Any] | None = None) -> Job:
        with self._locked() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, result = ?, end_time = ?, "
                "progress = CASE WHEN ? = ? THEN 100 ELSE progress END WHERE id = ?",
                (state, error, json.dumps(result or {}), time.time(), state, SUCCESS, job_id),
            )
        return self.get(job_id)


#: Per schedule: success = state 2; ended = any state but running; bytes from the create's result.
_SCHEDULE_FIGURES = """
WITH runs AS (
    SELECT json_extract(request, '$.schedule') AS schedule, state, start_time, end_time,
           COALESCE(json_extract(result, '$.create.bytes'), 0) AS bytes
    FROM jobs WHERE json_extract(request, '$.schedule') IS NOT NULL
),
names AS (SELECT schedule AS name FROM runs UNION SELECT name FROM schedules)
SELECT names.name,
    (SELECT MAX(end_time) FROM runs WHERE schedule = names.name AND state = ?1),
    (SELECT end_time - start_time FROM runs WHERE schedule = names.name AND state NOT IN (?4, ?5)
        ORDER BY end_time DESC LIMIT 1),
    (SELECT bytes FROM runs WHERE schedule = names.name AND state = ?1 ORDER BY end_time DESC LIMIT 1),
    (SELECT COUNT(*) FROM runs WHERE schedule = names.name AND state IN (?2, ?3)),
    COALESCE((SELECT skipped FROM schedules WHERE name = names.name), 0)
FROM names
"""


@dataclass(frozen=True)
class ScheduleFigures:
    schedule: str
    #: Unix seconds; None before the first success.
    last_success: float | None
    #: Seconds the latest ended run took; None before the first ended run.
    last_duration: float | None
    #: Bytes the latest successful run copied.
    last_bytes: int | None
    failures: int
    skipped: int


class JobListener(Protocol):
    """Told what jobs do (the server's Prometheus metrics)."""

    def advanced(self, kind: str, unit: str, amount: int) -> None: ...

    def finished(self, job: Job) -> None: ...


class JobProgress:
    """Progress that lands in the job's row."""

    def __init__(self, store: JobStore, job: Job, listener: JobListener | None) -> None:
        self._store, self._job, self._listener = store, job, listener
        self._lock = threading.Lock()
        self._unit, self._done, self._total = "", 0, 0
        self._parts: dict[str, list[int]] = {}
        self._written = 0.0

    def _write(self, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._written >= WRITE_INTERVAL:
            self._written = now
            self._store.set_progress(self._job.id, self._unit, self._done, self._total, self._parts)

    def start(self, total: int, unit: str, label: str, parts: dict[str, int] | None = None) -> None:
        with self._lock:
            self._unit, self._done, self._total = unit, 0, total
            self._parts = {name: [0, share] for name, share in (parts or {}).items()}
            self._write(force=True)

    def grow(self, amount: int, part: str = "") -> None:
        with self._lock:
            self._total += amount
            if part in self._parts:
                self._parts[part][1] += amount
            self._write(force=False)

    def advance(self, amount: int, part: str = "") -> None:
        with self._lock:
            self._done += amount
            if part in self._parts:
                self._parts[part][0] += amount
            self._write(force=False)
        if self._listener is not None:
            self._listener.advanced(self._job.kind, self._unit, amount)

    def finish(self) -> None:
        with self._lock:
            self._write(force=True)


#: The work of a job: called with the job's run, returns the JSON-able result to keep.
Work = Callable[[Run], dict[str, Any]]


@dataclass
class _Running:
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Set when the work's checks have passed (`Run.checks_passed`) or it ended.
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class JobRunner:
    """Starts jobs, runs them (in the caller's thread or a worker thread) and records how they end."""

    def __init__(self, store: JobStore, listener: JobListener | None = None, threads: int = 16) -> None:
        self.store = store
        self._listener = listener
        #: The thread bound of each job's run.
        self.threads = threads
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def run(self, job: Job, work: Work, timeout: float | None = None) -> Job:
        """Run `work` now, in this thread; its BackupToolError is re-raised after the job is marked failed."""
        running = self._register(job)
        self._execute(job, work, running, timeout)
        if running.error is not None:
            raise running.error
        return self.store.get(job.id)

    def start(
        self,
        job: Job,
        work: Work,
        *,
        wait_for_checks: bool = False,
        timeout: float | None = None,
        on_end: Callable[[Job], None] | None = None,
    ) -> Job:
        """Run `work` in a worker thread. With `wait_for_checks`, return once its checks have passed (or it
        ended), so a refused request still fails here. `on_end` is told how the job ended."""
        running = self._register(job)
        thread = threading.Thread(
            target=self._execute, args=(job, work, running, timeout, on_end), name=f"job-{job.id}", daemon=True
        )
        thread.start()
        if wait_for_checks:
            running.started.wait()
            if running.error is not None:
                raise running.error
        return self.store.get(job.id)

    def cancel(self, job_id: str) -> Job:
        self.store.request_cancel(job_id)
        with self._lock:
            running = self._running.get(job_id)
        if running is not None:
            running.cancelled.set()
        return self.store.get(job_id)

    def cancel_and_wait(self, job_ids: list[str], seconds: float) -> None:
        """Cancel these jobs and wait (at most `seconds`) until each has ended and cleaned up."""
        for job_id in job_ids:
            with contextlib.suppress(BackupToolError):  # it ended meanwhile
                self.cancel(job_id)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if not any(job_id in self._running for job_id in job_ids):
                    return
            time.sleep(0.05)

    def stop(self, seconds: float) -> None:
        """Cancel every job still running and wait for them, so none is cut off while the job store closes."""
        with self._lock:
            running = list(self._running)
        self.cancel_and_wait(running, seconds)

    def _register(self, job: Job) -> _Running:
        running = _Running()
        with self._lock:
            self._running[job.id] = running
        return running

    def _execute(
        self,
        job: Job,
        work: Work,
        running: _Running,
        timeout: float | None,
        on_end: Callable[[Job], None] | None = None,
    ) -> None:
        run = Run(
            progress=JobProgress(self.store, job, self._listener),
            threads=self.threads,
            timeout=timeout,
            cancel=running.cancelled,
            what=f"{job.kind} job {job.id}",
            job_id=job.id,
            on_checks_passed=running.started.set,
        )
        try:
            with run:
                result = work(run)
            ended = self.store.finish(job.id, SUCCESS, result=result)
            logger.info("%s job %s (%s) succeeded", job.kind, job.id, job.name)
        except DeadlineExceededError as exc:
            running.error = exc
            ended = self.store.finish(job.id, TIMEOUT, error=exc.message)
            logger.warning("%s job %s (%s) timed out: %s", job.kind, job.id, job.name, exc.message)
        except BackupToolError as exc:
            running.error = exc
            ended = self.store.finish(job.id, FAIL, error=exc.message)
            logger.warning("%s job %s (%s) failed: %s", job.kind, job.id, job.name, exc.message)
        except Exception as exc:  # a bug in a worker thread must still end the job, not hang it
            running.error = exc
            ended = self.store.finish(job.id, FAIL, error=f"unexpected {type(exc).__name__}: {exc}")
            logger.exception("%s job %s (%s) failed unexpectedly", job.kind, job.id, job.name)
        finally:
            running.started.set()
            with self._lock:
                self._running.pop(job.id, None)
        if self._listener is not None:
            self._listener.finished(ended)
        if on_end is not None:
            on_end(ended)
