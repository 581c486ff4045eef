"""A restore through inserts: the backup's live rows, read from its binlogs, inserted in batches.

For a target that cannot import a backup (Milvus Lite, a Milvus without Import's backup option, a service that
cannot reach the backup's bucket). Batches are read as they are inserted, at most `transfer.concurrency` inserts
at once, so memory holds that many batches at most; each batch is kept near `BATCH_BYTES`.

Primary keys are kept: an auto-id collection is created with auto-id off (Milvus 2.3 refuses explicit keys into
an auto-id field), so the restored rows keep the keys they had, and rows inserted later must bring their own."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

from milvus_backup.errors import IntegrityError
from milvus_backup.meta.model import CollectionBackupInfo, CollectionSchema, FieldSchema
from milvus_backup.milvus.protocol import MilvusClient, RowBatch
from milvus_backup.service.row_source import RowSource
from milvus_backup.service.run import Run

logger = logging.getLogger(__name__)

#: About this many bytes of rows per Insert: large enough that a call's overhead is small, small enough that
#: `transfer.concurrency` batches in flight stay a bounded amount of memory (and far below gRPC's 64 MiB).
BATCH_BYTES = 4 << 20
MAX_BATCH_ROWS = 50_000
FLUSH_POLL_SECONDS = 0.2
_VALUE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 10: 4, 11: 8, 21: 32, 22: 64, 23: 64}


def row_bytes(schema: CollectionSchema) -> int:
    """A rough size of one row (vectors by their dimension; strings, arrays and JSON guessed)."""
    total = 0
    for f in schema.fields:
        dim = int(f.type_param("dim") or 0)
        if f.data_type == 100:
            total += dim // 8
        elif f.data_type == 101:
            total += 4 * dim
        elif f.data_type in (102, 103):
            total += 2 * dim
        else:
            total += _VALUE_BYTES.get(f.data_type, 16)
    return max(total + (64 if schema.enable_dynamic_field else 0), 1)


def batch_rows(schema: CollectionSchema) -> int:
    return max(1, min(MAX_BATCH_ROWS, BATCH_BYTES // row_bytes(schema)))


def keyed_schema(schema: CollectionSchema) -> CollectionSchema:
    """The schema a restore through inserts creates: auto-id off, so the backed-up primary keys are kept."""
    fields: list[FieldSchema] = [replace(f, auto_id=False) for f in schema.fields]
    return replace(schema, auto_id=False, fields=fields)


def insert_rows(
    milvus: MilvusClient,
    src: CollectionBackupInfo,
    db: str,
    name: str,
    source: RowSource,
    run: Run,
    concurrency: int,
) -> tuple[int, float]:
    """(rows, seconds): every live row of the collection's partitions inserted into db.name, then flushed."""
    schema = keyed_schema(src.schema)
    has_partition_key = any(f.is_partition_key for f in src.schema.fields)
    max_rows = batch_rows(schema)
    target = f"{db}.{name}"

    def read() -> Iterator[tuple[str, RowBatch]]:
        for part in src.partition_backups:
            if not part.segment_backups:
                continue
            # A partition-key collection places each row by its key: Milvus refuses a partition name there.
            partition = "" if has_partition_key else part.partition_name
            for batch in source.batches(src, part, max_rows, run):
                yield partition, batch
            run.progress.advance(len(part.segment_backups), target)

    def insert(item: tuple[str, RowBatch]) -> tuple[int, int]:
        partition, batch = item
        return batch.num_rows, milvus.insert_rows(db, name, partition, schema, batch)

    started = time.monotonic()
    counts = run.map(insert, read(), limit=concurrency)
    read_rows, inserted = sum(c[0] for c in counts), sum(c[1] for c in counts)
    if inserted != read_rows:
        raise IntegrityError(
            name=src.collection_name,
            detail=f"{target}: Milvus reports {inserted} row(s) inserted of the {read_rows} sent",
        )
    flush = milvus.flush(db, name)
    while not milvus.flushed(db, name, flush):
        run.sleep(FLUSH_POLL_SECONDS)
    logger.info("inserted %d row(s) into %s in %d batch(es)", inserted, target, len(counts))
    return inserted, time.monotonic() - started
