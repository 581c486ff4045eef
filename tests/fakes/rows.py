"""`FakeRows`: the rows of a backup made from a `FakeMilvus`, read from the copied fake binlogs.

A fake insert log starts with `fake binlog field=F rows=N`, a fake delta log with `rows=D` (D rows deleted), so the
live rows of a segment are N - D, read from the backup's own copies (a copy lost or cut short shows). Batches hold
made-up values for every field of the schema, primary keys unique per segment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from milvus_backup.meta import layout
from milvus_backup.meta.model import (
    BackupInfo,
    CollectionBackupInfo,
    FieldSchema,
    PartitionBackupInfo,
    SegmentBackupInfo,
)
from milvus_backup.milvus.protocol import RowBatch
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.service.segments import relative_keys

_ROWS = re.compile(rb"rows=(\d+)")
_REINSERTED = re.compile(rb"reinserted=(\d+)")


class FakeRows:
    def __init__(self, location: StorageLocation, info: BackupInfo) -> None:
        self.location, self.info = location, info

    def _rows_of(self, key: str) -> int:
        match = _ROWS.search(self.location.storage.get(self.location.source_key(key))[:80])
        assert match is not None, key
        return int(match.group(1))

    def _live(self, seg: SegmentBackupInfo) -> int:
        fb = seg.binlogs[0]
        rows = self._rows_of(
            layout.backup_insert_key(
                self.location.root,
                self.info.name,
                seg.collection_id,
                seg.partition_id,
                seg.group_id,
                seg.segment_id,
                fb.field_id,
                fb.binlogs[0].log_id,
            )
        )
        for key in self._delta_keys(seg):
            rows -= self._rows_of(key)
        return rows

    def _delta_keys(self, seg: SegmentBackupInfo) -> list[str]:
        folder = layout.backup_dir(self.location.root, self.info.name)
        return [folder + key for key in relative_keys(seg) if key.startswith(f"{layout.BINLOG_DIR}/delta_log/")]

    def reinserted(self, coll: CollectionBackupInfo, run: Run) -> int:
        found = 0
        for seg in (s for p in coll.partition_backups for s in p.segment_backups):
            for key in self._delta_keys(seg):
                match = _REINSERTED.search(self.location.storage.get(self.location.source_key(key))[:80])
                found += int(match.group(1)) if match else 0
        return found

    def count(self, coll: CollectionBackupInfo, run: Run) -> int:
        return sum(self._live(s) for p in coll.partition_backups for s in p.segment_backups)

    def batches(
        self, coll: CollectionBackupInfo, partition: PartitionBackupInfo, max_rows: int, run: Run
    ) -> Iterator[RowBatch]:
        for seg in partition.segment_backups:
            live = self._live(seg)
            for start in range(0, live, max_rows):
                ids = range(seg.segment_id * 10_000 + start, seg.segment_id * 10_000 + min(live, start + max_rows))
                columns = {f.name: [_value(f, i) for i in ids] for f in coll.schema.fields}
                yield RowBatch(columns, len(ids))


def _value(f: FieldSchema, i: int) -> Any:
    if f.data_type == 101:
        return [float(i % 7)] * int(f.type_param("dim") or 8)
    if f.data_type == 21:
        return f"v{i}"
    return i
