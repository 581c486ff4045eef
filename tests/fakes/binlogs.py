"""Binlog files and whole backups of them, written the way Milvus's format description says, for unit tests of
the reader (the integration tests read files that a real Milvus wrote)."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from milvus_backup.meta import codec, layout
from milvus_backup.meta.binlog import MAGIC, DataType, EventType
from milvus_backup.meta.model import (
    BackupInfo,
    Binlog,
    CollectionBackupInfo,
    CollectionSchema,
    FieldBinlog,
    FieldSchema,
    KeyValue,
    PartitionBackupInfo,
    SegmentBackupInfo,
)
from milvus_backup.storage.base import Storage


def parquet(array: pa.Array, columns: dict[str, pa.Array] | None = None) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(columns or {"val": array}), out)
    return out.getvalue()


def event(code: int, position: int, data: bytes, timestamp: int = 1) -> bytes:
    length = 17 + len(data)
    return struct.pack("<QbiI", timestamp, code, length, position + length) + data


def binlog(
    field_id: int,
    data_type: int,
    payloads: list[bytes],
    *,
    event_type: int = EventType.INSERT,
    type_count: int = 8,
    extras: dict[str, Any] | None = None,
    ids: tuple[int, int, int] = (1, 2, 3),
    times: tuple[int, int] = (10, 20),
) -> bytes:
    """A binlog file: magic, descriptor (with `type_count` post-header lengths and the rows' timestamp range
    `times`), one event per Parquet payload."""
    fixed = struct.pack("<qqqqQQi", *ids, field_id, *times, data_type)
    extra = json.dumps(extras if extras is not None else {"original_size": "1"}).encode()
    descriptor = fixed + bytes([16] * type_count) + struct.pack("<i", len(extra)) + extra
    out = struct.pack("<i", MAGIC)
    out += event(EventType.DESCRIPTOR, len(out), descriptor)
    for payload in payloads:
        out += event(event_type, len(out), struct.pack("<QQ", 10, 20) + payload)
    return out


def array_value(values: list[int]) -> bytes:
    """A serialized ScalarField holding long_data (field 3) with packed varints, as Milvus stores an Array row."""
    packed = b"".join(_varint(v & ((1 << 64) - 1)) for v in values)
    inner = b"\x0a" + _varint(len(packed)) + packed
    return b"\x1a" + _varint(len(inner)) + inner


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@dataclass
class FakeSegment:
    segment_id: int
    #: field id -> payload Arrow array (row id 0 and timestamps 1 are made from `timestamps`)
    columns: dict[int, pa.Array]
    timestamps: list[int]
    #: (pk, ts) deletes in this segment's delta log
    deletes: list[tuple[Any, int]] = field(default_factory=list)
    #: how many files each field's rows are split into
    files: int = 1


def _split(array: pa.Array, parts: int) -> list[pa.Array]:
    size = -(-len(array) // parts)
    return [array.slice(i * size, size) for i in range(parts)]


def write_backup(
    storage: Storage,
    root: str,
    name: str,
    fields: list[FieldSchema],
    partitions: dict[str, list[FakeSegment]],
    *,
    dynamic: bool = False,
    collection: str = "c",
) -> BackupInfo:
    """A complete backup (meta and binlogs) of one collection in `storage`."""
    pk = next(f for f in fields if f.is_primary_key)
    coll_id = 100
    parts = []
    for index, (part_name, segments) in enumerate(partitions.items()):
        part_id = 200 + index
        backups = []
        for seg in segments:
            rows = len(seg.timestamps)
            all_columns = {
                0: pa.array(range(rows), pa.int64()),
                1: pa.array(seg.timestamps, pa.int64()),
                **seg.columns,
            }
            binlogs = []
            for field_id, array in all_columns.items():
                logs = []
                for n, chunk in enumerate(_split(array, seg.files)):
                    log_id = 1000 * field_id + n + 1
                    data = binlog(field_id, 0, [parquet(chunk)])
                    key = layout.backup_insert_key(
                        root, name, coll_id, part_id, seg.segment_id, seg.segment_id, field_id, log_id
                    )
                    storage.put(key, data)
                    logs.append(Binlog(f"insert_log/{field_id}/{log_id}", len(data), log_id))
                binlogs.append(FieldBinlog(field_id, logs))
            deltalogs = []
            if seg.deletes:
                texts = [json.dumps({"pk": p, "ts": t, "pkType": pk.data_type}) for p, t in seg.deletes]
                data = binlog(-1, DataType.STRING, [parquet(pa.array(texts))], event_type=EventType.DELETE)
                key = layout.backup_delta_key(root, name, coll_id, part_id, seg.segment_id, seg.segment_id, 9)
                storage.put(key, data)
                deltalogs.append(FieldBinlog(0, [Binlog("delta_log/9", len(data), 9)]))
            backups.append(
                SegmentBackupInfo(
                    segment_id=seg.segment_id,
                    collection_id=coll_id,
                    partition_id=part_id,
                    num_of_rows=rows,
                    binlogs=binlogs,
                    deltalogs=deltalogs,
                    group_id=seg.segment_id,
                    size=sum(b.log_size for fb in binlogs + deltalogs for b in fb.binlogs),
                )
            )
        parts.append(PartitionBackupInfo(part_id, part_name, coll_id, backups, sum(s.size for s in backups)))
    coll = CollectionBackupInfo(
        collection_id=coll_id,
        db_name="default",
        collection_name=collection,
        schema=CollectionSchema(name=collection, fields=fields, enable_dynamic_field=dynamic),
        partition_backups=parts,
    )
    info = BackupInfo(id="x", name=name, backup_timestamp=1 << 18, collection_backups=[coll])
    for file, data in codec.encode_files(info).items():
        storage.put(layout.meta_key(root, name, file), data)
    return info


def field_schema(
    field_id: int, name: str, data_type: int, *, dim: int = 0, pk: bool = False, **extra: Any
) -> FieldSchema:
    params = [KeyValue("dim", str(dim))] if dim else []
    return FieldSchema(
        field_id=field_id, name=name, data_type=data_type, type_params=params, is_primary_key=pk, **extra
    )
