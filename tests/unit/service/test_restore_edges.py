"""`restore_backup` on the fakes, at its edges: Milvus going away during an import, the restore journal and
`keep_partial`."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from milvus_backup.errors import CollectionExistsError, JobConflictError, MilvusError, MilvusUnavailableError
from milvus_backup.service import restore_journal
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.restore_journal import Journal
from milvus_backup.storage.base import Storage
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, BOOKS_ROWS


@pytest.fixture
def backup(make_backup: Callable[[str], str]) -> str:
    return make_backup("nightly")


def _resources(backup_storage: Storage, target: FakeMilvus) -> Resources:
    return Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(), target.side())


def _dies_after_first_import(target: FakeMilvus) -> None:
    """From the first import on, every call fails as calls to a Milvus that is gone do."""
    dead = False

    def on_call(method: str, _args: tuple[Any, ...]) -> None:
        nonlocal dead
        if dead:
            raise MilvusUnavailableError(address=target.address, detail="connection refused")
        dead = method == "start_import"

    target.on_call = on_call


def test_milvus_dying_during_an_import_is_reported_as_such(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("target-bucket"))
    _dies_after_first_import(target)
    one_at_a_time = Resources(
        StorageLocation(backup_storage, BACKUP_ROOT), Settings(restore_collections=1, import_jobs=1), target.side()
    )
    with pytest.raises(MilvusUnavailableError) as raised:
        restore_backup(one_at_a_time, RestoreRequest(backup, restore_index=True))
    message = raised.value.message
    assert "stopped answering during the import of partition" in message
    (task,) = target.tasks.values()  # the import it died in: its partition and its folders are named
    assert f"partition {task.partition} from " in message and f" into {task.db}.{task.collection} " in message
    assert all(path in message for path in task.files)
    assert raised.value.hint is not None and "its log says why" in raised.value.hint


def _journals(backup_storage: MemoryStorage, name: str) -> list[Journal]:
    return restore_journal.left_by_earlier_restores(StorageLocation(backup_storage, BACKUP_ROOT), name)


def _failing_import(target: FakeMilvus) -> None:
    target.import_fault = lambda db, coll, partition: "fail" if coll == "books" else None


def test_a_restore_leaves_no_journal_when_it_succeeds_or_cleans_up(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("target-bucket"))
    seen: list[list[Journal]] = []
    target.on_call = lambda method, _: (
        seen.append(_journals(backup_storage, backup)) if method == "start_import" else None
    )
    restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert seen and all(len(j) == 1 and j[0].state == "running" for j in seen)  # there while it runs
    assert sorted(seen[0][0].targets) == ["db2.movies", "default.books"]
    assert _journals(backup_storage, backup) == []

    failing = FakeMilvus(MemoryStorage("target-bucket"))
    _failing_import(failing)
    with pytest.raises(MilvusError):
        restore_backup(_resources(backup_storage, failing), RestoreRequest(backup))
    assert failing.list_collections("default") == [] and _journals(backup_storage, backup) == []


def test_keep_partial_keeps_the_collections_and_the_next_restore_names_them(
    backup: str, backup_storage: MemoryStorage
) -> None:
    target = FakeMilvus(MemoryStorage("target-bucket"))
    _failing_import(target)
    with pytest.raises(MilvusError):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup, keep_partial=True))
    assert target.has_collection("default", "books")
    (journal,) = _journals(backup_storage, backup)
    assert journal.state == "kept"

    with pytest.raises(CollectionExistsError) as raised:
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert raised.value.hint is not None
    assert f"left incomplete by restore {journal.restore_id} of backup {backup}" in raised.value.hint
    assert "kept after it failed" in raised.value.hint and "--drop_exist_collection" in raised.value.hint

    target.import_fault = None
    restore_backup(_resources(backup_storage, target), RestoreRequest(backup, drop_exist_collection=True))
    assert target.row_count("default", "books") == BOOKS_ROWS
    assert _journals(backup_storage, backup) == []


def test_a_killed_restore_is_named_by_the_next_one(backup: str, backup_storage: MemoryStorage) -> None:
    """A kill leaves the journal as it was while running, of a process that is gone."""
    target = FakeMilvus(MemoryStorage("target-bucket"))
    _failing_import(target)
    with pytest.raises(MilvusError):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup, keep_partial=True))
    (kept,) = _journals(backup_storage, backup)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = dataclasses.replace(kept, state="running", pid=int(gone.stdout))
    restore_journal.write(StorageLocation(backup_storage, BACKUP_ROOT), killed)

    with pytest.raises(CollectionExistsError) as raised:
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert raised.value.hint is not None and f"pid {killed.pid}" in raised.value.hint and "cut off" in raised.value.hint


def test_a_restore_running_on_this_host_is_not_raced(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("target-bucket"))
    target.add_collection("default", "books")
    restore_journal.write(
        StorageLocation(backup_storage, BACKUP_ROOT), Journal("other", backup, ["default.books"], pid=os.getpid())
    )
    with pytest.raises(JobConflictError, match="is being restored by restore other"):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup, drop_exist_collection=True))
