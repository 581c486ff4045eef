"""`BinlogRows`: the `RowSource` of a backup in backup storage, through the binlog reader (`service/rows.py`).

Counting reads only the primary key and timestamp columns, partitions in parallel on the run's threads. Batches
turn the reader's Arrow columns into what an Insert takes: scalars, strings, arrays and JSON text as Python lists,
vectors as one 2-D numpy array per column (float32 for float, float16 and bfloat16 vectors; uint8 bytes for binary
vectors)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from milvus_backup.meta.model import BackupInfo, CollectionBackupInfo, PartitionBackupInfo
from milvus_backup.milvus.protocol import RowBatch
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.rows import count_collection_rows, iter_live_batches
from milvus_backup.service.run import Run


class BinlogRows:
    def __init__(self, location: StorageLocation, info: BackupInfo) -> None:
        self.location, self.name = location, info.name

    def count(self, coll: CollectionBackupInfo, run: Run) -> int:
        return count_collection_rows(self.location, self.name, coll, run=run).live

    def reinserted(self, coll: CollectionBackupInfo, run: Run) -> int:
        return count_collection_rows(self.location, self.name, coll, run=run).reinserted

    def batches(
        self, coll: CollectionBackupInfo, partition: PartitionBackupInfo, max_rows: int, run: Run
    ) -> Iterator[RowBatch]:
        for live in iter_live_batches(self.location, self.name, coll, [partition], batch_rows=max_rows, run=run):
            if live.batch.num_rows:
                batch = live.batch
                yield RowBatch({n: _values(batch.column(n)) for n in batch.schema.names}, batch.num_rows)


def _values(column: pa.Array) -> Sequence[Any]:
    if pa.types.is_fixed_size_list(column.type):
        return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
    return column.to_pylist()
