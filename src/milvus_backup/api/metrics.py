"""Prometheus metrics at /metrics: jobs by kind and state (read from the job database, so they survive a
restart), bytes copied by backups, and how long jobs took. Each app has its own registry."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
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


class ServerMetrics:
    """The job runner's listener: counts what jobs do."""

    def __init__(self, store: JobStore) -> None:
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

    def advanced(self, kind: str, unit: str, amount: int) -> None:
        if kind == BACKUP and unit == "bytes":
            self._bytes.inc(amount)

    def finished(self, job: Job) -> None:
        self._duration.labels(job.kind, STATE_NAMES[job.state]).observe(max(0.0, job.end_time - job.start_time))
