"""A backup name is claimed before anything is written: of two creates of one name exactly one proceeds, the
other fails at once; delete refuses a backup being created; a killed create lets go of its name."""

from __future__ import annotations

import json
import threading

import pytest

from milvus_backup.errors import BackupExistsError, JobConflictError
from milvus_backup.meta import layout
from milvus_backup.service import catalog
from milvus_backup.service.claim import Holder, holder
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources
from milvus_backup.service.selection import parse_selection
from milvus_backup.service.verify import verify_backup
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, backup_keys


def test_two_creates_of_one_name_one_proceeds_the_other_fails_at_once(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    first_is_flushing, second_has_ended = threading.Event(), threading.Event()

    def hold_the_first_in_its_flush(method: str, args: tuple[object, ...]) -> None:
        if method == "flush" and args[1] == "books":
            first_is_flushing.set()
            assert second_has_ended.wait(10)

    source.on_call = hold_the_first_in_its_flush
    outcomes: dict[str, object] = {}

    def create(collections: str) -> None:
        try:
            outcomes[collections] = create_backup(
                resources, CreateRequest(name="same", selection=parse_selection(colls=collections))
            )
        except Exception as exc:  # noqa: BLE001 - the test looks at what each one got
            outcomes[collections] = exc

    first = threading.Thread(target=create, args=("books",))
    first.start()
    assert first_is_flushing.wait(10)
    create("db2.movies")  # while the first holds the name
    second_has_ended.set()
    first.join(10)

    refused = outcomes["db2.movies"]
    assert isinstance(refused, JobConflictError) and "is being created" in refused.message
    assert getattr(outcomes["books"], "name", None) == "same"
    info = catalog.read_backup(resources.backup, "same")
    assert [c.collection_name for c in info.collection_backups] == ["books"]  # the winner's backup, whole
    assert verify_backup(resources.backup, "same").ok
    assert holder(resources.backup, "same") is None  # let go at the end
    assert not [k for k in backup_keys(backup_storage, "same") if k.endswith(layout.LOCK_FILE)]


def test_delete_refuses_a_backup_being_created(resources: Resources, source: FakeMilvus) -> None:
    refused: list[Exception] = []

    def delete_while_flushing(method: str, args: tuple[object, ...]) -> None:
        if method == "flush" and not refused:
            try:
                catalog.delete_backup(resources.backup, "held")
            except JobConflictError as exc:
                refused.append(exc)
            [listed] = catalog.list_backups(resources.backup)
            assert listed.state == "incomplete" and listed.detail.startswith("being created (pid ")

    source.on_call = delete_while_flushing
    create_backup(resources, CreateRequest(name="held", selection=parse_selection(colls="books")))
    assert refused and "is being created" in refused[0].message
    assert verify_backup(resources.backup, "held").ok


def _leave_a_lock(storage: MemoryStorage, name: str, **fields: object) -> None:
    lock = {"owner": "killed", "host": "elsewhere", "pid": 1, "since": 0.0, "expires": 0.0, **fields}
    storage.put(layout.lock_key(BACKUP_ROOT, name), json.dumps(lock).encode())
    storage.put(f"{BACKUP_ROOT}{name}/binlogs/insert_log/1/2/3/3/100/4", b"half a backup")


def test_a_killed_creates_name_is_incomplete_and_deletable(resources: Resources, backup_storage: MemoryStorage) -> None:
    _leave_a_lock(backup_storage, "cut")
    with pytest.raises(BackupExistsError) as refused:
        create_backup(resources, CreateRequest(name="cut"))
    assert "was cut off" in str(refused.value.hint)
    [listed] = catalog.list_backups(resources.backup)
    assert listed.state == "incomplete" and "its create was cut off" in listed.detail
    assert catalog.delete_backup(resources.backup, "cut") == 2
    assert create_backup(resources, CreateRequest(name="cut")).name == "cut"


def test_a_lock_of_a_dead_process_on_this_host_is_not_held(resources: Resources) -> None:
    import socket
    import subprocess
    import sys
    import time

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    later = time.time() + 600
    assert not Holder("x", socket.gethostname(), dead_pid, 0.0, later).alive
    assert Holder("x", "another-host", dead_pid, 0.0, later).alive  # its lease still runs
    assert not Holder("x", "another-host", dead_pid, 0.0, time.time() - 1).alive
