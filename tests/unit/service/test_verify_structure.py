"""A backup without a manifest (made by another tool) is checked as far as the binlog format allows: size, then
each file's structure, and says what it could not check (the real Milvus files: tests/integration/test_restore.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from milvus_backup.meta import layout
from milvus_backup.meta.binlog import DataType
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.service.verify import SIZES_ONLY, STRUCTURE, verify_backup
from tests.fakes.binlogs import FakeSegment, field_schema, write_backup
from tests.fakes.memory_storage import MemoryStorage

ROOT = "backup/"
NAME = "theirs"


@pytest.fixture
def target() -> StorageLocation:
    storage = MemoryStorage("backups")
    fields = [field_schema(100, "id", DataType.INT64, pk=True), field_schema(101, "n", DataType.INT64)]
    ids = list(range(50))
    columns = {100: pa.array(ids, pa.int64()), 101: pa.array(ids, pa.int64())}  # equal payloads: equal sizes
    write_backup(storage, ROOT, NAME, fields, {"_default": [FakeSegment(1, columns, [10] * 50, [(3, 20)])]})
    return StorageLocation(storage, ROOT)


def insert_log(target: StorageLocation, field_id: int) -> str:
    [key] = [
        i.key for i in target.storage.list(f"{ROOT}{NAME}/binlogs/insert_log/") if i.key.split("/")[-2] == str(field_id)
    ]
    return key


def verify(target: StorageLocation, quick: bool = False):  # type: ignore[no-untyped-def]
    with Run(what="verify") as run:
        return verify_backup(target, NAME, quick, run)


def test_whole_binlogs_pass_and_the_report_says_what_was_not_checked(target: StorageLocation) -> None:
    assert not target.storage.exists(layout.meta_key(ROOT, NAME, layout.MANIFEST_FILE))
    report = verify(target)
    assert report.ok and report.mode == STRUCTURE
    assert [c.objects for c in report.collections] == [5]  # row ids, timestamps, two fields, the delta log
    [warning] = report.warnings
    assert "no manifest" in warning and "cannot be found without a manifest's checksums" in warning
    quick = verify(target, quick=True)
    assert quick.ok and quick.mode == SIZES_ONLY and "checked by size only" in quick.warnings[0]


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        (lambda data: b"\0" + data[1:], "not a binlog: magic number"),
        (lambda data: data[:13] + bytes([data[13] ^ 0x40]) + data[14:], "length"),  # the descriptor's length
        (lambda data: data[:-40] + bytes(40), "payload does not decode"),  # the Parquet footer
    ],
    ids=["magic", "event header", "parquet"],
)
def test_a_damaged_binlog_of_the_same_size_is_found(target: StorageLocation, damage, found: str) -> None:  # type: ignore[no-untyped-def]
    key = insert_log(target, 101)
    data = target.storage.get(key)
    damaged = damage(data)
    assert len(damaged) == len(data)
    target.storage.put(key, damaged)
    report = verify(target)
    assert not report.ok
    [problem] = [p for c in report.collections for p in c.problems]
    assert problem.startswith(key[len(f"{ROOT}{NAME}/") :]) and found in problem, problem
    assert verify(target, quick=True).ok  # sizes alone cannot tell


def test_a_field_s_file_under_another_field_s_path_is_found(target: StorageLocation) -> None:
    """Two int64 fields of equal values: files of one size, told apart by the field their descriptor names."""
    one, other = insert_log(target, 100), insert_log(target, 101)
    assert target.storage.stat(one).size == target.storage.stat(other).size
    target.storage.put(other, target.storage.get(one))
    [problem] = [p for c in verify(target).collections for p in c.problems]
    assert "its descriptor names field 100, its path field 101" in problem
