"""PLACEHOLDER until the binlog reader lands: the backup's live rows through the reader."""

from __future__ import annotations

from collections.abc import Iterator

from milvus_backup.meta.model import BackupInfo, CollectionBackupInfo, PartitionBackupInfo
from milvus_backup.milvus.protocol import RowBatch
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run


class BinlogRows:
    def __init__(self, location: StorageLocation, info: BackupInfo) -> None:
        self.location, self.info = location, info

    def count(self, coll: CollectionBackupInfo, run: Run) -> int:
        raise NotImplementedError

    def batches(
        self, coll: CollectionBackupInfo, partition: PartitionBackupInfo, max_rows: int, run: Run
    ) -> Iterator[RowBatch]:
        raise NotImplementedError
