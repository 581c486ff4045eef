"""Nothing reaches Milvus unchecked: a restore checks every file it will import against the manifest before it
creates anything."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from milvus_backup.errors import IntegrityError
from milvus_backup.meta import layout
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.selection import parse_selection
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, keys_under


@pytest.fixture
def target(milvus_storage: MemoryStorage) -> FakeMilvus:
    return FakeMilvus(milvus_storage)  # a second Milvus on the same storage: imports read the backup in place


def restore(resources: Resources, target: FakeMilvus, **options: bool) -> None:
    into = Resources(resources.backup, Settings(), target.side())
    restore_backup(into, RestoreRequest(name="nightly", selection=parse_selection(colls="books"), **options))


def a_binlog(storage: MemoryStorage, source: FakeMilvus) -> str:
    """The last insert log of `books`, the collection the restores take."""
    books = source.collection_id("default", "books")
    return keys_under(storage, f"{BACKUP_ROOT}nightly/binlogs/insert_log/{books}/")[-1]


def flip_a_byte(storage: MemoryStorage, key: str) -> None:
    data = bytearray(storage.get(key))
    data[len(data) // 2] ^= 0xFF
    storage.put(key, bytes(data))


@pytest.mark.parametrize(
    ("damage", "options", "words"),
    [
        (flip_a_byte, {}, "content differs (checksum mismatch)"),
        (lambda s, k: s.put(k, s.get(k) + b"more"), {"verify": False}, "bytes, expected"),
        (lambda s, k: s.delete(k), {"verify": False}, "missing"),
    ],
)
def test_a_damaged_file_is_refused_before_anything_is_created(
    resources: Resources,
    source: FakeMilvus,
    backup_storage: MemoryStorage,
    target: FakeMilvus,
    damage: Callable[[MemoryStorage, str], None],
    options: dict[str, bool],
    words: str,
) -> None:
    create_backup(resources, CreateRequest(name="nightly"))
    key = a_binlog(backup_storage, source)
    damage(backup_storage, key)
    with pytest.raises(IntegrityError) as refused:
        restore(resources, target, **options)
    assert key[len(f"{BACKUP_ROOT}nightly/") :] in refused.value.message and words in refused.value.message
    assert "Nothing was restored" in str(refused.value.hint)
    assert target.list_collections("default") == []
    assert target.calls["create_collection"] == 0 and target.calls["start_import"] == 0


def test_without_verify_only_sizes_are_checked(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage, target: FakeMilvus
) -> None:
    create_backup(resources, CreateRequest(name="nightly"))
    flip_a_byte(backup_storage, a_binlog(backup_storage, source))
    restore(resources, target, verify=False)  # the fake imports whatever it is given; Milvus would read the flip
    assert target.list_collections("default") == ["books"]


def test_a_backup_without_manifest_is_checked_by_size_and_says_so(
    resources: Resources, backup_storage: MemoryStorage, target: FakeMilvus
) -> None:
    create_backup(resources, CreateRequest(name="nightly"))
    backup_storage.delete(layout.meta_key(BACKUP_ROOT, "nightly", layout.MANIFEST_FILE))
    into = Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(), target.side())
    # verify off: the fake's binlogs are stand-ins, which the structure check of a full one refuses
    request = RestoreRequest(name="nightly", selection=parse_selection(colls="books"), verify=False)
    result = restore_backup(into, request)
    assert any("no manifest (made by another tool): its files were checked by size only" in w for w in result.warnings)
