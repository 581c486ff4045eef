"""`restore_backup` on the fakes, at its edges: Milvus going away during an import, ..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from milvus_backup.errors import MilvusUnavailableError
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.storage.base import Storage
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT


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
    with pytest.raises(MilvusUnavailableError) as raised:
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup, restore_index=True))
    message = raised.value.message
    assert "stopped answering during the import of partition" in message
    (task,) = target.tasks.values()  # the import it died in: its partition and its folders are named
    assert f"partition {task.partition} of {task.db}.{task.collection}" in message
    assert all(path in message for path in task.files)
    assert raised.value.hint is not None and "Milvus's log" in raised.value.hint
