"""The rows a backup holds, read from its binlogs in backup storage without Milvus: live rows (deletes applied)
per collection and partition, as Arrow record batches or as rows like a pymilvus query returns them.

Deletes are applied as Milvus applies them: a delete of primary key K at timestamp T removes every row with key K
inserted before T, in any segment of the partition it was written in (Milvus writes a delete into the delta log of
whichever segment may hold the key, not always the row's), and L0 segments' deletes (Milvus >= 2.4) apply to
their partition, or to every partition when theirs is -1. An upsert is a delete and an insert at one timestamp,
so its new row stays. A partition's deletes are held in memory (one entry per deleted key); rows are read a
batch at a time, one event of each field's file at once, so memory does not grow with the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from milvus_backup.errors import CollectionNotInBackupError, UnsupportedFormatError
from milvus_backup.meta import layout
from milvus_backup.meta.binlog import (
    BATCH_ROWS,
    TIMESTAMP_FIELD,
    BinlogFile,
    ColumnSpec,
    DataType,
    Deletes,
    arrow_type,
    read_deletes,
    to_column,
    zip_columns,
)
from milvus_backup.meta.model import Binlog, CollectionBackupInfo, PartitionBackupInfo, SegmentBackupInfo
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run

#: The name the dynamic field has in every Milvus schema.
DYNAMIC_FIELD = "$meta"
_TS_COLUMN = "__ts"


def qualified_name(coll: CollectionBackupInfo) -> str:
    return f"{coll.db_name or 'default'}.{coll.collection_name}"


def find_collections(
    name: str, collections: list[CollectionBackupInfo], wanted: str = ""
) -> list[CollectionBackupInfo]:
    """The backup's collections, or those named in `wanted` (comma-separated `coll` or `db.coll`; a bare name
    means the default database). Unknown names fail."""
    if not wanted:
        return list(collections)
    by_name = {qualified_name(c): c for c in collections}
    chosen = []
    for item in (part.strip() for part in wanted.split(",")):
        if not item:
            continue
        key = item if "." in item else f"default.{item}"
        if key not in by_name:
            raise CollectionNotInBackupError(collection=item, name=name, held=", ".join(sorted(by_name)) or "none")
        chosen.append(by_name[key])
    return chosen


@dataclass(frozen=True)
class CollectionColumns:
    """How a collection's fields are read: one ColumnSpec per user field (the dynamic field last, as `$meta`)."""

    specs: list[ColumnSpec]
    primary: ColumnSpec

    def by_name(self, names: Sequence[str] | None) -> list[ColumnSpec]:
        if names is None:
            return list(self.specs)
        known = {s.name: s for s in self.specs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UnsupportedFormatError(detail=f"no field {unknown} in the collection (fields: {list(known)})")
        return [known[n] for n in names]

    def arrow_schema(self, specs: Sequence[ColumnSpec] | None = None) -> pa.Schema:
        return pa.schema([pa.field(s.name, arrow_type(s)) for s in (specs or self.specs)])


def collection_columns(coll: CollectionBackupInfo) -> CollectionColumns:
    """The collection's fields as the reader needs them. Milvus 2.3 does not list the dynamic field in a
    collection's description, so with `enable_dynamic_field` the field id that the binlogs hold and the schema
    does not is `$meta`."""
    specs = []
    for f in coll.schema.fields:
        if f.field_id < 100:
            continue
        dim = f.type_param("dim")
        specs.append(
            ColumnSpec(
                field_id=f.field_id,
                name=DYNAMIC_FIELD if f.is_dynamic else f.name,
                data_type=f.data_type,
                element_type=f.element_type,
                dim=int(dim) if dim else 0,
                is_primary_key=f.is_primary_key,
                is_dynamic=f.is_dynamic,
            )
        )
    if coll.schema.enable_dynamic_field and not any(s.is_dynamic for s in specs):
        known = {s.field_id for s in specs} | {0, 1}
        held = {fb.field_id for p in coll.partition_backups for seg in p.segment_backups for fb in seg.binlogs}
        extra = sorted(held - known)
        dynamic_id = extra[0] if extra else max(known) + 1
        specs.append(ColumnSpec(dynamic_id, DYNAMIC_FIELD, DataType.JSON, is_dynamic=True))
    primary = next((s for s in specs if s.is_primary_key), None)
    if primary is None:
        raise UnsupportedFormatError(detail=f"collection {qualified_name(coll)} has no primary key in its schema")
    return CollectionColumns(specs, primary)


def _log_id(log: Binlog) -> int:
    """Old backups carry no log_id: the file name of its source path is the id."""
    return log.log_id or int(log.log_path.rsplit("/", 1)[-1])


def insert_log_keys(target: StorageLocation, name: str, seg: SegmentBackupInfo, field_id: int) -> list[str]:
    """The backup keys of a segment's insert logs of one field, in the order of their rows."""
    logs = next((fb.binlogs for fb in seg.binlogs if fb.field_id == field_id), None)
    if logs is None:
        raise UnsupportedFormatError(detail=f"segment {seg.segment_id} has no binlogs of field {field_id}")
    return [
        layout.backup_insert_key(
            target.root, name, seg.collection_id, seg.partition_id, seg.group_id, seg.segment_id, field_id, _log_id(b)
        )
        for b in sorted(logs, key=_log_id)
    ]


def delta_log_keys(target: StorageLocation, name: str, seg: SegmentBackupInfo) -> list[str]:
    return [
        layout.backup_delta_key(
            target.root, name, seg.collection_id, seg.partition_id, seg.group_id, seg.segment_id, _log_id(b)
        )
        for fb in seg.deltalogs
        for b in sorted(fb.binlogs, key=_log_id)
    ]


def partition_deletes(
    target: StorageLocation,
    name: str,
    coll: CollectionBackupInfo,
    partition: PartitionBackupInfo,
    as_of: int | None = None,
) -> Deletes:
    """Every delete that applies to the partition: its segments' delta logs and the collection's L0 segments' of
    this partition or of all partitions."""
    deletes = Deletes()
    segments = list(partition.segment_backups) + [
        seg for seg in coll.l0_segments if seg.partition_id in (-1, partition.partition_id)
    ]
    for seg in segments:
        for key in delta_log_keys(target, name, seg):
            with closing(target.storage.open_read(target.source_key(key))) as stream:
                for batch in read_deletes(BinlogFile(stream, key)):
                    deletes.add(batch, as_of)
    return deletes


def _field_arrays(target: StorageLocation, keys: list[str], spec: ColumnSpec, batch_rows: int) -> Iterator[pa.Array]:
    for key in keys:
        with closing(target.storage.open_read(target.source_key(key))) as stream:
            binlog = BinlogFile(stream, key)
            for array in binlog.arrays(batch_rows):
                yield to_column(spec, array)


def segment_batches(
    target: StorageLocation,
    name: str,
    seg: SegmentBackupInfo,
    specs: Sequence[ColumnSpec],
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Every row the segment's insert logs hold (deleted or not), with a `__ts` column of insert timestamps last.
    Each field's files are read one event at a time, side by side."""
    columns: dict[str, Iterator[pa.Array]] = {
        s.name: _field_arrays(target, insert_log_keys(target, name, seg, s.field_id), s, batch_rows) for s in specs
    }
    ts_spec = ColumnSpec(TIMESTAMP_FIELD, _TS_COLUMN, DataType.INT64)
    columns[_TS_COLUMN] = _field_arrays(
        target, insert_log_keys(target, name, seg, TIMESTAMP_FIELD), ts_spec, batch_rows
    )
    yield from zip_columns(columns)


@dataclass(frozen=True)
class LiveBatch:
    """Live rows of one partition, as Arrow columns of the requested fields (types: `binlog.arrow_type`)."""

    collection: CollectionBackupInfo
    partition: PartitionBackupInfo
    segment_id: int
    batch: pa.RecordBatch
    #: Rows of this batch's insert logs before deletes were applied.
    read_rows: int


def iter_live_batches(
    target: StorageLocation,
    name: str,
    coll: CollectionBackupInfo,
    partitions: Sequence[PartitionBackupInfo] | None = None,
    *,
    fields: Sequence[str] | None = None,
    as_of: int | None = None,
    batch_rows: int = BATCH_ROWS,
    run: Run | None = None,
) -> Iterator[LiveBatch]:
    """The live rows of a backed-up collection (all its partitions, or `partitions`), partition by partition and
    segment by segment, a batch at a time.

    `target`/`name`: the backup storage and the backup's folder name (as `catalog.read_backup` reads it);
    `coll`: a collection of that backup's meta. `fields` picks user fields by name (default: all, the dynamic field
    as `$meta` JSON text). `as_of` (a hybrid timestamp) leaves out rows inserted and deletes made after it;
    by default every row and delete in the backup counts, which is what a restore of it holds. `run.check()` is
    called between segments. Batches may be empty when every row of a read batch was deleted."""
    columns = collection_columns(coll)
    for partition in partitions if partitions is not None else coll.partition_backups:
        deletes = partition_deletes(target, name, coll, partition, as_of)
        for seg in partition.segment_backups:
            if run is not None:
                run.check()
            yield from segment_live_batches(
                target, name, coll, partition, seg, deletes, columns.by_name(fields), as_of=as_of, batch_rows=batch_rows
            )


def segment_live_batches(
    target: StorageLocation,
    name: str,
    coll: CollectionBackupInfo,
    partition: PartitionBackupInfo,
    seg: SegmentBackupInfo,
    deletes: Deletes,
    specs: Sequence[ColumnSpec],
    *,
    as_of: int | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[LiveBatch]:
    """The live rows of one segment, given its partition's deletes (`partition_deletes`) and the columns to read
    (`collection_columns(coll).by_name(...)`)."""
    columns = collection_columns(coll)
    read_specs = specs if any(s.field_id == columns.primary.field_id for s in specs) else [*specs, columns.primary]
    schema = columns.arrow_schema(specs)
    for batch in segment_batches(target, name, seg, read_specs, batch_rows):
        pks = batch.column(columns.primary.name)
        mask = deletes.keep_mask(pks, batch.column(_TS_COLUMN), as_of)
        kept = batch.filter(mask) if mask is not None and mask.false_count else batch
        out = pa.RecordBatch.from_arrays([kept.column(s.name) for s in specs], schema=schema)
        yield LiveBatch(coll, partition, seg.segment_id, out, batch.num_rows)


def to_rows(batch: pa.RecordBatch, specs: Sequence[ColumnSpec], for_json: bool = False) -> Iterator[dict[str, Any]]:
    """Rows as a pymilvus query returns them: JSON parsed, the dynamic field's keys at the top level, binary
    vectors as bytes, sparse vectors as {index: value}. `for_json`: binary vectors as lists of byte values and
    sparse vectors' indexes as strings, so that the rows can be written as JSON."""
    by_name = {s.name: s for s in specs}
    values = {name: batch.column(name).to_pylist() for name in batch.schema.names}
    for i in range(batch.num_rows):
        row: dict[str, Any] = {}
        dynamic: dict[str, Any] = {}
        for name, column in values.items():
            spec = by_name[name]
            value = column[i]
            if value is not None:
                if spec.data_type == DataType.JSON:
                    value = json.loads(value)
                elif spec.data_type == DataType.BINARY_VECTOR and not for_json:
                    value = bytes(value)
                elif spec.data_type == DataType.SPARSE_FLOAT_VECTOR:
                    value = {str(k) if for_json else k: v for k, v in value}
            if spec.is_dynamic:
                dynamic = value or {}
            else:
                row[name] = value
        for key, value in dynamic.items():
            row.setdefault(key, value)
        yield row


def iter_live_rows(
    target: StorageLocation,
    name: str,
    coll: CollectionBackupInfo,
    partitions: Sequence[PartitionBackupInfo] | None = None,
    *,
    fields: Sequence[str] | None = None,
    as_of: int | None = None,
    run: Run | None = None,
) -> Iterator[dict[str, Any]]:
    """`iter_live_batches` as one dict per row (see `to_rows`)."""
    specs = collection_columns(coll).by_name(fields)
    for live in iter_live_batches(target, name, coll, partitions, fields=fields, as_of=as_of, run=run):
        yield from to_rows(live.batch, specs)


@dataclass
class RowCounts:
    """Rows of a partition or collection: in the insert logs, removed by deletes, live (inserted - deleted)."""

    inserted: int = 0
    deleted: int = 0
    live: int = 0
    #: Delete records in the delta logs that counted (a key deleted twice counts twice).
    delete_records: int = 0
    #: Live rows whose primary key a delete names too: inserted after it (an upsert, or a delete then an insert).
    reinserted: int = 0

    def add(self, other: RowCounts) -> None:
        self.inserted += other.inserted
        self.deleted += other.deleted
        self.live += other.live
        self.delete_records += other.delete_records
        self.reinserted += other.reinserted


def count_live_rows(
    target: StorageLocation,
    name: str,
    coll: CollectionBackupInfo,
    partition: PartitionBackupInfo,
    as_of: int | None = None,
    run: Run | None = None,
) -> RowCounts:
    """A partition's row counts, reading only the primary key and timestamp columns."""
    columns = collection_columns(coll)
    deletes = partition_deletes(target, name, coll, partition, as_of)
    counts = RowCounts(delete_records=deletes.records)
    for seg in partition.segment_backups:
        if run is not None:
            run.check()
        for batch in segment_batches(target, name, seg, [columns.primary]):
            mask = deletes.keep_mask(batch.column(0), batch.column(1), as_of)
            counts.inserted += batch.num_rows
            counts.live += batch.num_rows if mask is None else mask.true_count
            if len(deletes):
                named = deletes.names(batch.column(0))
                counts.reinserted += (named if mask is None else pc.and_(named, mask)).true_count
    counts.deleted = counts.inserted - counts.live
    return counts


def count_collection_rows(
    target: StorageLocation, name: str, coll: CollectionBackupInfo, as_of: int | None = None, run: Run | None = None
) -> RowCounts:
    """A collection's row counts (every partition's `count_live_rows`), partitions read in parallel on `run`'s
    threads when one is given."""
    total = RowCounts()
    partitions = coll.partition_backups
    if run is not None:
        counts = run.map(lambda p: count_live_rows(target, name, coll, p, as_of, run), partitions)
    else:
        counts = [count_live_rows(target, name, coll, p, as_of) for p in partitions]
    for c in counts:
        total.add(c)
    return total
