"""One run of a command: its progress, cancel token, deadline, warnings and the one bounded pool of threads
every parallel step of the run shares.

The doors (CLI, REST jobs, the library) make a `Run` and pass it to the service; the service checks it between
units of work (`check`), waits through it (`sleep`), and runs parallel work through it (`map`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from milvus_backup.errors import DeadlineExceededError, JobCancelledError
from milvus_backup.progress import NullProgress, Progress

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_THREADS = 16
#: How often a thread waiting for a free worker looks at the cancel token and the deadline.
_WAKE_SECONDS = 0.1


class Run:
    """`threads` bounds the worker threads of the whole run, however deeply its steps nest: a step that runs
    inside a worker hands its items to free workers and runs the rest itself, so nothing waits for a worker
    that never comes, and no step makes a pool of its own."""

    def __init__(
        self,
        *,
        progress: Progress | None = None,
        threads: int = DEFAULT_THREADS,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        what: str = "the run",
        job_id: str = "",
        on_checks_passed: Callable[[], None] | None = None,
    ) -> None:
        self.progress: Progress = progress or NullProgress()
        self.cancel = cancel or threading.Event()
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        #: What the run does, for messages ("backup nightly").
        self.what = what
        self.job_id = job_id
        self.threads = max(1, threads)
        self._on_checks_passed = on_checks_passed
        self._checks_passed = False
        self._slots = threading.BoundedSemaphore(self.threads)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._workers: set[int] = set()
        self._warnings: list[str] = []
        self._lock = threading.Lock()

    # -- lifetime -----------------------------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # -- cancel and deadline ------------------------------------------------------------------------
    def check(self) -> None:
        """Raise if the run was cancelled or its deadline has passed; called between units of work."""
        if self.cancel.is_set():
            raise JobCancelledError(job_id=self.job_id or self.what)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceededError(what=self.what, seconds=self.timeout)

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, waking at once on a cancel; raises as `check` does."""
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - time.monotonic()))
        self.cancel.wait(seconds)
        self.check()

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    # -- events and warnings ------------------------------------------------------------------------
    def checks_passed(self) -> None:
        """The run's checks have passed: from here on it changes things. A REST job answers its request here."""
        with self._lock:
            if self._checks_passed:
                return
            self._checks_passed = True
        if self._on_checks_passed is not None:
            self._on_checks_passed()

    def warn(self, message: str) -> None:
        """A warning is part of the run's result (printed, in --json and REST), not only a log line."""
        logger.warning("%s", message)
        with self._lock:
            self._warnings.append(message)

    @property
    def warnings(self) -> list[str]:
        with self._lock:
            return list(self._warnings)

    # -- parallel work ------------------------------------------------------------------------------
    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="run")
            return self._pool

    def in_worker(self) -> bool:
        return threading.get_ident() in self._workers

    def _acquire_slot(self) -> bool:
        """A free worker for one item. A worker thread takes one only if it is free now (else it runs the item
        itself); any other thread waits for one, checking the cancel token and the deadline."""
        if self._slots.acquire(blocking=False):
            return True
        if self.in_worker():
            return False
        while not self._slots.acquire(timeout=_WAKE_SECONDS):
            self.check()
        return True

    def _in_slot(self, fn: Callable[[T], R], item: T) -> R:
        me = threading.get_ident()
        with self._lock:
            self._workers.add(me)
        try:
            self.check()
            return fn(item)
        finally:
            with self._lock:
                self._workers.discard(me)
            self._slots.release()

    def map(self, fn: Callable[[T], R], items: Iterable[T], limit: int | None = None) -> list[R]:
        """`fn` of every item, in order, at most `limit` at once (and never more threads than the run has). The
        first failure stops new items from starting; the items already running are waited for (so a clean-up
        after the failure sees everything they wrote), then it is raised. `items` may be lazy: items start as
        they are yielded."""
        results: dict[int, R] = {}
        running: dict[Future[R], int] = {}
        failure: BaseException | None = None

        def harvest(done: Iterable[Future[R]]) -> None:
            nonlocal failure
            for future in done:
                index = running.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                else:
                    results[index] = future.result()

        try:
            for index, item in enumerate(items):
                self.check()
                while limit is not None and len(running) >= limit and failure is None:
                    harvest(wait(running, timeout=_WAKE_SECONDS, return_when=FIRST_COMPLETED).done)
                    self.check()
                if failure is not None:
                    break
                if self._acquire_slot():
                    running[self._executor().submit(self._in_slot, fn, item)] = index
                else:
                    self.check()
                    results[index] = fn(item)
                harvest([f for f in running if f.done()])
                if failure is not None:
                    break
        except BaseException as exc:  # noqa: BLE001 - raised below, once the running items have ended
            failure = failure or exc
        while running:
            harvest(wait(running, return_when=FIRST_COMPLETED).done)
        if failure is not None:
            raise failure
        return [results[i] for i in range(len(results))]
