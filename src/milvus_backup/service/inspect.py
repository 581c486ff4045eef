"""`inspect`: what a backup holds, read from its own files (Milvus is not contacted): per collection and partition
the segments, the rows inserted, deleted and live, the bytes, the fields, and optionally a few sample rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from milvus_backup.meta.binlog import ColumnSpec, DataType
from milvus_backup.meta.model import CollectionBackupInfo, PartitionBackupInfo
from milvus_backup.service import rows as live
from milvus_backup.service.catalog import hybrid_ts_to_iso, read_backup
from milvus_backup.service.references import reading_location
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run


@dataclass
class FieldReport:
    name: str
    field_id: int
    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PartitionReport:
    name: str
    partition_id: int
    segments: int
    bytes: int
    rows: live.RowCounts


@dataclass
class CollectionReport:
    collection: str
    fields: list[FieldReport]
    partitions: list[PartitionReport]
    rows: live.RowCounts
    segments: int
    bytes: int
    sample_rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InspectReport:
    name: str
    created: str
    milvus_version: str
    collections: list[CollectionReport]
    warnings: list[str] = field(default_factory=list)


def _type_name(data_type: int) -> str:
    try:
        return DataType(data_type).name
    except ValueError:
        return str(data_type)


def _field_report(spec: ColumnSpec, coll: CollectionBackupInfo) -> FieldReport:
    params: dict[str, Any] = {}
    if spec.dim:
        params["dim"] = spec.dim
    if spec.data_type == DataType.ARRAY:
        params["element_type"] = _type_name(spec.element_type)
    if spec.is_primary_key:
        params["primary_key"] = True
        params["auto_id"] = coll.schema.auto_id or any(f.auto_id for f in coll.schema.fields if f.is_primary_key)
    partition_key = next((f.name for f in coll.schema.fields if f.is_partition_key), None)
    if spec.name == partition_key:
        params["partition_key"] = True
    return FieldReport(spec.name, spec.field_id, _type_name(spec.data_type), params)


def inspect_collection(
    target: StorageLocation, name: str, coll: CollectionBackupInfo, run: Run, sample_rows: int = 0
) -> CollectionReport:
    columns = live.collection_columns(coll)

    def count(partition: PartitionBackupInfo) -> PartitionReport:
        counts = live.count_live_rows(target, name, coll, partition, run=run)
        return PartitionReport(
            partition.partition_name,
            partition.partition_id,
            len(partition.segment_backups),
            sum(s.size for s in partition.segment_backups),
            counts,
        )

    partitions = run.map(count, coll.partition_backups)
    total = live.RowCounts()
    for report in partitions:
        total.add(report.rows)
    samples: list[dict[str, Any]] = []
    if sample_rows > 0:
        for batch in live.iter_live_batches(target, name, coll, run=run, batch_rows=max(sample_rows, 16)):
            samples.extend(live.to_rows(batch.batch, columns.specs, for_json=True))
            if len(samples) >= sample_rows:
                break
    run.progress.advance(1)
    return CollectionReport(
        collection=live.qualified_name(coll),
        fields=[_field_report(s, coll) for s in columns.specs],
        partitions=partitions,
        rows=total,
        segments=sum(p.segments for p in partitions) + len(coll.l0_segments),
        bytes=coll.size or sum(p.bytes for p in partitions),
        sample_rows=samples[:sample_rows],
    )


def inspect_backup(
    target: StorageLocation, name: str, run: Run, collections: str = "", sample_rows: int = 0
) -> InspectReport:
    """Read the backup's meta and, for each collection chosen (`collections`: comma-separated `coll` or
    `db.coll`, default all), count its rows from the binlogs: inserted, removed by deletes, live."""
    info = read_backup(target, name)
    chosen = live.find_collections(name, info.collection_backups, collections)
    run.progress.start(len(chosen), "collections", f"inspect {name}")
    located = reading_location(target, name)
    reports = [inspect_collection(located, name, coll, run, sample_rows) for coll in chosen]
    run.progress.finish()
    return InspectReport(
        name=name,
        created=hybrid_ts_to_iso(info.backup_timestamp),
        milvus_version=info.milvus_version,
        collections=reports,
        warnings=run.warnings,
    )
