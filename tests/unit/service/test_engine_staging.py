"""`open_staging`: where Milvus reads a backup's binlogs during a restore, and when they are copied first."""

from __future__ import annotations

from pathlib import Path

from milvus_backup.meta.model import PartitionBackupInfo
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import MilvusSide, Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.run import Run
from milvus_backup.service.staging import Staging, open_staging
from milvus_backup.storage.base import Storage
from milvus_backup.storage.local import LocalStorage
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.fakes.rows import FakeRows
from tests.unit.service.conftest import BOOKS_ROWS, fill_source, keys_under


def _backup(source: FakeMilvus, backups: StorageLocation) -> tuple[int, PartitionBackupInfo]:
    """A backup "nightly" of the source; (books' collection id, its partition p1, whose segment has deletes)."""
    create_backup(Resources(backups, Settings(), source.side(), rows=FakeRows), CreateRequest(name="nightly"))
    books = next(c for c in read_backup(backups, "nightly").collection_backups if c.collection_name == "books")
    return books.collection_id, next(p for p in books.partition_backups if p.partition_name == "p1")


def _import_files(staging: Staging, collection_id: int, part: PartitionBackupInfo) -> list[str]:
    with Run() as run:
        return staging.import_files(collection_id, part.partition_id, part.segment_backups, run)


def _restoring_into(
    backups: StorageLocation, milvus_storage: Storage, root: str = "files/", seen: str = "", **settings: object
) -> Resources:
    side = MilvusSide(FakeMilvus(milvus_storage, root), StorageLocation(milvus_storage, root), seen)
    return Resources(backups, Settings(**settings), side, rows=FakeRows)  # type: ignore[arg-type]


def test_local_milvus_reads_a_local_backup_in_place_by_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "milvus").mkdir()
    (tmp_path / "backups").mkdir()
    (tmp_path / "milvus2").mkdir()
    source = fill_source(FakeMilvus(LocalStorage(tmp_path / "milvus"), root=""))
    backups = StorageLocation(LocalStorage(tmp_path / "backups"), "")
    coll_id, p1 = _backup(source, backups)
    resources = _restoring_into(backups, LocalStorage(tmp_path / "milvus2"), root="")

    staging = open_staging(resources, "nightly", "abc123")
    insert, delta = _import_files(staging, coll_id, p1)
    assert not staging.copy
    assert insert == f"{tmp_path}/backups/nightly/binlogs/insert_log/{coll_id}/{p1.partition_id}/"
    assert delta == f"{tmp_path}/backups/nightly/binlogs/delta_log/{coll_id}/{p1.partition_id}/"
    assert Path(insert).is_dir() and Path(delta).is_dir()
    # and a whole restore, the fake Milvus importing those absolute paths
    result = restore_backup(resources, RestoreRequest("nightly"))
    assert (
        result.staged_objects == 0
        and dict((c.target, c.rows) for c in result.collections)["default.books"] == BOOKS_ROWS
    )
    assert list((tmp_path / "milvus2").iterdir()) == []


def test_a_local_milvus_seen_elsewhere_gets_copies_named_by_its_own_path(tmp_path: Path) -> None:
    source = fill_source(FakeMilvus(MemoryStorage("milvus-bucket")))
    backups = StorageLocation(MemoryStorage("backup-bucket"), "backup/")
    coll_id, p1 = _backup(source, backups)
    (tmp_path / "milvus").mkdir()
    resources = _restoring_into(backups, LocalStorage(tmp_path / "milvus"), root="", seen="/var/lib/milvus/data/")
    staging = open_staging(resources, "nightly", "abc123")
    insert, _ = _import_files(staging, coll_id, p1)
    assert staging.copy
    assert insert == f"/var/lib/milvus/data/restore-temp-abc123/binlogs/insert_log/{coll_id}/{p1.partition_id}/"
    assert (tmp_path / "milvus" / "restore-temp-abc123" / "binlogs").is_dir()


def test_one_bucket_for_milvus_and_backups_is_read_in_place_by_key() -> None:
    bucket = MemoryStorage("shared-bucket")
    source = fill_source(FakeMilvus(bucket))
    backups = StorageLocation(bucket, "backup/")
    coll_id, p1 = _backup(source, backups)
    keys_before = bucket.keys()

    staging = open_staging(_restoring_into(backups, bucket), "nightly", "abc123")
    files = _import_files(staging, coll_id, p1)
    assert not staging.copy
    assert files == [
        f"backup/nightly/binlogs/insert_log/{coll_id}/{p1.partition_id}/",
        f"backup/nightly/binlogs/delta_log/{coll_id}/{p1.partition_id}/",
    ]
    staging.cleanup(keep=False)
    assert bucket.keys() == keys_before


def test_another_service_gets_streamed_copies_under_restore_temp() -> None:
    source = fill_source(FakeMilvus(MemoryStorage("milvus-bucket")))
    backups = StorageLocation(MemoryStorage("backup-bucket"), "backup/")
    coll_id, p1 = _backup(source, backups)
    target = MemoryStorage("target-bucket", service="elsewhere")

    staging = open_staging(_restoring_into(backups, target), "nightly", "abc123")
    files = _import_files(staging, coll_id, p1)
    assert staging.copy and staging.prefix == "restore-temp-abc123/"
    assert files == [
        f"restore-temp-abc123/binlogs/insert_log/{coll_id}/{p1.partition_id}/",
        f"restore-temp-abc123/binlogs/delta_log/{coll_id}/{p1.partition_id}/",
    ]
    staged = keys_under(target, "restore-temp-abc123/")
    assert len(staged) == staging.staged_objects == 4 + 1  # fields 0, 1, 100, 101 and one delta log
    for key in staged:
        assert target.content(key) == backups.storage.get("backup/nightly/" + key.removeprefix("restore-temp-abc123/"))
    staging.cleanup(keep=True)
    assert len(keys_under(target, "restore-temp-abc123/")) == 5
    staging.cleanup(keep=False)
    assert target.keys() == []


def test_another_bucket_of_the_same_service_gets_server_side_copies() -> None:
    source = fill_source(FakeMilvus(MemoryStorage("milvus-bucket")))
    backups = StorageLocation(MemoryStorage("backup-bucket"), "backup/")
    coll_id, p1 = _backup(source, backups)
    copies: list[str] = []
    target = MemoryStorage("target-bucket", fail_on=lambda op, key: copies.append(op) if op == "copy_from" else None)

    staging = open_staging(_restoring_into(backups, target), "nightly", "abc123")
    _import_files(staging, coll_id, p1)
    assert staging.copy and copies == ["copy_from"] * 5
