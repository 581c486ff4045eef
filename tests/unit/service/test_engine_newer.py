"""Milvus >= 2.4 on the fakes: L0 delete segments backed up and imported after the data they delete from, storage
format v2 segments imported with their format, and what is refused before anything is created."""

from __future__ import annotations

from dataclasses import replace

import pytest

from milvus_backup.errors import MilvusError, UnsupportedFormatError, UsageError
from milvus_backup.meta import layout
from milvus_backup.meta.model import CollectionSchema, FieldSchema, FunctionSchema, KeyValue
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import FUNC_RUNTIME_CHECK, RestoreRequest, restore_backup
from milvus_backup.service.selection import Selection
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus, schema
from tests.unit.service.conftest import BACKUP_ROOT


def _resources(backup: MemoryStorage, milvus: FakeMilvus) -> Resources:
    return Resources(StorageLocation(backup, BACKUP_ROOT), Settings(), milvus.side())


@pytest.fixture
def backup_storage() -> MemoryStorage:
    return MemoryStorage("backup-bucket")


@pytest.fixture
def source() -> FakeMilvus:
    """`default.books` on a Milvus 2.4: 2 x 100 rows in `_default`, 50 in `p1`; an L0 segment deleting 3 rows of
    `p1` and one deleting 7 rows of the whole collection."""
    fake = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.4.5")
    fake.add_collection("default", "books", partitions=("p1",))
    fake.insert("default", "books", "_default", rows=100, segments=2)
    fake.insert("default", "books", "p1", rows=50)
    fake.insert_l0("default", "books", "p1", deletes=3)
    fake.insert_l0("default", "books", deletes=7)
    return fake


def test_l0_segments_are_backed_up_where_upstream_puts_them(source: FakeMilvus, backup_storage: MemoryStorage) -> None:
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    coll = read_backup(StorageLocation(backup_storage, BACKUP_ROOT), "b").collection_backups[0]
    (whole,) = coll.l0_segments
    assert whole.partition_id == -1 and whole.is_l0 and whole.group_id == 0 and not whole.binlogs
    p1 = next(p for p in coll.partition_backups if p.partition_name == "p1")
    (in_p1,) = [s for s in p1.segment_backups if s.is_l0]
    assert in_p1.group_id == in_p1.segment_id and in_p1.deltalogs
    delta = layout.backup_segment_delta_dir(BACKUP_ROOT, "b", coll.collection_id, -1, 0, whole.segment_id)
    assert delta == f"{BACKUP_ROOT}b/binlogs/delta_log/{coll.collection_id}/-1/{whole.segment_id}/"
    assert [info.key for info in backup_storage.list(delta)]


def test_l0_segments_are_imported_after_the_data_so_deleted_rows_stay_deleted(
    source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.4.5")
    data_done_before_l0: list[bool] = []

    def watch(method: str, args: tuple[object, ...]) -> None:
        if method == "start_import" and args[4] == {"l0_import": "true"}:
            data_done_before_l0.append(all(t.done for t in target.tasks.values() if "backup" in t.options))

    target.on_call = watch
    result = restore_backup(_resources(backup_storage, target), RestoreRequest("b"))
    assert target.row_count("default", "books") == source.row_count("default", "books") == 240
    (books,) = result.collections
    assert books.rows == 250 and books.segments == 5  # rows imported; the L0 imports bring deletes
    l0 = [t for t in target.tasks.values() if t.options.get("l0_import") == "true"]
    assert sorted(t.partition for t in l0) == ["", "p1"]  # "" = every partition
    assert all(len(t.files) == 1 and t.files[0].endswith("/") for t in l0)
    assert data_done_before_l0 == [True, True]
    whole = next(t for t in l0 if t.partition == "")
    assert max(t.id for t in l0 if t.partition == "p1") < whole.id  # the collection's deletes come last


def test_an_l0_backup_into_a_loaded_collection_is_refused_before_anything_changes(
    source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.4.5")
    target.add_collection("default", "books", partitions=("p1",), loaded=True)
    target.calls.clear()
    with pytest.raises(UsageError, match="is loaded"):
        restore_backup(_resources(backup_storage, target), RestoreRequest("b", skip_create_collection=True))
    assert target.calls["start_import"] == 0


def test_the_fake_refuses_what_milvus_refuses_of_an_l0_import() -> None:
    fake = FakeMilvus(MemoryStorage("m"), version="v2.4.5")
    fake.add_collection("default", "c", loaded=True)
    with pytest.raises(MilvusError, match="collection cannot be loaded"):
        fake.start_import("default", "c", "", ["files/delta_log/1/-1/2/"], {"l0_import": "true"})
    with pytest.raises(MilvusError, match="partition not specified"):
        fake.start_import("default", "c", "", ["files/insert_log/1/2/"], {"backup": "true"})


def test_an_l0_backup_is_refused_by_a_milvus_before_2_4(source: FakeMilvus, backup_storage: MemoryStorage) -> None:
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.3.5")
    with pytest.raises(UnsupportedFormatError, match="L0"):
        restore_backup(_resources(backup_storage, target), RestoreRequest("b"))
    assert target.list_collections("default") == []


def test_storage_v2_segments_are_imported_with_their_format_one_group_each_where_formats_mix(
    backup_storage: MemoryStorage,
) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.6.3")
    source.add_collection("default", "books", partitions=("p1",))
    source.insert("default", "books", "_default", rows=10, storage_version=2)
    source.insert("default", "books", "p1", rows=20, storage_version=0)
    source.insert("default", "books", "p1", rows=30, storage_version=2)
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.6.3")
    restore_backup(_resources(backup_storage, target), RestoreRequest("b"))
    assert target.row_count("default", "books") == 60
    jobs = sorted(
        (t.partition, t.options.get("storage_version", ""), t.files[0].count("/")) for t in target.tasks.values()
    )
    depth = jobs[0][2]  # the partition folder; a group folder is one deeper
    assert jobs == [("_default", "2", depth), ("p1", "", depth + 1), ("p1", "2", depth + 1)]


def test_storage_v2_segments_are_refused_by_a_milvus_before_2_6(backup_storage: MemoryStorage) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.6.3")
    source.add_collection("default", "books")
    source.insert("default", "books", rows=10, storage_version=2)
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.5.10")
    with pytest.raises(UnsupportedFormatError, match="storage"):
        restore_backup(
            _resources(backup_storage, target), RestoreRequest("b", selection=Selection({"default": ["books"]}))
        )
    assert target.list_collections("default") == []


RBAC = {
    "users": [
        {"user": "alice", "password": "c3RvcmVkIGNyZWRlbnRpYWw=", "roles": [{"name": "reader"}]},
        {"user": "bob", "roles": []},
    ],
    "roles": [{"name": "reader"}],
    "grants": [
        {
            "object": {"name": "Collection"},
            "object_name": "books",
            "role": {"name": "reader"},
            "grantor": {"user": {"name": "root"}, "privilege": {"name": "Query"}},
            "db_name": "default",
        }
    ],
    "privilege_groups": [{"group_name": "readers", "privileges": [{"name": "Query"}, {"name": "Search"}]}],
}


@pytest.mark.parametrize(("version", "created"), [("v2.5.10", ["alice"]), ("v2.4.5", [])])
def test_rbac_users_with_their_stored_credential_are_created_by_a_milvus_that_takes_them(
    source: FakeMilvus, backup_storage: MemoryStorage, version: str, created: list[str]
) -> None:
    source.rbac = RBAC
    create_backup(_resources(backup_storage, source), CreateRequest(name="b", rbac=True))
    target = FakeMilvus(MemoryStorage("target-bucket"), version=version)
    result = restore_backup(_resources(backup_storage, target), RestoreRequest("b", rbac=True, meta_only=True))
    assert [u["user"] for u in target.rbac["users"]] == created
    assert target.rbac["roles"] == [{"name": "reader"}] and len(target.rbac["grants"]) == 1
    not_created = {"alice", "bob"} - set(created)
    assert len(result.warnings) == len(not_created)
    assert all("2.4.10" in w for w in result.warnings)
    assert bool(target.rbac.get("privilege_groups")) == bool(created)


@pytest.mark.parametrize(("version", "kept"), [("v2.4.5", {"database.replica.number": "2"}), ("v2.3.5", {})])
def test_database_properties_are_backed_up_where_describe_database_exists_and_restored(
    backup_storage: MemoryStorage, version: str, kept: dict[str, str]
) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version=version)
    source.add_collection("shop", "orders")
    source.set_database_properties("shop", {"database.replica.number": "2"})
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    dbs = read_backup(StorageLocation(backup_storage, BACKUP_ROOT), "b").database_backups
    (db,) = [d for d in dbs if d.db_name == "shop"]
    assert {kv.key: kv.value for kv in db.properties} == kept and bool(db.db_id) == bool(kept)
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.4.5")
    restore_backup(_resources(backup_storage, target), RestoreRequest("b", meta_only=True))
    assert target.database_properties("shop") == kept
    other = FakeMilvus(MemoryStorage("target-bucket"), version="v2.4.5")
    restore_backup(_resources(backup_storage, other), RestoreRequest("b", meta_only=True, skip_db_properties=True))
    assert other.database_properties("shop") == {}


def _schema_with(**changes: object) -> CollectionSchema:
    coll_schema = schema("docs")
    for key, value in changes.items():
        setattr(coll_schema, key, value)
    return coll_schema


@pytest.mark.parametrize(
    ("coll_schema", "reason"),
    [
        # a field added after creation (Milvus 2.6 add_field): id 102 went to `$meta`, the new field got 103
        (
            _schema_with(
                enable_dynamic_field=True,
                fields=[*schema("docs").fields[:1], replace(schema("docs").fields[1], field_id=103)],
            ),
            "has id 103",
        ),
        (_schema_with(struct_array_fields=[{"fieldID": 102, "name": "chunks"}]), "struct fields"),
    ],
)
def test_a_schema_createcollection_cannot_give_back_is_refused_before_anything_is_created(
    backup_storage: MemoryStorage, coll_schema: CollectionSchema, reason: str
) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.6.3")
    source.add_collection("default", "docs", coll_schema)
    source.insert("default", "docs", rows=10)
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.6.3")
    with pytest.raises(UnsupportedFormatError, match=reason):
        restore_backup(_resources(backup_storage, target), RestoreRequest("b"))
    assert target.list_collections("default") == []


def _with_function() -> CollectionSchema:
    coll_schema = schema("docs", varchar=True)
    coll_schema.fields.append(FieldSchema(field_id=103, name="sparse", data_type=104, is_function_output=True))
    coll_schema.functions = [
        FunctionSchema(name="bm25", id=100, type=1, input_field_names=["text"], output_field_names=["sparse"])
    ]
    return coll_schema


@pytest.mark.parametrize(
    ("version", "changes"), [("v2.6.8", [[KeyValue(FUNC_RUNTIME_CHECK, "false")]]), ("v2.6.3", [])]
)
def test_a_collection_with_functions_is_created_with_the_runtime_check_off_then_put_back(
    backup_storage: MemoryStorage, version: str, changes: list[list[KeyValue]]
) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.6.3")
    source.add_collection("default", "docs", _with_function())
    source.insert("default", "docs", rows=10)
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version=version)
    restore_backup(_resources(backup_storage, target), RestoreRequest("b"))
    assert [changed for _, _, changed in target.property_changes] == changes
    properties = {kv.key: kv.value for kv in target.describe_collection("default", "docs").properties}
    assert properties.get(FUNC_RUNTIME_CHECK, "") == ("false" if changes else "")


def test_a_json_path_index_name_is_left_to_milvus(backup_storage: MemoryStorage) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.5.10")
    source.add_collection("default", "docs", indexes=(("vec", "HNSW"),))
    source.create_index("default", "docs", "id", "/meta/color", {"index_type": "INVERTED"})
    source.insert("default", "docs", rows=10)
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.5.10")
    restore_backup(_resources(backup_storage, target), RestoreRequest("b", restore_index=True, meta_only=True))
    assert sorted(i.index_name for i in target.describe_indexes("default", "docs")) == ["id", "vec_idx"]


def test_collections_of_an_encrypted_database_are_refused_unless_meta_only(backup_storage: MemoryStorage) -> None:
    source = FakeMilvus(MemoryStorage("milvus-bucket"), version="v2.6.3")
    source.add_collection("vault", "secrets")
    source.insert("vault", "secrets", rows=10)
    source.set_database_properties("vault", {"cipher.ezID": "7", "cipher.key": "kms-key-1"})
    create_backup(_resources(backup_storage, source), CreateRequest(name="b"))
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.6.3")
    with pytest.raises(UnsupportedFormatError, match="encrypted database"):
        restore_backup(_resources(backup_storage, target), RestoreRequest("b"))
    assert target.list_databases() == ["default"]
    result = restore_backup(_resources(backup_storage, target), RestoreRequest("b", meta_only=True))
    assert target.list_collections("vault") == ["secrets"] and target.database_properties("vault") == {}
    assert [w for w in result.warnings if "encryption properties" in w]
