"""Finding a segment's binlogs in Milvus storage (Milvus 2.3 has no segment-describe API: list and check)."""

from __future__ import annotations

from collections import defaultdict

from milvus_backup.errors import SourceDataError
from milvus_backup.meta import layout
from milvus_backup.meta.model import Binlog, FieldBinlog, SegmentBackupInfo
from milvus_backup.milvus.client import Segment
from milvus_backup.service.wiring import StorageLocation


def describe_segment(source: StorageLocation, segment: Segment) -> SegmentBackupInfo:
    """The segment's insert logs (one entry per field, every field with the same number of files) and
    delta logs, with sizes, from a listing of its two prefixes."""
    seg = segment
    insert_prefix = layout.source_insert_prefix(source.root, seg.collection_id, seg.partition_id, seg.segment_id)
    delta_prefix = layout.source_delta_prefix(source.root, seg.collection_id, seg.partition_id, seg.segment_id)
    by_field: dict[int, list[Binlog]] = defaultdict(list)
    for info in source.storage.list(insert_prefix):
        parts = info.key[len(insert_prefix):].split("/")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            continue  # not a binlog (e.g. a stray file): it is not part of the segment
        by_field[int(parts[0])].append(Binlog(log_path=info.key, log_size=info.size, log_id=int(parts[1])))
    deltas = [
        Binlog(log_path=info.key, log_size=info.size, log_id=int(info.key[len(delta_prefix):]))
        for info in source.storage.list(delta_prefix)
        if info.key[len(delta_prefix):].isdigit()
    ]
    where = source.describe()
    if not by_field and not seg.is_l0:
        raise SourceDataError(location=where, detail=f"segment {seg.segment_id} has no insert logs under {insert_prefix}")
    counts = {field: len(logs) for field, logs in by_field.items()}
    if len(set(counts.values())) > 1:
        raise SourceDataError(
            location=where,
            detail=f"segment {seg.segment_id}: fields have different numbers of binlog files {counts} "
            "(orphan binlogs from an interrupted flush or compaction)",
        )
    binlogs = [FieldBinlog(field, sorted(logs, key=lambda b: b.log_id)) for field, logs in sorted(by_field.items())]
    deltalogs = [FieldBinlog(0, sorted(deltas, key=lambda b: b.log_id))] if deltas else []
    size = sum(b.log_size for fb in binlogs + deltalogs for b in fb.binlogs)
    return SegmentBackupInfo(
        segment_id=seg.segment_id,
        collection_id=seg.collection_id,
        partition_id=seg.partition_id,
        num_of_rows=seg.num_rows,
        binlogs=binlogs,
        deltalogs=deltalogs,
        size=size,
        group_id=0 if seg.partition_id == -1 else seg.segment_id,
        is_l0=seg.is_l0,
        v_channel=seg.channel,
        storage_version=seg.storage_version,
    )
