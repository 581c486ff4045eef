"""What the proof at create and a restore through inserts read from a backup: the live rows of its binlogs
(each segment's deletes applied), counted or in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from milvus_backup.meta.model import BackupInfo, CollectionBackupInfo, PartitionBackupInfo
from milvus_backup.milvus.protocol import RowBatch
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run


class RowSource(Protocol):
    def count(self, coll: CollectionBackupInfo, run: Run) -> int:
        """The live rows of the collection's binlogs in the backup."""
        ...

    def reinserted(self, coll: CollectionBackupInfo, run: Run) -> int:
        """Live rows whose primary key a delete in the backup names too (an upsert, or a delete then an insert of
        the key): an import into Milvus 2.2 applies such deletes to them as well."""
        ...

    def batches(
        self, coll: CollectionBackupInfo, partition: PartitionBackupInfo, max_rows: int, run: Run
    ) -> Iterator[RowBatch]:
        """The partition's live rows, every field (the primary key included), at most `max_rows` a batch;
        read as they are consumed, so memory holds a few batches at most."""
        ...


#: Opens the rows of one backup in backup storage.
RowSourceOpener = Callable[[StorageLocation, BackupInfo], RowSource]
