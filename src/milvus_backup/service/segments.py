"""Finding segments' binlogs in Milvus storage (Milvus 2.3 has no segment-describe API: list and check).

One listing per collection, not two per segment: with thousands of small segments the listing calls, not the
bytes, would dominate the backup.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from milvus_backup.errors import SourceDataError
from milvus_backup.meta import layout
from milvus_backup.meta.model import Binlog, FieldBinlog, SegmentBackupInfo
from milvus_backup.milvus.client import Segment
from milvus_backup.service.wiring import StorageLocation


@dataclass(frozen=True)
class SourceSegments:
    segments: list[SegmentBackupInfo]
    #: Source key -> content MD5, where the listing stated one: lets a copy's answer prove the copy.
    md5s: dict[str, str]


def _collection_logs(source: StorageLocation, kind: str, collection_id: int, depth: int,
                     md5s: dict[str, str]) -> dict[tuple[int, int], list[tuple[list[int], Binlog]]]:
    """(partition id, segment id) -> [(the numeric path parts below the segment, binlog)] under
    `<root><kind>/<collection id>/`; anything that is not a binlog path of `depth` numbers is ignored. Adds
    the MD5s the listing states to `md5s`."""
    prefix = layout.join(source.root, kind, str(collection_id)) + "/"
    found: dict[tuple[int, int], list[tuple[list[int], Binlog]]] = defaultdict(list)
    for info in source.storage.list(prefix):
        parts = info.key[len(prefix):].split("/")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            continue
        if len(numbers) != depth:
            continue
        found[(numbers[0], numbers[1])].append((numbers[2:], Binlog(info.key, info.size, numbers[-1])))
        if info.md5:
            md5s[info.key] = info.md5
    return found


def describe_segments(source: StorageLocation, collection_id: int, segments: list[Segment]) -> SourceSegments:
    """Each segment's insert logs (one entry per field, every field with the same number of files) and delta
    logs, with sizes."""
    md5s: dict[str, str] = {}
    inserts = _collection_logs(source, "insert_log", collection_id, 4, md5s)  # part/seg/field/log
    deltas = _collection_logs(source, "delta_log", collection_id, 3, md5s)  # part/seg/log
    where = source.describe()
    described = []
    for seg in segments:
        by_field: dict[int, list[Binlog]] = defaultdict(list)
        for (field_id, _), log in inserts.get((seg.partition_id, seg.segment_id), []):
            by_field[field_id].append(log)
        if not by_field and not seg.is_l0:
            prefix = layout.source_insert_prefix(source.root, collection_id, seg.partition_id, seg.segment_id)
            raise SourceDataError(location=where, detail=f"segment {seg.segment_id} has no insert logs under {prefix}")
        counts = {field: len(logs) for field, logs in by_field.items()}
        if len(set(counts.values())) > 1:
            raise SourceDataError(
                location=where,
                detail=f"segment {seg.segment_id}: fields have different numbers of binlog files {counts} "
                "(orphan binlogs from an interrupted flush or compaction)",
            )
        delta_logs = sorted((log for _, log in deltas.get((seg.partition_id, seg.segment_id), [])),
                            key=lambda b: b.log_id)
        binlogs = [FieldBinlog(f, sorted(logs, key=lambda b: b.log_id)) for f, logs in sorted(by_field.items())]
        deltalogs = [FieldBinlog(0, delta_logs)] if delta_logs else []
        described.append(SegmentBackupInfo(
            segment_id=seg.segment_id,
            collection_id=seg.collection_id,
            partition_id=seg.partition_id,
            num_of_rows=seg.num_rows,
            binlogs=binlogs,
            deltalogs=deltalogs,
            size=sum(b.log_size for fb in binlogs + deltalogs for b in fb.binlogs),
            group_id=0 if seg.partition_id == -1 else seg.segment_id,
            is_l0=seg.is_l0,
            v_channel=seg.channel,
            storage_version=seg.storage_version,
        ))
    return SourceSegments(described, md5s)
