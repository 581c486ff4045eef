"""A backup of Milvus 2.2 (on the fake): the wait for the deletes 2.2 holds in memory, its failure, and the
explicit acceptance recorded in the manifest."""

from __future__ import annotations

import pytest

from milvus_backup.errors import UnflushedDeletesError
from milvus_backup.service.catalog import list_backups, read_manifest
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, fill_source, keys_under


@pytest.fixture
def milvus22(milvus_storage: MemoryStorage) -> FakeMilvus:
    return fill_source(FakeMilvus(milvus_storage, version="v2.2.16-lite"))


def resources_for(fake: FakeMilvus, backups: MemoryStorage, wait: float = 720.0) -> Resources:
    settings = Settings(unflushed_deletes_wait=wait, pause_gc=False)
    return Resources(StorageLocation(backups, BACKUP_ROOT), settings, fake.side())


def test_a_backup_of_2_2_waits_until_every_delete_is_on_storage(milvus22, backup_storage, monkeypatch):
    monkeypatch.setattr("milvus_backup.service.create.DELETES_POLL_SECONDS", 0.01)
    milvus22.held_deletes_polls = 3
    result = create_backup(resources_for(milvus22, backup_storage), CreateRequest(name="waited"))
    assert milvus22.calls["all_written_up_to"] == 4 and milvus22.calls["timestamp"] == 1
    assert result.warnings == []
    manifest = read_manifest(StorageLocation(backup_storage, BACKUP_ROOT), "waited")
    assert manifest is not None and manifest.unflushed_deletes_accepted is False
    assert b"unflushed_deletes_accepted" not in backup_storage.get(f"{BACKUP_ROOT}waited/meta/manifest.json")


def test_deletes_held_past_the_wait_fail_the_create_and_leave_nothing(milvus22, backup_storage, monkeypatch):
    monkeypatch.setattr("milvus_backup.service.create.DELETES_POLL_SECONDS", 0.01)
    milvus22.held_deletes_polls = None
    with pytest.raises(UnflushedDeletesError, match=r"v2\.2\.16-lite at .* still holds deletes") as caught:
        create_backup(resources_for(milvus22, backup_storage, wait=0.05), CreateRequest(name="refused"))
    assert "dataNode.segment.syncPeriod" in (caught.value.hint or "")
    assert caught.value.exit_code == 15
    assert [k for k in keys_under(backup_storage, BACKUP_ROOT) if not k.endswith("create.lock")] == []


def test_accepted_unflushed_deletes_are_warned_recorded_and_listed(milvus22, backup_storage):
    milvus22.held_deletes_polls = None
    request = CreateRequest(name="accepted", accept_unflushed_deletes=True)
    result = create_backup(resources_for(milvus22, backup_storage), request)
    assert milvus22.calls["all_written_up_to"] == 0
    [warning] = result.warnings
    assert "--accept-unflushed-deletes" in warning and "may come back on restore" in warning
    target = StorageLocation(backup_storage, BACKUP_ROOT)
    manifest = read_manifest(target, "accepted")
    assert manifest is not None and manifest.unflushed_deletes_accepted is True
    [summary] = list_backups(target)
    assert summary.unflushed_deletes_accepted is True


def test_milvus_2_3_writes_deletes_at_flush_so_nothing_is_waited_for(source, backup_storage):
    source.held_deletes_polls = None  # would never answer yes: it is not asked
    create_backup(resources_for(source, backup_storage), CreateRequest(name="no_wait"))
    assert source.calls["all_written_up_to"] == 0 and source.calls["timestamp"] == 0
