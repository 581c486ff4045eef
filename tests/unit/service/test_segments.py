"""Describing segments from a listing of Milvus storage, on a local directory laid out as Milvus writes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from milvus_backup.errors import BinlogFormatError, SourceDataError, StorageError
from milvus_backup.meta.binlog import DataType
from milvus_backup.milvus.protocol import Segment
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.segments import describe_segments
from milvus_backup.storage.base import ObjectInfo
from milvus_backup.storage.local import LocalStorage
from tests.fakes.binlogs import binlog, parquet


class CountingStorage(LocalStorage):
    """Counts the objects its listings have handed out."""

    listed = 0

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for info in super().list(prefix):
            self.listed += 1
            yield info


def segment(seg_id: int, part: int = 2, rows: int = 10) -> Segment:
    return Segment(seg_id, 1, part, num_rows=rows, state="Flushed", is_l0=False, storage_version=0, channel="dml_0")


def milvus_files(tmp_path: Path, cls: type[LocalStorage] = LocalStorage) -> StorageLocation:
    storage = cls(tmp_path)
    for seg in (10, 11, 12):
        for field in (0, 1, 100):
            storage.put(f"files/insert_log/1/2/{seg}/{field}/{seg * 1000 + field}", b"x" * field)
    storage.put("files/delta_log/1/2/11/7", b"deletes")
    storage.put("files/insert_log/1/2/12/stray.tmp", b"not a binlog")
    return StorageLocation(storage, "files/")


def test_segments_come_with_their_logs_in_listing_order(tmp_path: Path) -> None:
    found = list(describe_segments(milvus_files(tmp_path), 1, [segment(12), segment(10), segment(11)]))
    assert [s.info.segment_id for s in found] == [10, 11, 12]
    eleven = found[1].info
    assert [(fb.field_id, [b.log_id for b in fb.binlogs]) for fb in eleven.binlogs] == [
        (0, [11000]),
        (1, [11001]),
        (100, [11100]),
    ]
    assert [b.log_path for fb in eleven.deltalogs for b in fb.binlogs] == ["files/delta_log/1/2/11/7"]
    assert eleven.size == 0 + 1 + 100 + len(b"deletes")
    assert (eleven.num_of_rows, eleven.group_id, eleven.v_channel) == (10, 11, "dml_0")


def test_each_segment_is_yielded_once_the_listing_has_passed_it(tmp_path: Path) -> None:
    source = milvus_files(tmp_path, CountingStorage)
    assert isinstance(source.storage, CountingStorage)
    described = describe_segments(source, 1, [segment(10), segment(11), segment(12)])
    first = next(described)
    assert first.info.segment_id == 10
    # the delta log, segment 10's three logs, and the first log of segment 11: not the whole listing
    assert source.storage.listed == 1 + 3 + 1
    assert [s.info.segment_id for s in described] == [11, 12]


def test_segments_milvus_does_not_report_are_left_out(tmp_path: Path) -> None:
    found = list(describe_segments(milvus_files(tmp_path), 1, [segment(11)]))
    assert [s.info.segment_id for s in found] == [11]


def test_a_reported_segment_without_insert_logs_fails(tmp_path: Path) -> None:
    with pytest.raises(SourceDataError, match="segment 13 has no insert logs under files/insert_log/1/2/13"):
        list(describe_segments(milvus_files(tmp_path), 1, [segment(10), segment(13)]))


FIELD_TYPES = {0: DataType.INT64, 1: DataType.INT64, 100: DataType.FLOAT}


def flush(storage: LocalStorage, seg: int, log_id: int, times: tuple[int, int], rows: int, fields=FIELD_TYPES) -> None:
    """One flush of `rows` rows into segment `seg`: a binlog per field, log ids from `log_id` on."""
    for offset, (field_id, data_type) in enumerate(fields.items()):
        values = pa.array(range(rows), pa.int64() if data_type == DataType.INT64 else pa.float32())
        data = binlog(field_id, data_type, [parquet(values)], ids=(1, 2, seg), times=times)
        storage.put(f"files/insert_log/1/2/{seg}/{field_id}/{log_id + offset}", data)


def flushed_twice_then_cut(tmp_path: Path) -> StorageLocation:
    """Segment 20: two whole flushes (10 + 5 rows), and a third cut off after its first two fields (a Milvus killed
    mid-flush), whose rows Milvus flushed again after its restart (the second flush)."""
    storage = LocalStorage(tmp_path)
    flush(storage, 20, 100, (10, 20), 10)
    flush(storage, 20, 300, (30, 40), 5, {f: t for f, t in FIELD_TYPES.items() if f != 100})  # orphans
    flush(storage, 20, 400, (30, 40), 5)
    return StorageLocation(storage, "files/")


def test_orphans_of_a_flush_in_some_fields_only_are_left_out_and_named(tmp_path: Path) -> None:
    [found] = describe_segments(flushed_twice_then_cut(tmp_path), 1, [segment(20, rows=15)])
    assert [(fb.field_id, [b.log_id for b in fb.binlogs]) for fb in found.info.binlogs] == [
        (0, [100, 400]),
        (1, [101, 401]),
        (100, [102, 402]),
    ]
    assert found.orphans == ("files/insert_log/1/2/20/0/300", "files/insert_log/1/2/20/1/301")


def test_orphans_are_proven_by_milvus_row_count_or_the_segment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceDataError, match=r"hold 15 rows, Milvus reports 16.*\n?") as info:
        list(describe_segments(flushed_twice_then_cut(tmp_path), 1, [segment(20, rows=16)]))
    assert "fields have different numbers of binlog files {0: 3, 1: 3, 100: 2}" in info.value.message
    assert "missingTolerance" in (info.value.hint or "")


def test_a_whole_flush_found_twice_is_refused(tmp_path: Path) -> None:
    source = flushed_twice_then_cut(tmp_path)
    assert isinstance(source.storage, LocalStorage)
    flush(source.storage, 20, 500, (10, 20), 10)  # flush 1 again, in every field
    with pytest.raises(SourceDataError, match=r"the flush of timestamps \(10, 20\) is there twice"):
        list(describe_segments(source, 1, [segment(20, rows=15)]))


def test_an_orphan_of_a_flush_s_own_range_is_told_by_its_log_ids(tmp_path: Path) -> None:
    source = flushed_twice_then_cut(tmp_path)
    assert isinstance(source.storage, LocalStorage)
    flush(source.storage, 20, 500, (10, 20), 10, {0: DataType.INT64})  # one field of flush 1, ids of another block
    [found] = describe_segments(source, 1, [segment(20, rows=15)])
    assert found.orphans == (
        "files/insert_log/1/2/20/0/300",
        "files/insert_log/1/2/20/0/500",
        "files/insert_log/1/2/20/1/301",
    )
    assert [len(fb.binlogs) for fb in found.info.binlogs] == [2, 2, 2]


def test_unreadable_orphans_fail_the_segment(tmp_path: Path) -> None:
    source = milvus_files(tmp_path)
    source.storage.put("files/insert_log/1/2/11/100/11999", b"orphan")
    with pytest.raises(BinlogFormatError, match="not a binlog"):
        list(describe_segments(source, 1, [segment(10), segment(11)]))


class ShuffledListing(LocalStorage):
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        infos = list(super().list(prefix))
        yield from infos[1:] + infos[:1]


def test_a_listing_out_of_key_order_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not in key order"):
        list(describe_segments(milvus_files(tmp_path, ShuffledListing), 1, [segment(10), segment(11)]))


def test_lob_files_of_newer_milvus_fail_the_backup_instead_of_being_left_out(tmp_path: Path) -> None:
    source = milvus_files(tmp_path)
    source.storage.put("files/insert_log/1/2/lobs/100/77", b"a large text value")
    with pytest.raises(SourceDataError, match="LOB files"):
        list(describe_segments(source, 1, [segment(10), segment(11), segment(12)]))
