"""Prometheus metrics at /metrics: jobs by kind and state and, per schedule, its last success, last duration,
bytes copied, failures and skipped runs (read from the job database, so they survive a restart); bytes copied
by backups, and how long jobs took. Each app has its own registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from milvus_backup.service.jobs import BACKUP, STATE_NAMES, Job, JobStore

DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class _JobStates(Collector):
    def __init__(self, store: JobStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "milvus_backup_jobs", "Jobs in the job database, by kind and state.", labels=["kind", "state"]
        )
        for (kind, state), count in sorted(self._store.counts().items()):
            family.add_metric([kind, STATE_NAMES[state]], count)
        yield family


class _Schedules(Collector):
    """Per schedule, from the job database (so they survive a restart): the alerting figures."""

    def __init__(self, store: JobStore, next_run: Callable[[str], float | None]) -> None:
        self._store, self._next_run = store, next_run

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "milvus_backup_schedule_last_success_timestamp_seconds",
            "When the schedule's latest successful run ended (Unix seconds); absent before its first success.",
            labels=["schedule"],
        )
        duration = GaugeMetricFamily(
            "milvus_backup_schedule_last_duration_seconds",
            "How long the schedule's latest ended run took, successful or not.",
            labels=["schedule"],
        )
        copied = GaugeMetricFamily(
            "milvus_backup_schedule_last_copied_bytes",
            "Bytes the schedule's latest successful run copied into backup storage.",
            labels=["schedule"],
        )
        failures = CounterMetricFamily(
            "milvus_backup_schedule_failures", "Runs of the schedule that failed or timed out.", labels=["schedule"]
        )
        skipped = CounterMetricFamily(
            "milvus_backup_schedule_skipped_runs",
            "Due times of the schedule skipped because its previous run still ran.",
            labels=["schedule"],
        )
        upcoming = GaugeMetricFamily(
            "milvus_backup_schedule_next_run_timestamp_seconds",
            "When the schedule runs next (Unix seconds), for the schedules this server runs.",
            labels=["schedule"],
        )
        for figures in self._store.schedule_figures():
            labels = [figures.schedule]
            if figures.last_success is not None:
                success.add_metric(labels, figures.last_success)
            if figures.last_duration is not None:
                duration.add_metric(labels, max(0.0, figures.last_duration))
            if figures.last_bytes is not None:
                copied.add_metric(labels, figures.last_bytes)
            failures.add_metric(labels, figures.failures)
            skipped.add_metric(labels, figures.skipped)
            next_run = self._next_run(figures.schedule)
            if next_run is not None:
                upcoming.add_metric(labels, next_run)
        yield from (success, duration, copied, failures, skipped, upcoming)


class ServerMetrics:
    """The job runner's listener: counts what jobs do."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.registry = CollectorRegistry()
        self.registry.register(_JobStates(store))
        self._bytes = Counter(
            "milvus_backup_bytes_copied", "Bytes copied into backup storage by backup jobs.", registry=self.registry
        )
        self._duration = Histogram(
            "milvus_backup_job_duration_seconds",
            "How long jobs ran, by kind and state.",
            ["kind", "state"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )

    def watch_schedules(self, next_run: Callable[[str], float | None]) -> None:
        """Expose the per-schedule figures; `next_run` tells when a schedule of this server runs next."""
        self.registry.register(_Schedules(self._store, next_run))

    def advanced(self, kind: str, unit: str, amount: int) -> None:
        if kind == BACKUP and unit == "bytes":
            self._bytes.inc(amount)

    def finished(self, job: Job) -> None:
        self._duration.labels(job.kind, STATE_NAMES[job.state]).observe(max(0.0, job.end_time - job.start_time))
