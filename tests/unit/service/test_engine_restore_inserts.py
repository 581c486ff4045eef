"""`restore_backup` through inserts on the fakes: chosen for a target that cannot import (with a warning), every
live row inserted in bounded batches into its partition, primary keys kept (auto-id off), indexes and aliases as
the import path makes them, and a failure taking back what it created."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from milvus_backup.errors import MilvusError, UsageError
from milvus_backup.meta.model import CollectionSchema
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.inserts import batch_rows
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, parse_mode, restore_backup
from milvus_backup.service.selection import Selection
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus, schema
from tests.fakes.rows import FakeRows
from tests.unit.service.conftest import BACKUP_ROOT, BOOKS_ROWS, MOVIES_ROWS

LITE = "milvus_lite-3.2.2"


@pytest.fixture
def backup(make_backup: Callable[[str], str]) -> str:
    return make_backup("nightly")


def _resources(backup_storage: MemoryStorage, target: FakeMilvus, **settings: object) -> Resources:
    return Resources(
        StorageLocation(backup_storage, BACKUP_ROOT),
        Settings(**settings),  # type: ignore[arg-type]
        target.side(),
        rows=FakeRows,
    )


def test_a_target_that_cannot_import_gets_every_live_row_through_inserts(
    backup: str, backup_storage: MemoryStorage
) -> None:
    target = FakeMilvus(MemoryStorage("lite"), version=LITE)
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(backup, restore_index=True))

    assert {c.target: (c.mode, c.rows) for c in result.collections} == {
        "default.books": ("insert", BOOKS_ROWS),
        "db2.movies": ("insert", MOVIES_ROWS),
    }
    assert result.warnings == [
        f"Milvus {LITE} at fake-milvus:19530 cannot import backups: restored through inserts of the rows read "
        "from the backup (mode insert)"
    ]
    assert target.calls["start_import"] == 0 and result.staged_objects == 0
    per_partition: dict[tuple[str, str], int] = {}
    keys: list[int] = []
    for _, coll, partition, batch in target.inserted_batches:
        per_partition[(coll, partition)] = per_partition.get((coll, partition), 0) + batch.num_rows
        keys.extend(batch.columns["id"])
    assert per_partition == {("books", "_default"): 200, ("books", "p1"): 45, ("movies", "_default"): 30}
    assert len(set(keys)) == len(keys) == BOOKS_ROWS + MOVIES_ROWS
    assert target.row_count("default", "books") == BOOKS_ROWS
    assert [i.index_name for i in target.describe_indexes("default", "books")] == ["vec_idx", "id_idx"]
    assert target.describe_collection("default", "books").aliases == ["library"]


def test_inserts_go_in_bounded_batches_at_most_concurrency_at_once(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("lite"), version=LITE)
    in_flight, most = [0], [0]

    def track(method: str, args: object) -> None:
        if method == "insert_rows":
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    target.on_call = track
    original = target.insert_rows

    def insert_rows(*args: object, **kwargs: object) -> int:
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            in_flight[0] -= 1

    target.insert_rows = insert_rows  # type: ignore[method-assign]
    restore_backup(_resources(backup_storage, target, copy_concurrency=2), RestoreRequest(backup, mode="insert"))

    limit = batch_rows(schema("books"))
    assert all(batch.num_rows <= limit for *_, batch in target.inserted_batches)
    assert 1 <= most[0] <= 2


def test_an_auto_id_collection_is_created_with_auto_id_off_to_keep_its_keys(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    auto: CollectionSchema = schema("auto")
    auto.auto_id = True
    auto.fields[0].auto_id = True
    source.add_collection("default", "auto", auto)
    source.insert("default", "auto", rows=10)
    create_backup(resources, CreateRequest(name="keys", selection=Selection({"default": ["auto"]})))
    target = FakeMilvus(MemoryStorage("lite"), version=LITE)

    result = restore_backup(_resources(backup_storage, target), RestoreRequest("keys"))

    created = target.describe_collection("default", "auto").schema
    assert created.auto_id is False and not any(f.auto_id for f in created.fields)
    assert any("created with auto-id off" in w for w in result.warnings)
    assert result.collections[0].rows == 10


def test_import_is_refused_where_the_target_cannot_import(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("lite"), version=LITE)
    with pytest.raises(UsageError, match="cannot import backups"):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup, mode="import"))
    assert target.list_collections("default") == []


def test_insert_mode_into_a_milvus_that_imports_is_the_users_choice(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("target"))
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(backup, mode="insert"))
    assert {c.mode for c in result.collections} == {"insert"} and result.warnings == []
    assert target.calls["start_import"] == 0 and target.row_count("default", "books") == BOOKS_ROWS


def test_a_failed_insert_drops_the_collections_the_restore_created(backup: str, backup_storage: MemoryStorage) -> None:
    target = FakeMilvus(MemoryStorage("lite"), version=LITE)

    def fail(method: str, args: tuple[object, ...]) -> None:
        if method == "insert_rows" and args[1] == "movies":
            raise target._fail("insert refused")

    target.on_call = fail
    with pytest.raises(MilvusError, match="insert refused"):
        restore_backup(_resources(backup_storage, target), RestoreRequest(backup))
    assert target.list_collections("default") == [] and target.list_collections("db2") == []


def test_an_unknown_mode_is_refused_naming_the_doors_option() -> None:
    with pytest.raises(UsageError, match="--mode 'copy': use one of import, insert"):
        parse_mode("copy", "--mode")


V22 = "v2.2.16"


def test_into_milvus_2_2_a_backup_with_keys_deleted_then_inserted_again_goes_through_inserts(
    source: FakeMilvus, resources: Resources, backup_storage: MemoryStorage
) -> None:
    """Milvus 2.2's import would apply the deletes to the rows inserted after them too (seen: an upserted row lost
    in a restore into 2.2.16); only the collections with such rows decide, read from the backup's own binlogs."""
    source.insert("default", "books", "p1", rows=10, deletes=3, reinserted=2)
    name = create_backup(resources, CreateRequest(name="upserted")).name
    target = FakeMilvus(MemoryStorage("v22"), version=V22)
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(name))
    assert {c.mode for c in result.collections} == {"insert"} and target.calls["start_import"] == 0
    [warning] = result.warnings
    assert "would lose rows deleted and then inserted again (upserts): default.books (2 row(s))" in warning
    assert warning.endswith("restored through inserts of the rows read from the backup (mode insert)")


def test_into_milvus_2_2_an_import_that_would_lose_reinserted_rows_is_refused(
    source: FakeMilvus, resources: Resources, backup_storage: MemoryStorage
) -> None:
    source.insert("default", "books", "p1", rows=10, deletes=3, reinserted=2)
    name = create_backup(resources, CreateRequest(name="upserted")).name
    target = FakeMilvus(MemoryStorage("v22"), version=V22)
    with pytest.raises(UsageError, match=r"default.books \(2 row\(s\)\)") as info:
        restore_backup(_resources(backup_storage, target), RestoreRequest(name, mode="import"))
    assert info.value.exit_code == 2 and "mode insert" in (info.value.hint or "")
    assert target.list_collections("default") == []  # refused before anything was created


@pytest.mark.parametrize("version", [V22, "v2.3.5"])
def test_a_backup_without_reinserted_keys_imports_into_2_2_and_any_into_2_3(
    version: str, source: FakeMilvus, resources: Resources, backup_storage: MemoryStorage
) -> None:
    if version != V22:
        source.insert("default", "books", "p1", rows=10, deletes=3, reinserted=2)
    name = create_backup(resources, CreateRequest(name="plain")).name  # the fixture's deletes re-insert nothing
    target = FakeMilvus(MemoryStorage("target"), version=version)
    result = restore_backup(_resources(backup_storage, target), RestoreRequest(name))
    assert {c.mode for c in result.collections} == {"import"} and not result.warnings
