"""`restore_backup` on the fakes: rows, staging and its clean-up, what a failed restore takes back, cancels,
deadlines, warnings, and the run's thread bound."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from milvus_backup.errors import (
    DeadlineExceededError,
    IntegrityError,
    JobCancelledError,
    MilvusError,
    MilvusUnavailableError,
)
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.run import Run
from milvus_backup.storage.base import Storage
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, BOOKS_ROWS, MOVIES_ROWS, keys_under

STAGED = "restore-temp-"


@pytest.fixture
def backup(make_backup: Callable[[str], str]) -> str:
    return make_backup("nightly")


def _target(service: str = "mem") -> FakeMilvus:
    return FakeMilvus(MemoryStorage("target-bucket", service=service))


def _resources(backup_storage: Storage, target: FakeMilvus, **settings: object) -> Resources:
    return Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(**settings), target.side())  # type: ignore[arg-type]


def _staged(target: FakeMilvus) -> list[str]:
    return keys_under(target.storage, STAGED)


def test_restore_brings_every_row_and_removes_its_staged_copies(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target()
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(backup, restore_index=True))
    assert {c.target: c.rows for c in result.collections} == {"default.books": BOOKS_ROWS, "db2.movies": MOVIES_ROWS}
    assert target.row_count("default", "books") == BOOKS_ROWS
    assert [len(t.files) for t in target.tasks.values()] == [2, 2, 2]  # one import per partition folder
    assert all(t.files[0].startswith(STAGED) for t in target.tasks.values())
    assert result.staged_objects == 17 and _staged(target) == []
    assert target.calls["start_import"] == 3 and result.warnings == []


def test_restore_from_the_same_bucket_imports_the_backup_where_it_lies(
    backup: str, backup_storage: MemoryStorage
) -> None:
    target = FakeMilvus(backup_storage)  # Milvus's bucket holds the backup
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert result.staged_objects == 0
    assert all(t.files[0].startswith(f"{BACKUP_ROOT}{backup}/binlogs/insert_log/") for t in target.tasks.values())
    assert target.row_count("default", "books") == BOOKS_ROWS


def test_staging_across_services_is_there_during_the_import_and_gone_after(
    backup: str, backup_storage: MemoryStorage
) -> None:
    target = _target(service="other")  # no server-side copy between the two: streamed
    seen: list[int] = []
    target.on_call = lambda name, args: seen.append(len(_staged(target))) if name == "start_import" else None
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert min(seen) > 0
    assert result.staged_objects == 17 and _staged(target) == []
    assert target.row_count("default", "books") == BOOKS_ROWS


def test_staged_copies_are_removed_after_a_failed_import_too(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target(service="other")
    target.import_fault = lambda db, coll, part: "fail" if part == "p1" else None
    with pytest.raises(MilvusError, match="injected import failure"):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert _staged(target) == []
    assert not target.has_collection("default", "books")


def test_keep_temp_files_keeps_the_staged_copies(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target(service="other")
    restore_backup(_resources(backup_storage, target, keep_temp_files=True), RestoreRequest(backup))
    assert len(_staged(target)) == 17


def test_an_import_of_zero_rows_fails_and_drops_the_collection(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target()
    target.import_fault = lambda db, coll, part: "zero" if coll == "books" else None
    with pytest.raises(IntegrityError, match="imported 0"):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert not target.has_collection("default", "books")
    assert _staged(target) == []


def test_a_cancel_during_the_import_wait_stops_and_takes_back(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target()
    run = Run(what="restore of nightly")
    target.on_call = lambda name, args: run.cancel.set() if name == "import_state" else None
    with run, pytest.raises(JobCancelledError):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup), run)
    assert target.list_collections("default") == [] and target.list_collections("db2") == []
    assert _staged(target) == []


def test_a_slow_import_hits_the_deadline(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target()
    target.import_seconds = 0.6
    with Run(timeout=0.3) as run, pytest.raises(DeadlineExceededError):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup), run)
    assert target.list_collections("default") == []
    assert _staged(target) == []


def test_an_alias_taken_in_the_target_is_a_warning(backup: str, backup_storage: MemoryStorage) -> None:
    target = _target()
    target.add_collection("default", "other", aliases=("library",))
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    books = next(c for c in result.collections if c.target == "default.books")
    assert books.aliases == []
    assert len(result.warnings) == 1 and "alias library was not restored" in result.warnings[0]
    assert target.row_count("default", "books") == BOOKS_ROWS


def test_rbac_round_trips_and_users_the_target_lacks_are_warnings(
    source: FakeMilvus, resources: Resources, backup_storage: MemoryStorage
) -> None:
    source.rbac = {
        "users": [{"user": "alice", "roles": [{"name": "reader"}]}, {"user": "bob", "roles": []}],
        "roles": [{"name": "reader"}],
        "grants": [
            {
                "object": {"name": "Collection"},
                "object_name": "books",
                "role": {"name": "reader"},
                "grantor": {"privilege": {"name": "Query"}},
                "db_name": "default",
            }
        ],
    }
    create_backup(resources, CreateRequest(name="nightly", rbac=True))
    target = _target()
    target.rbac["users"] = [{"user": "alice", "roles": []}]
    result = restore_backup(_resources(backup_storage, target), RestoreRequest("nightly", rbac=True))
    assert target.rbac["roles"] == [{"name": "reader"}] and len(target.rbac["grants"]) == 1
    assert target.rbac["users"] == [{"user": "alice", "roles": [{"name": "reader"}]}]
    assert len(result.warnings) == 1 and "user bob does not exist in the target" in result.warnings[0]


def test_64_partition_imports_stay_within_the_runs_threads() -> None:
    """Settings allow 64 imports at once; the run has 4 threads: never more than 4 threads (+ the caller) make
    import calls at once, and no thread beyond the run's 4 workers is ever started, while all 64 complete."""
    source = FakeMilvus(MemoryStorage("wide-milvus"), system_fields=False)
    source.add_collection("default", "wide", partitions=tuple(f"p{i}" for i in range(63)))
    for part in ["_default", *(f"p{i}" for i in range(63))]:
        source.insert("default", "wide", part, rows=10)
    backups = StorageLocation(MemoryStorage("wide-backup"), BACKUP_ROOT)
    create_backup(Resources(backups, Settings(), source.side()), CreateRequest(name="wide"))

    target = _target(service="other")  # staged copies too run inside the import workers
    target.import_call_seconds = 0.002
    before = threading.active_count()
    with Run(threads=4) as run:
        result = restore_backup(
            Resources(backups, Settings(import_jobs=64), target.side()), RestoreRequest("wide"), run
        )
    assert result.collections[0].rows == 640 and result.collections[0].segments == 64
    assert target.calls["start_import"] == 64 and all(t.done for t in target.tasks.values())
    assert target.row_count("default", "wide") == 640
    assert target.max_import_threads <= 4 + 1
    assert 2 <= target.max_imports_in_flight <= 4
    assert target.max_active_threads <= before + 4


def test_milvus_that_stops_answering_during_the_import_is_reported_as_such(
    backup: str, backup_storage: MemoryStorage
) -> None:
    target = _target()

    def died(name: str, args: object) -> None:
        if name == "import_state":
            raise MilvusUnavailableError(address=target.address, detail="connection refused")

    target.on_call = died
    with pytest.raises(MilvusUnavailableError, match=r"stopped answering during the import of .* into ") as info:
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert "its log says why" in (info.value.hint or "")
    assert "connection refused" in str(info.value)
