"""`verify_backup` on a backup made from the fakes: intact, a flipped byte, a missing object."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from milvus_backup.service.resources import Resources
from milvus_backup.service.verify import FULL, QUICK, verify_backup
from tests.fakes.memory_storage import MemoryStorage
from tests.unit.service.conftest import backup_keys


@pytest.fixture
def backup(make_backup: Callable[[str], str]) -> str:
    return make_backup("nightly")


def _a_binlog(storage: MemoryStorage, name: str) -> str:
    return next(k for k in backup_keys(storage, name) if "/binlogs/insert_log/" in k)


def test_an_intact_backup_verifies(backup: str, resources: Resources) -> None:
    report = verify_backup(resources.backup, backup)
    assert report.ok and report.mode == FULL
    assert sum(c.objects for c in report.collections) == 17
    assert [c.collection for c in report.collections] == ["db2.movies", "default.books"]


def test_a_flipped_byte_is_found_by_the_full_check_only(
    backup: str, resources: Resources, backup_storage: MemoryStorage
) -> None:
    key = _a_binlog(backup_storage, backup)
    data = bytearray(backup_storage.content(key))
    data[len(data) // 2] ^= 0x01
    backup_storage.put(key, bytes(data))  # same size, other content

    full = verify_backup(resources.backup, backup)
    problems = [p for c in full.collections for p in c.problems]
    assert not full.ok
    assert problems == [f"{key.removeprefix(f'backup/{backup}/')}: content differs (checksum mismatch)"]
    quick = verify_backup(resources.backup, backup, quick=True)
    assert quick.ok and quick.mode == QUICK


def test_the_quick_check_finds_a_missing_object(
    backup: str, resources: Resources, backup_storage: MemoryStorage
) -> None:
    key = _a_binlog(backup_storage, backup)
    backup_storage.delete(key)
    report = verify_backup(resources.backup, backup, quick=True)
    assert [p for c in report.collections for p in c.problems] == [f"{key.removeprefix(f'backup/{backup}/')}: missing"]
