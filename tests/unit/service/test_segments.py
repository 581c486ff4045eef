"""Describing segments from a listing of Milvus storage, on a local directory laid out as Milvus writes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_backup.errors import SourceDataError, StorageError
from milvus_backup.milvus.protocol import Segment
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.segments import describe_segments
from milvus_backup.storage.base import ObjectInfo
from milvus_backup.storage.local import LocalStorage


class CountingStorage(LocalStorage):
    """Counts the objects its listings have handed out."""

    listed = 0

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for info in super().list(prefix):
            self.listed += 1
            yield info


def segment(seg_id: int, part: int = 2) -> Segment:
    return Segment(seg_id, 1, part, num_rows=10, state="Flushed", is_l0=False, storage_version=0, channel="dml_0")


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


def test_fields_with_different_numbers_of_files_fail(tmp_path: Path) -> None:
    source = milvus_files(tmp_path)
    source.storage.put("files/insert_log/1/2/11/100/11999", b"orphan")
    with pytest.raises(SourceDataError, match=r"segment 11: fields have different numbers of binlog files"):
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
