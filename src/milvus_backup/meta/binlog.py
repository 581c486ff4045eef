"""Milvus binlog files (insert, delta and stats logs), parsed from a stream: the format only, no I/O of its own.

A binlog file is a 4-byte magic number, a descriptor event, then data events. Every event starts with a 17-byte
header (timestamp u64, type code i8, event length i32 including the header, offset of the next event u32), all
little-endian. The descriptor's data is a fixed part (collection, partition, segment and field ids, start and end
timestamps, the payload's Milvus data type), one byte per event type (the fixed data length of that type), and a
length-prefixed JSON object of extras (`original_size`, and `nullable` from Milvus 2.5). An insert or delete
event's data is its start and end timestamps followed by a Parquet file holding the payload in one column.

Delta logs hold one string per deleted row: `{"pk": ..., "ts": ..., "pkType": 5|21}` (Milvus 2.2 and later) or
`pk,ts` (older int64-only files). Stats logs of Milvus 2.2/2.3 are plain JSON (a primary key's min, max and bloom
filter), not binlogs. See docs/format.md for what each field type's payload holds and how it is converted.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from milvus_backup.errors import BinlogFormatError, UnsupportedFormatError

MAGIC = 0xFFFABC
_MAGIC = struct.Struct("<i")
_HEADER = struct.Struct("<QbiI")
_DESCRIPTOR_FIXED = struct.Struct("<qqqqQQi")
_EVENT_TIMES = struct.Struct("<QQ")
_INT32 = struct.Struct("<i")
#: Rows per batch read from a payload's row group (bounded memory within a large event; 65,536 rows of a
#: 128-d float vector are 32 MB). Smaller batches cost more per row: 8,192 made reading 2-3x slower.
BATCH_ROWS = 65536


class EventType(IntEnum):
    DESCRIPTOR = 0
    INSERT = 1
    DELETE = 2
    CREATE_COLLECTION = 3
    DROP_COLLECTION = 4
    CREATE_PARTITION = 5
    DROP_PARTITION = 6
    INDEX_FILE = 7


class DataType(IntEnum):
    """Milvus's schema data types (schema.proto numbers)."""

    NONE = 0
    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    STRING = 20
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    BINARY_VECTOR = 100
    FLOAT_VECTOR = 101
    FLOAT16_VECTOR = 102
    BFLOAT16_VECTOR = 103
    SPARSE_FLOAT_VECTOR = 104
    INT8_VECTOR = 105


VECTOR_TYPES = frozenset(
    {
        DataType.BINARY_VECTOR,
        DataType.FLOAT_VECTOR,
        DataType.FLOAT16_VECTOR,
        DataType.BFLOAT16_VECTOR,
        DataType.SPARSE_FLOAT_VECTOR,
        DataType.INT8_VECTOR,
    }
)

ROW_ID_FIELD = 0
TIMESTAMP_FIELD = 1


@dataclass(frozen=True)
class Descriptor:
    """The descriptor event of a binlog file: whose data it holds and of which type."""

    collection_id: int
    partition_id: int
    segment_id: int
    field_id: int
    start_ts: int
    end_ts: int
    data_type: int
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A data event: its type, timestamps and the Parquet file of its payload."""

    type: int
    timestamp: int
    start_ts: int
    end_ts: int
    #: The Parquet file (bytes, or an Arrow buffer over the event's bytes).
    payload: bytes | pa.Buffer

    def arrays(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.Array]:
        """The payload's column, a batch of at most `batch_rows` rows at a time (empty payloads yield nothing)."""
        parquet = pq.ParquetFile(pa.BufferReader(self.payload))
        if parquet.metadata.num_columns < 1:
            raise BinlogFormatError(key="", detail="payload without a column")
        for batch in parquet.iter_batches(batch_size=batch_rows):
            if batch.num_rows:
                yield batch.column(0)

    def record_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The whole payload (several columns in the multi-field delta logs of newer Milvus)."""
        yield from pq.ParquetFile(pa.BufferReader(self.payload)).iter_batches(batch_size=batch_rows)


class BinlogFile:
    """One binlog file read from `stream` one event at a time: `descriptor` is read on opening, `events()` reads
    the rest. `key` names the file in errors."""

    def __init__(self, stream: BinaryIO, key: str = "") -> None:
        self._stream = stream
        self.key = key
        self._position = 0
        head = self._read(_MAGIC.size)
        if len(head) < _MAGIC.size or _MAGIC.unpack(head)[0] != MAGIC:
            raise BinlogFormatError(key=key, detail=f"not a binlog: magic number {head.hex() or 'missing'}")
        header, data = self._read_event()
        if header is None or header[1] != EventType.DESCRIPTOR:
            raise BinlogFormatError(key=key, detail="the first event is not a descriptor event")
        self.descriptor = _parse_descriptor(data, key)

    def _read(self, size: int) -> bytes:
        data = self._stream.read(size)
        if len(data) < size:
            parts = [data]
            got = len(data)
            while got < size:
                more = self._stream.read(size - got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        self._position += len(data)
        return data

    def _read_event(self) -> tuple[tuple[int, int, int, int] | None, bytes]:
        start = self._position
        raw = self._read(_HEADER.size)
        if not raw:
            return None, b""
        if len(raw) < _HEADER.size:
            raise BinlogFormatError(key=self.key, detail=f"truncated event header at byte {start}")
        header = _HEADER.unpack(raw)
        length, next_position = header[2], header[3]
        if length < _HEADER.size or next_position != start + length:
            raise BinlogFormatError(
                key=self.key, detail=f"event at byte {start}: length {length}, next event at {next_position}"
            )
        data = self._read(length - _HEADER.size)
        if len(data) < length - _HEADER.size:
            raise BinlogFormatError(key=self.key, detail=f"truncated event at byte {start}")
        return header, data

    def events(self) -> Iterator[Event]:
        """The data events after the descriptor, each read when it is asked for."""
        while True:
            header, data = self._read_event()
            if header is None:
                return
            timestamp, code = header[0], header[1]
            if len(data) < _EVENT_TIMES.size:
                raise BinlogFormatError(key=self.key, detail=f"event of type {code} without its timestamps")
            start_ts, end_ts = _EVENT_TIMES.unpack_from(data)
            # The payload is handed on without a copy (a Parquet reader over the event's bytes).
            yield Event(code, timestamp, start_ts, end_ts, pa.py_buffer(data).slice(_EVENT_TIMES.size))

    def arrays(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.Array]:
        """Every payload value of the file's insert (or delete) events, in order, in batches."""
        for event in self.events():
            if event.type in (EventType.INSERT, EventType.DELETE):
                try:
                    yield from event.arrays(batch_rows)
                except pa.ArrowException as exc:
                    raise BinlogFormatError(key=self.key, detail=f"payload is not Parquet: {exc}") from exc


def check_structure(binlog: BinlogFile, field_id: int | None = None) -> int:
    """Everything the format lets a reader check without a checksum of the file: the descriptor names `field_id`
    (of an insert log; None for a delta log), every event is whole and chained to the next, and every payload is a
    Parquet file that decodes, with its page checksums verified where the writer stored them. A changed value
    inside a payload passes (Milvus stores no checksum of the values). Returns the payloads' rows; raises
    BinlogFormatError naming what is wrong."""
    if field_id is not None and binlog.descriptor.field_id != field_id:
        raise BinlogFormatError(
            key=binlog.key, detail=f"its descriptor names field {binlog.descriptor.field_id}, its path field {field_id}"
        )
    rows = 0
    for event in binlog.events():
        if event.type not in (EventType.INSERT, EventType.DELETE):
            continue
        try:
            parquet = pq.ParquetFile(pa.BufferReader(event.payload), page_checksum_verification=True)
            rows += sum(batch.num_rows for batch in parquet.iter_batches(batch_size=BATCH_ROWS))
        except pa.ArrowException as exc:
            raise BinlogFormatError(key=binlog.key, detail=f"payload does not decode: {exc}") from exc
    return rows


def _parse_descriptor(data: bytes, key: str) -> Descriptor:
    if len(data) < _DESCRIPTOR_FIXED.size + _INT32.size:
        raise BinlogFormatError(key=key, detail="descriptor event too short")
    fixed = _DESCRIPTOR_FIXED.unpack_from(data)
    # One length byte per event type follows the fixed part; their count grew with Milvus's event types, so it is
    # found as the one that makes the extras' length prefix account for the rest of the event.
    for type_count in range(8, 256):
        at = _DESCRIPTOR_FIXED.size + type_count
        if at + _INT32.size > len(data):
            break
        extra_length = _INT32.unpack_from(data, at)[0]
        if at + _INT32.size + extra_length == len(data):
            raw = data[at + _INT32.size :]
            try:
                extras = json.loads(raw) if raw else {}
            except ValueError as exc:
                raise BinlogFormatError(key=key, detail=f"descriptor extras are not JSON: {exc}") from exc
            collection, partition, segment, field_id, start_ts, end_ts, data_type = fixed
            return Descriptor(
                collection,
                partition,
                segment,
                field_id,
                start_ts,
                end_ts,
                data_type,
                extras if isinstance(extras, dict) else {},
            )
    raise BinlogFormatError(key=key, detail="descriptor event: cannot find its extras")


# ----------------------------------------------------------------------------------------------------------------
# Columns: a field's payload as an Arrow array of its logical type


@dataclass(frozen=True)
class ColumnSpec:
    """What converting a field's payload needs from the schema."""

    field_id: int
    name: str
    data_type: int
    element_type: int = 0
    dim: int = 0
    is_primary_key: bool = False
    is_dynamic: bool = False

    @property
    def is_json(self) -> bool:
        return self.data_type == DataType.JSON


_SCALARS: dict[int, pa.DataType] = {
    DataType.BOOL: pa.bool_(),
    DataType.INT8: pa.int8(),
    DataType.INT16: pa.int16(),
    DataType.INT32: pa.int32(),
    DataType.INT64: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.STRING: pa.string(),
    DataType.VARCHAR: pa.string(),
    # JSON (and the dynamic field) as JSON text.
    DataType.JSON: pa.string(),
}

_VECTOR_ELEMENTS: dict[int, tuple[pa.DataType, int]] = {
    # data type -> (element type of the fixed-size list, bytes per dimension in the payload (binary: per 8))
    DataType.FLOAT_VECTOR: (pa.float32(), 4),
    DataType.BINARY_VECTOR: (pa.uint8(), 1),
    DataType.FLOAT16_VECTOR: (pa.float32(), 2),
    DataType.BFLOAT16_VECTOR: (pa.float32(), 2),
    DataType.INT8_VECTOR: (pa.int8(), 1),
}


def _list_size(spec: ColumnSpec) -> int:
    return spec.dim // 8 if spec.data_type == DataType.BINARY_VECTOR else spec.dim


def arrow_type(spec: ColumnSpec) -> pa.DataType:
    """The Arrow type of a field's column: scalars as themselves, JSON as JSON text, arrays as lists, vectors as
    fixed-size lists (float32 for float, float16 and bfloat16 vectors; uint8 bytes for binary vectors), sparse
    vectors as maps of index to value."""
    if spec.data_type in _SCALARS:
        return _SCALARS[spec.data_type]
    if spec.data_type == DataType.ARRAY:
        element = _SCALARS.get(spec.element_type)
        if element is None or spec.element_type == DataType.JSON:
            raise _unsupported(spec, f"arrays of type {_type_name(spec.element_type)}")
        return pa.list_(element)
    if spec.data_type in _VECTOR_ELEMENTS:
        if spec.dim <= 0:
            raise _unsupported(spec, "a vector without its dimension")
        return pa.list_(_VECTOR_ELEMENTS[spec.data_type][0], _list_size(spec))
    if spec.data_type == DataType.SPARSE_FLOAT_VECTOR:
        return pa.map_(pa.uint32(), pa.float32())
    raise _unsupported(spec, f"type {_type_name(spec.data_type)}")


def _type_name(data_type: int) -> str:
    try:
        return DataType(data_type).name
    except ValueError:
        return str(data_type)


def _unsupported(spec: ColumnSpec, what: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        detail=f"field {spec.name!r} (id {spec.field_id}): {what} cannot be read from binlogs by this version"
    )


def to_column(spec: ColumnSpec, payload: pa.Array) -> pa.Array:
    """A batch of a field's payload values as an array of `arrow_type(spec)`."""
    target = arrow_type(spec)
    data_type = spec.data_type
    if data_type in _SCALARS:
        return payload if payload.type == target else payload.cast(target)
    if data_type == DataType.ARRAY:
        return _arrays(spec, payload, target)
    if data_type == DataType.SPARSE_FLOAT_VECTOR:
        return _sparse(payload)
    return _vectors(spec, payload, target)


def _vectors(spec: ColumnSpec, payload: pa.Array, target: pa.DataType) -> pa.Array:
    element, width = _VECTOR_ELEMENTS[spec.data_type]
    size = _list_size(spec)
    expected = size * width
    if not pa.types.is_fixed_size_binary(payload.type) or payload.type.byte_width != expected:
        raise _unsupported(
            spec, f"a {_type_name(spec.data_type)} payload of type {payload.type} (want {expected} bytes)"
        )
    if payload.null_count:
        raise _unsupported(spec, "null vectors")
    buffer = payload.buffers()[1]
    raw = np.frombuffer(buffer, dtype=np.uint8, count=(payload.offset + len(payload)) * expected)
    raw = raw[payload.offset * expected :]
    if spec.data_type == DataType.FLOAT16_VECTOR:
        values = pa.array(raw.view("<f2").astype(np.float32))
    elif spec.data_type == DataType.BFLOAT16_VECTOR:
        # bfloat16 is the upper half of a float32: widening is exact.
        values = pa.array((raw.view("<u2").astype(np.uint32) << 16).view(np.float32))
    elif spec.data_type == DataType.FLOAT_VECTOR:
        values = pa.array(raw.view("<f4"))
    else:
        values = pa.array(raw.view(np.int8 if element == pa.int8() else np.uint8))
    return pa.FixedSizeListArray.from_arrays(values, size).cast(target)


def _sparse(payload: pa.Array) -> pa.Array:
    """Each row: (uint32 index, float32 value) pairs, little-endian."""
    rows: list[list[tuple[int, float]] | None] = []
    pair = np.dtype([("i", "<u4"), ("v", "<f4")])
    for value in payload.to_pylist():
        if value is None:
            rows.append(None)
            continue
        pairs = np.frombuffer(value, dtype=pair)
        rows.append(list(zip(pairs["i"].tolist(), pairs["v"].tolist(), strict=True)))
    return pa.array(rows, type=pa.map_(pa.uint32(), pa.float32()))


def _arrays(spec: ColumnSpec, payload: pa.Array, target: pa.DataType) -> pa.Array:
    """Each row is a serialized ScalarField message (schema.proto) holding one typed repeated field."""
    values = [None if raw is None else _scalar_field(raw, spec) for raw in payload.to_pylist()]
    return pa.array(values, type=target)


# ScalarField's fields (schema.proto): which oneof member holds which element type.
_SCALAR_FIELD_NUMBERS: dict[int, int] = {
    DataType.BOOL: 1,
    DataType.INT8: 2,
    DataType.INT16: 2,
    DataType.INT32: 2,
    DataType.INT64: 3,
    DataType.FLOAT: 4,
    DataType.DOUBLE: 5,
    DataType.STRING: 6,
    DataType.VARCHAR: 6,
}


def _scalar_field(raw: bytes, spec: ColumnSpec) -> list[Any]:
    want = _SCALAR_FIELD_NUMBERS.get(spec.element_type)
    for number, wire, value in _protobuf_fields(raw):
        if number == want and wire == 2:
            return _repeated_data(value, spec.element_type)
    return []  # an empty array serializes as an empty message or an empty member


def _repeated_data(message: bytes, element_type: int) -> list[Any]:
    """The `data` field (1) of a BoolArray/IntArray/LongArray/FloatArray/DoubleArray/StringArray message."""
    out: list[Any] = []
    for number, wire, value in _protobuf_fields(message):
        if number != 1:
            continue
        if element_type in (DataType.STRING, DataType.VARCHAR):
            out.append(bytes(value).decode("utf-8"))
        elif element_type == DataType.FLOAT:
            out.extend(np.frombuffer(value, "<f4").tolist() if wire == 2 else [struct.unpack("<f", value)[0]])
        elif element_type == DataType.DOUBLE:
            out.extend(np.frombuffer(value, "<f8").tolist() if wire == 2 else [struct.unpack("<d", value)[0]])
        else:
            ints = _varints(value) if wire == 2 else [value]
            out.extend(bool(v) for v in ints) if element_type == DataType.BOOL else out.extend(map(_signed, ints))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if at >= len(data):
            raise BinlogFormatError(key="", detail="truncated protobuf varint in an array value")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, at
        shift += 7


def _varints(data: bytes) -> list[int]:
    out, at = [], 0
    while at < len(data):
        value, at = _read_varint(data, at)
        out.append(value)
    return out


def _protobuf_fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    at = 0
    while at < len(data):
        tag, at = _read_varint(data, at)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, at = _read_varint(data, at)
            yield number, wire, value
        elif wire == 2:
            length, at = _read_varint(data, at)
            yield number, wire, data[at : at + length]
            at += length
        elif wire == 5:
            yield number, wire, data[at : at + 4]
            at += 4
        elif wire == 1:
            yield number, wire, data[at : at + 8]
            at += 8
        else:
            raise BinlogFormatError(key="", detail=f"unexpected protobuf wire type {wire} in an array value")


# ----------------------------------------------------------------------------------------------------------------
# Delta logs and stats logs


@dataclass(frozen=True)
class DeleteBatch:
    """Deleted primary keys and the timestamps of their deletes."""

    pks: list[Any]
    timestamps: list[int]


def read_deletes(binlog: BinlogFile, batch_rows: int = BATCH_ROWS) -> Iterator[DeleteBatch]:
    """The deletes of a delta log, a batch at a time."""
    for event in binlog.events():
        if event.type not in (EventType.INSERT, EventType.DELETE):
            continue
        for batch in event.record_batches(batch_rows):
            if batch.num_columns >= 2:  # newer Milvus: pk and ts columns
                yield DeleteBatch(batch.column(0).to_pylist(), batch.column(1).to_pylist())
            else:
                pks, tss = [], []
                for text in batch.column(0).to_pylist():
                    pk, ts = _parse_delete(text, binlog.key)
                    pks.append(pk)
                    tss.append(ts)
                yield DeleteBatch(pks, tss)


def _parse_delete(text: str | bytes, key: str) -> tuple[Any, int]:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.startswith("{"):
        record = json.loads(text)
        return record["pk"], int(record["ts"])
    pk, sep, ts = text.partition(",")
    if not sep:
        raise BinlogFormatError(key=key, detail=f"delete record {text[:60]!r} is neither JSON nor 'pk,ts'")
    return int(pk), int(ts)


def read_stats(data: bytes, key: str = "") -> list[dict[str, Any]]:
    """A stats log's primary-key statistics (field id, min, max, bloom filter): plain JSON (one object, or a list
    in the merged log `1`), or, in older files, a binlog whose string payload is that JSON."""
    if len(data) >= _MAGIC.size and _MAGIC.unpack_from(data)[0] == MAGIC:
        import io

        texts = [v for array in BinlogFile(io.BytesIO(data), key).arrays() for v in array.to_pylist()]
        return [s for text in texts for s in read_stats(text.encode() if isinstance(text, str) else text, key)]
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise BinlogFormatError(key=key, detail=f"stats log is neither a binlog nor JSON: {exc}") from exc
    return parsed if isinstance(parsed, list) else [parsed]


# ----------------------------------------------------------------------------------------------------------------
# Rows of a segment: the fields' files read side by side


def zip_columns(columns: Mapping[str, Iterable[pa.Array]]) -> Iterator[pa.RecordBatch]:
    """Record batches whose columns are the arrays each iterable yields, cut so that they line up (fields' files
    split their rows into batches of different sizes). Every iterable must yield the same number of rows."""
    names = list(columns)
    iterators = [iter(columns[name]) for name in names]
    current: list[pa.Array | None] = [None] * len(names)
    while True:
        for i, it in enumerate(iterators):
            while current[i] is None or len(current[i]) == 0:  # type: ignore[arg-type]
                nxt = next(it, None)
                if nxt is None:
                    current[i] = None
                    break
                current[i] = nxt
        done = [c is None for c in current]
        if all(done):
            return
        if any(done):
            short = [names[i] for i, d in enumerate(done) if d]
            raise BinlogFormatError(key="", detail=f"fields {short} hold fewer rows than the other fields")
        take = min(len(c) for c in current if c is not None)
        yield pa.RecordBatch.from_arrays([c.slice(0, take) for c in current if c is not None], names=names)
        current = [c.slice(take) for c in current if c is not None]


class Deletes:
    """A partition's deletes: primary key -> the timestamp of its latest delete."""

    def __init__(self, batches: Iterable[DeleteBatch] = (), as_of: int | None = None) -> None:
        self.latest: dict[Any, int] = {}
        self.records = 0
        self._value_set: pa.Array | None = None
        for batch in batches:
            self.add(batch, as_of)

    def add(self, batch: DeleteBatch, as_of: int | None = None) -> None:
        """Deletes after `as_of` are left out."""
        for pk, ts in zip(batch.pks, batch.timestamps, strict=True):
            if as_of is not None and ts > as_of:
                continue
            self.records += 1
            if ts > self.latest.get(pk, -1):
                self.latest[pk] = ts
        self._value_set = None

    def __len__(self) -> int:
        return len(self.latest)

    def names(self, pks: pa.Array) -> pa.Array:
        """Which of `pks` some delete names (whatever its timestamp)."""
        if not self.latest:
            return pa.array(np.zeros(len(pks), dtype=bool))
        if self._value_set is None:
            self._value_set = pa.array(list(self.latest), type=pks.type)
        return pc.is_in(pks, value_set=self._value_set)

    def keep_mask(self, pks: pa.Array, timestamps: pa.Array, as_of: int | None = None) -> pa.Array | None:
        """Which rows are live (None: all of them). A delete at ts removes the rows of its primary key inserted
        before ts (so an upsert's new row, which has its delete's timestamp, stays); with `as_of`, rows inserted
        after it are not there yet. Rows of a key nobody deleted are all kept, duplicates included (as
        `count(*)` counts them)."""
        if as_of is None and not self.latest:
            return None
        keep = pa.array(np.ones(len(pks), dtype=bool))
        if as_of is not None:
            keep = pc.less_equal(timestamps, pa.scalar(as_of, pa.int64()))
        if not self.latest:
            return keep
        hits = np.flatnonzero(self.names(pks).to_numpy(zero_copy_only=False))
        if not len(hits):
            return keep
        mask = keep.to_numpy(zero_copy_only=False).copy()
        taken = pa.array(hits)
        for index, pk, ts in zip(
            hits.tolist(), pks.take(taken).to_pylist(), timestamps.take(taken).to_pylist(), strict=True
        ):
            if ts < self.latest[pk]:
                mask[index] = False
        return pa.array(mask)
