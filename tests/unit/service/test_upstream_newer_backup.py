"""A hand-built backup in the Go tool's layout for Milvus 2.5 (tests/data/upstream_v2_5_backup): read, restored on
the fake Milvus with its L0 delete segments, and refused by Milvus versions that lack what it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus, know_segments
from tests.unit.service.conftest import BACKUP_ROOT

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "upstream_v2_5_backup" / "newer_backup"
NAME = "newer_backup"


@pytest.fixture
def backups() -> StorageLocation:
    storage = MemoryStorage("backup-bucket")
    for path in FIXTURE.rglob("*"):
        if path.is_file():
            storage.put(f"{BACKUP_ROOT}{NAME}/{path.relative_to(FIXTURE).as_posix()}", path.read_bytes())
    know_segments({3001: 10, 3002: 5}, {3003: 2, 3004: 1})
    return StorageLocation(storage, BACKUP_ROOT)


def test_the_newer_layout_is_read_with_both_kinds_of_l0_segments(backups: StorageLocation) -> None:
    info = read_backup(backups, NAME)
    (docs,) = info.collection_backups
    assert [(s.segment_id, s.partition_id, s.group_id) for s in docs.l0_segments] == [(3004, -1, 0)]
    p1 = next(p for p in docs.partition_backups if p.partition_name == "p1")
    assert [(s.segment_id, s.is_l0) for s in p1.segment_backups] == [(3002, False), (3003, True)]
    assert [f.type for f in docs.schema.functions] == [1]  # BM25
    price = next(f for f in docs.schema.fields if f.name == "price")
    assert price.nullable and price.default_value_base64 == "JQAAoEA="
    assert info.database_backups[0].properties[0].key == "database.replica.number"


def test_restore_on_milvus_2_5_imports_the_data_then_the_l0_deletes(backups: StorageLocation) -> None:
    target = FakeMilvus(MemoryStorage("target-bucket"), version="v2.5.4")
    # verify off: the fixture's binlogs are stand-ins (text), which the structure check of a full one refuses
    request = RestoreRequest(NAME, restore_index=True, verify=False)
    result = restore_backup(Resources(backups, Settings(), target.side()), request)
    assert target.row_count("default", "docs") == 15 - 2 - 1
    (docs,) = result.collections
    assert (docs.rows, docs.segments, docs.indexes) == (15, 4, 1)
    imports = sorted((t.partition, sorted(t.options.items())) for t in target.tasks.values())
    assert imports == [
        ("", [("l0_import", "true")]),
        ("_default", [("backup", "true")]),
        ("p1", [("backup", "true")]),
        ("p1", [("l0_import", "true")]),
    ]
    created = target.describe_collection("default", "docs").schema
    assert [f.name for f in created.fields] == ["id", "text", "sparse", "f16", "price"]
    assert created.functions[0].output_field_names == ["sparse"] and created.enable_dynamic_field
    assert any("no manifest" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("version", "reason"),
    [("v2.4.15", "price"), ("v2.3.5", "L0")],  # the nullable field with a default; the L0 segments
)
def test_older_milvus_refuses_it_before_anything_is_created(
    backups: StorageLocation, version: str, reason: str
) -> None:
    target = FakeMilvus(MemoryStorage("target-bucket"), version=version)
    with pytest.raises(UnsupportedFormatError, match=reason):
        restore_backup(Resources(backups, Settings(), target.side()), RestoreRequest(NAME))
    assert target.list_collections("default") == [] and not target.tasks
