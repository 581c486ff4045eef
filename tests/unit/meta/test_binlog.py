"""The binlog format on files written here from the format description (real Milvus files: test_reader.py)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pyarrow as pa
import pytest

from milvus_backup.errors import BinlogFormatError, UnsupportedFormatError
from milvus_backup.meta.binlog import (
    BinlogFile,
    ColumnSpec,
    DataType,
    DeleteBatch,
    Deletes,
    EventType,
    arrow_type,
    read_deletes,
    read_stats,
    to_column,
    zip_columns,
)
from tests.fakes.binlogs import array_value, binlog, parquet


def read(data: bytes) -> BinlogFile:
    return BinlogFile(io.BytesIO(data), "k")


def column(spec: ColumnSpec, payload: pa.Array) -> list:
    data = binlog(spec.field_id, spec.data_type, [parquet(payload)])
    return [v for array in read(data).arrays() for v in to_column(spec, array).to_pylist()]


def test_descriptor_and_events():
    data = binlog(
        105, DataType.INT64, [parquet(pa.array([1, 2])), parquet(pa.array([3]))], extras={"original_size": "24"}
    )
    file = read(data)
    d = file.descriptor
    assert (d.collection_id, d.partition_id, d.segment_id, d.field_id, d.data_type) == (1, 2, 3, 105, DataType.INT64)
    assert d.extras == {"original_size": "24"}
    assert [a.to_pylist() for a in file.arrays()] == [[1, 2], [3]]


@pytest.mark.parametrize("type_count", [8, 9, 13])
def test_descriptors_of_newer_versions_with_more_event_types(type_count):
    file = read(binlog(100, DataType.BOOL, [parquet(pa.array([True]))], type_count=type_count))
    assert file.descriptor.field_id == 100
    assert [a.to_pylist() for a in file.arrays()] == [[True]]


def test_large_event_is_read_in_batches():
    file = read(binlog(100, DataType.INT64, [parquet(pa.array(range(20_000)))]))
    sizes = [len(a) for a in file.arrays(batch_rows=8192)]
    assert sum(sizes) == 20_000 and max(sizes) <= 8192 and len(sizes) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PAR1....", "not a binlog"),
        (b"", "magic number missing"),
        (struct.pack("<i", 0xFFFABC) + b"\x00" * 5, "truncated event header"),
        (binlog(1, 5, [])[:-3], "truncated event"),
    ],
)
def test_damaged_files_fail_clearly(data, message):
    with pytest.raises(BinlogFormatError, match=message):
        file = read(data)
        list(file.arrays())


def test_a_payload_that_is_not_parquet():
    with pytest.raises(BinlogFormatError, match="not Parquet"):
        list(read(binlog(100, 5, [b"garbage"])).arrays())


def test_scalars_json_and_arrays():
    assert column(ColumnSpec(100, "s", DataType.VARCHAR), pa.array(["a", "é"])) == ["a", "é"]
    assert column(ColumnSpec(100, "j", DataType.JSON), pa.array([b'{"a":1}'], pa.binary())) == ['{"a":1}']
    assert column(ColumnSpec(100, "i", DataType.INT8), pa.array([-3], pa.int8())) == [-3]
    arrays = pa.array([array_value([1, -2, 3]), array_value([])], pa.binary())
    assert column(ColumnSpec(100, "a", DataType.ARRAY, element_type=DataType.INT64), arrays) == [[1, -2, 3], []]


def test_arrays_of_strings_floats_and_bools():
    def message(member: int, body: bytes) -> bytes:
        return bytes([member << 3 | 2, len(body)]) + body

    strings = message(6, b"\x0a\x02ab\x0a\x01c")
    floats = message(4, b"\x0a\x08" + struct.pack("<ff", 1.5, -2.0))
    bools = message(1, b"\x0a\x02\x01\x00")
    spec = ColumnSpec(100, "a", DataType.ARRAY, element_type=DataType.VARCHAR)
    assert column(spec, pa.array([strings], pa.binary())) == [["ab", "c"]]
    spec = ColumnSpec(100, "a", DataType.ARRAY, element_type=DataType.FLOAT)
    assert column(spec, pa.array([floats], pa.binary())) == [[1.5, -2.0]]
    spec = ColumnSpec(100, "a", DataType.ARRAY, element_type=DataType.BOOL)
    assert column(spec, pa.array([bools], pa.binary())) == [[True, False]]


def fixed(values: np.ndarray, width: int) -> pa.Array:
    return pa.array([row.tobytes() for row in values], pa.binary(width))


def test_vectors_as_fixed_size_lists():
    floats = np.array([[0.5, -1.0], [2.0, 3.25]], dtype="<f4")
    spec = ColumnSpec(100, "v", DataType.FLOAT_VECTOR, dim=2)
    assert column(spec, fixed(floats, 8)) == [[0.5, -1.0], [2.0, 3.25]]
    assert arrow_type(spec) == pa.list_(pa.float32(), 2)
    spec = ColumnSpec(100, "b", DataType.BINARY_VECTOR, dim=16)
    assert column(spec, pa.array([b"\x01\xff"], pa.binary(2))) == [[1, 255]]
    half = np.array([[0.5, -2.0]], dtype="<f2")
    assert column(ColumnSpec(100, "h", DataType.FLOAT16_VECTOR, dim=2), fixed(half, 4)) == [[0.5, -2.0]]
    brain = (np.array([[0.5, -2.0]], dtype="<f4").view("<u4") >> 16).astype("<u2")
    assert column(ColumnSpec(100, "bf", DataType.BFLOAT16_VECTOR, dim=2), fixed(brain, 4)) == [[0.5, -2.0]]
    ints = np.array([[-1, 7]], dtype=np.int8)
    assert column(ColumnSpec(100, "i", DataType.INT8_VECTOR, dim=2), fixed(ints, 2)) == [[-1, 7]]


def test_sliced_vector_payloads_keep_their_offset():
    floats = np.arange(12, dtype="<f4").reshape(6, 2)
    spec = ColumnSpec(100, "v", DataType.FLOAT_VECTOR, dim=2)
    sliced = fixed(floats, 8).slice(2, 3)
    assert to_column(spec, sliced).to_pylist() == floats[2:5].tolist()


def test_sparse_vectors():
    row = struct.pack("<IfIf", 3, 0.5, 10, -1.0)
    spec = ColumnSpec(100, "sp", DataType.SPARSE_FLOAT_VECTOR)
    assert column(spec, pa.array([row], pa.binary())) == [[(3, 0.5), (10, -1.0)]]


def test_types_it_cannot_read_are_refused_by_name():
    with pytest.raises(UnsupportedFormatError, match=r"'g'.*type 24"):
        arrow_type(ColumnSpec(100, "g", 24))
    with pytest.raises(UnsupportedFormatError, match="payload of type"):
        to_column(ColumnSpec(100, "v", DataType.FLOAT_VECTOR, dim=4), pa.array([b"\x00" * 8], pa.binary(8)))


def test_delta_logs_in_every_form():
    json_form = pa.array(['{"pk":3,"ts":7,"pkType":5}', '{"pk":"k","ts":9,"pkType":21}'])
    old_form = pa.array(["4,8"])
    data = binlog(-1, DataType.STRING, [parquet(json_form), parquet(old_form)], event_type=EventType.DELETE)
    batches = list(read_deletes(read(data)))
    assert [(b.pks, b.timestamps) for b in batches] == [([3, "k"], [7, 9]), ([4], [8])]
    two_columns = parquet(None, {"pk": pa.array([5]), "ts": pa.array([11])})  # type: ignore[arg-type]
    [batch] = read_deletes(read(binlog(-1, DataType.INT64, [two_columns], event_type=EventType.DELETE)))
    assert (batch.pks, batch.timestamps) == ([5], [11])


def test_stats_logs_as_json_or_binlog():
    assert read_stats(b'{"fieldID":100,"max":9}') == [{"fieldID": 100, "max": 9}]
    assert read_stats(b'[{"fieldID":100},{"fieldID":100}]') == [{"fieldID": 100}, {"fieldID": 100}]
    wrapped = binlog(100, DataType.STRING, [parquet(pa.array(['{"fieldID":100,"min":1}']))])
    assert read_stats(wrapped) == [{"fieldID": 100, "min": 1}]
    with pytest.raises(BinlogFormatError):
        read_stats(b"\x00\x01")


def test_deletes_remove_only_earlier_inserts_of_their_key():
    deletes = Deletes([DeleteBatch([1, 2, 2], [50, 40, 60])])
    assert deletes.records == 3 and deletes.latest == {1: 50, 2: 60}
    pks = pa.array([1, 1, 2, 3], pa.int64())
    ts = pa.array([49, 50, 59, 10], pa.int64())
    # key 1 inserted at 49 < 50: deleted; at 50 (an upsert's new row): kept; key 2 at 59 < 60: deleted
    assert deletes.keep_mask(pks, ts).to_pylist() == [False, True, False, True]
    assert deletes.keep_mask(pks, ts, as_of=49).to_pylist() == [False, False, False, True]
    late = Deletes([DeleteBatch([3], [100])], as_of=99)
    assert len(late) == 0 and late.keep_mask(pks, ts) is None


def test_columns_split_differently_line_up():
    a = [pa.array([1, 2, 3]), pa.array([4, 5])]
    b = [pa.array(["a"]), pa.array(["b", "c", "d", "e"])]
    batches = list(zip_columns({"a": a, "b": b}))
    assert [batch.num_rows for batch in batches] == [1, 2, 2]
    assert pa.Table.from_batches(batches).to_pydict() == {"a": [1, 2, 3, 4, 5], "b": ["a", "b", "c", "d", "e"]}
    with pytest.raises(BinlogFormatError, match="fewer rows"):
        list(zip_columns({"a": [pa.array([1, 2])], "b": [pa.array(["x"])]}))
