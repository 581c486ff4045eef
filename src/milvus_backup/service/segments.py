"""Finding segments' binlogs in Milvus storage (Milvus 2.3 has no segment-describe API: list and check).

One listing per collection, not two per segment: with thousands of small segments the listing calls, not the
bytes, would dominate the backup. The insert-log listing is read as it arrives: a listing is in key order, so
each segment's logs come together, and a segment can be copied while the rest is still being listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

from milvus_backup.errors import SourceDataError, StorageError
from milvus_backup.meta import layout
from milvus_backup.meta.model import Binlog, FieldBinlog, SegmentBackupInfo
from milvus_backup.milvus.protocol import Segment
from milvus_backup.service.resources import StorageLocation
from milvus_backup.storage.base import ObjectInfo

#: (partition id, segment id)
SegmentKey = tuple[int, int]
#: Newer Milvus keeps large TEXT values in files of the partition, not of a segment:
#: `insert_log/<coll>/<part>/lobs/<field>/<lob id>` (pkg/util/metautil in milvus).
LOB_FOLDER = "lobs"


@dataclass(frozen=True)
class SourceSegment:
    info: SegmentBackupInfo
    #: Source key -> content MD5 of the segment's logs, where the listing stated one: lets a copy's answer prove
    #: the copy.
    md5s: dict[str, str]
    #: Source keys of orphan binlogs found in the segment's folder and not backed up (see `_without_orphans`).
    orphans: tuple[str, ...] = ()


def _binlogs(
    source: StorageLocation, kind: str, collection_id: int, depth: int
) -> Iterator[tuple[SegmentKey, list[int], ObjectInfo]]:
    """(segment, the numeric path parts below the segment, object) of every binlog under
    `<root><kind>/<collection id>/`, in key order; anything that is not a binlog path of `depth` numbers
    (part/seg/...) is skipped."""
    prefix = layout.join(source.root, kind, str(collection_id)) + "/"
    for info in source.storage.list(prefix):
        parts = info.key[len(prefix) :].split("/")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            if len(parts) > 1 and parts[1] == LOB_FOLDER:
                raise SourceDataError(
                    location=source.describe(),
                    detail=f"collection {collection_id} keeps large values in LOB files ({info.key}), which newer "
                    "Milvus writes beside the segments and this tool does not back up",
                ) from None
            continue
        if len(numbers) == depth:
            yield (numbers[0], numbers[1]), numbers[2:], info


def _insert_logs_by_segment(
    source: StorageLocation, collection_id: int
) -> Iterator[tuple[SegmentKey, list[tuple[int, ObjectInfo]]]]:
    """Each segment with its [(field id, object)], as soon as the listing has moved past it."""
    current: SegmentKey | None = None
    logs: list[tuple[int, ObjectInfo]] = []
    passed: set[SegmentKey] = set()
    for segment, (field_id, _), info in _binlogs(source, "insert_log", collection_id, 4):  # part/seg/field/log
        if segment != current:
            if current is not None:
                yield current, logs
                passed.add(current)
            if segment in passed:  # a broken listing; going on would back up half a segment
                raise StorageError(location=source.describe(), detail=f"the listing is not in key order at {info.key}")
            current, logs = segment, []
        logs.append((field_id, info))
    if current is not None:
        yield current, logs


def describe_segments(source: StorageLocation, collection_id: int, segments: list[Segment]) -> Iterator[SourceSegment]:
    """Each of `segments` with its insert logs (one entry per field, every field with the same number of files)
    and delta logs, with sizes, in listing order, each as soon as the listing has passed it."""
    deltas: dict[SegmentKey, list[ObjectInfo]] = defaultdict(list)  # deletes: few, listed first
    for segment, _, info in _binlogs(source, "delta_log", collection_id, 3):  # part/seg/log
        deltas[segment].append(info)
    wanted = {(seg.partition_id, seg.segment_id): seg for seg in segments}
    for segment, logs in _insert_logs_by_segment(source, collection_id):
        seg = wanted.pop(segment, None)
        if seg is not None:  # others are growing, dropped or compacted away
            yield _describe(source, seg, logs, deltas.get(segment, []))
    for seg in wanted.values():
        if not seg.is_l0:
            prefix = layout.source_insert_prefix(source.root, collection_id, seg.partition_id, seg.segment_id)
            raise SourceDataError(
                location=source.describe(), detail=f"segment {seg.segment_id} has no insert logs under {prefix}"
            )
        yield _describe(source, seg, [], deltas.get((seg.partition_id, seg.segment_id), []))


def _binlog(info: ObjectInfo) -> Binlog:
    return Binlog(info.key, info.size, int(info.key.rsplit("/", 1)[1]))


def _describe(
    source: StorageLocation, seg: Segment, inserts: list[tuple[int, ObjectInfo]], deletes: list[ObjectInfo]
) -> SourceSegment:
    by_field: dict[int, list[Binlog]] = defaultdict(list)
    for field_id, info in inserts:
        by_field[field_id].append(_binlog(info))
    orphans: list[str] = []
    if len({len(logs) for logs in by_field.values()}) > 1:
        by_field, orphans = _without_orphans(source, seg, by_field)
    binlogs = [FieldBinlog(f, sorted(logs, key=lambda b: b.log_id)) for f, logs in sorted(by_field.items())]
    delta_logs = sorted((_binlog(info) for info in deletes), key=lambda b: b.log_id)
    deltalogs = [FieldBinlog(0, delta_logs)] if delta_logs else []
    described = SegmentBackupInfo(
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
    )
    md5s = {info.key: info.md5 for _, info in inserts if info.md5}
    md5s.update((info.key, info.md5) for info in deletes if info.md5)
    return SourceSegment(described, md5s, tuple(orphans))


def _without_orphans(
    source: StorageLocation, seg: Segment, by_field: dict[int, list[Binlog]]
) -> tuple[dict[int, list[Binlog]], list[str]]:
    """The segment's logs without the orphans of an interrupted flush, and the orphans' keys.

    Milvus writes one binlog per field for each flush of a segment: log ids from one block (consecutive, one per
    field), and the rows' timestamp range in every descriptor. It records them in its meta only once all are
    written; a Milvus killed in between leaves some fields' files that its meta never names (its GC removes them
    after `dataCoord.gc.missingTolerance`, an hour by default), and it flushes those rows again after its restart.
    So a flush found in every field is the segment's, and one found in some fields only is an orphan. That is then
    proven, not assumed: the kept timestamp logs must hold exactly the rows Milvus reports for the segment, and
    no flush may be found whole twice; otherwise the segment is refused as before."""
    # pyarrow only here: the command line leaves it out of commands that read no binlogs, and they import this
    from milvus_backup.meta.binlog import TIMESTAMP_FIELD, BinlogFile

    fields = len(by_field)
    by_range: dict[tuple[int, int], list[tuple[int, Binlog]]] = defaultdict(list)
    for field_id, logs in by_field.items():
        for log in logs:
            with closing(source.storage.open_read(log.log_path)) as stream:
                descriptor = BinlogFile(stream, log.log_path).descriptor
            by_range[(descriptor.start_ts, descriptor.end_ts)].append((field_id, log))
    kept: dict[int, list[Binlog]] = defaultdict(list)
    orphans: list[str] = []
    twice: tuple[int, int] | None = None
    for times, in_range in sorted(by_range.items()):
        whole = 0
        for flush in _id_blocks(in_range, fields):
            if len(flush) == fields:
                whole += 1
                for field_id, log in flush.items():
                    kept[field_id].append(log)
            else:
                orphans.extend(log.log_path for log in flush.values())
        if whole > 1:
            twice = times
    rows = sum(_rows_of(source, log) for log in kept.get(TIMESTAMP_FIELD, []))
    if twice or TIMESTAMP_FIELD not in kept or rows != seg.num_rows:
        why = (
            f"the flush of timestamps {twice} is there twice"
            if twice
            else f"the flushes found in every field hold {rows} rows, Milvus reports {seg.num_rows}"
        )
        raise SourceDataError(
            location=source.describe(),
            detail=f"segment {seg.segment_id}: fields have different numbers of binlog files "
            f"{ {f: len(logs) for f, logs in by_field.items()} }, and the orphans of an interrupted flush or "
            f"compaction cannot be told apart ({why})",
            hint="Milvus's garbage collection removes orphan binlogs after dataCoord.gc.missingTolerance (an hour "
            "by default): back up again after it, or after a compaction of the collection.",
        )
    return {f: sorted(logs, key=lambda b: b.log_id) for f, logs in sorted(kept.items())}, sorted(orphans)


def _id_blocks(logs: list[tuple[int, Binlog]], fields: int) -> Iterator[dict[int, Binlog]]:
    """The logs of one timestamp range split into flushes: field id -> log, of ids within one block of `fields`."""
    block: dict[int, Binlog] = {}
    first = 0
    for field_id, log in sorted(logs, key=lambda pair: pair[1].log_id):
        if block and (log.log_id - first >= fields or field_id in block):
            yield block
            block = {}
        if not block:
            first = log.log_id
        block[field_id] = log
    if block:
        yield block


def _rows_of(source: StorageLocation, log: Binlog) -> int:
    from milvus_backup.meta.binlog import BinlogFile

    with closing(source.storage.open_read(log.log_path)) as stream:
        return sum(len(array) for array in BinlogFile(stream, log.log_path).arrays())


def relative_keys(seg: SegmentBackupInfo) -> dict[str, Binlog]:
    """Backup-relative key (`binlogs/...`) -> binlog, of every insert and delta log of a backed-up segment."""
    keys = {}
    for fb in seg.binlogs:
        for log in fb.binlogs:
            rel = layout.backup_insert_key(
                "", "", seg.collection_id, seg.partition_id, seg.group_id, seg.segment_id, fb.field_id, _log_id(log)
            )
            keys[rel] = log
    for fb in seg.deltalogs:
        for log in fb.binlogs:
            rel = layout.backup_delta_key(
                "", "", seg.collection_id, seg.partition_id, seg.group_id, seg.segment_id, _log_id(log)
            )
            keys[rel] = log
    return keys


def _log_id(log: Binlog) -> int:
    """Old backups carry no log_id: the file name of its source path is the id."""
    return log.log_id or int(log.log_path.rsplit("/", 1)[-1])
