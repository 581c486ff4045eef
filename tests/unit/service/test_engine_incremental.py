"""Incremental backups on the fakes: what is referenced and what copied, chains, compaction, restore through
references, verify of referenced objects, refused and cascading deletes, consolidate."""

from __future__ import annotations

import json

import pytest

from milvus_backup.errors import BackupNotFoundError, BackupReferencedError, IntegrityError, UsageError
from milvus_backup.meta import layout
from milvus_backup.meta.manifest import MANIFEST_FORMAT, MANIFEST_FORMAT_REFERENCES, Manifest
from milvus_backup.service.catalog import (
    delete_backup,
    delete_with_dependents,
    dependents,
    list_backups,
    read_manifest,
    read_references,
)
from milvus_backup.service.create import CreateRequest, CreateResult, create_backup
from milvus_backup.service.prune import PruneRequest, prune_backups
from milvus_backup.service.references import consolidate, describe_chain
from milvus_backup.service.resources import Resources, Settings
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.retention import RetentionPolicy
from milvus_backup.service.run import Run
from milvus_backup.service.selection import Selection
from milvus_backup.service.verify import verify_backup
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, BOOKS_ROWS, MOVIES_ROWS, backup_keys, keys_under


def _incremental(resources: Resources, name: str, base: str = "") -> CreateResult:
    return create_backup(resources, CreateRequest(name=name, incremental=True, base=base))


def _binlogs(storage: MemoryStorage, name: str) -> list[str]:
    return [k for k in backup_keys(storage, name) if f"/{layout.BINLOG_DIR}/" in k]


def _manifest(resources: Resources, name: str) -> Manifest:
    manifest = read_manifest(resources.backup, name)
    assert manifest is not None
    return manifest


def _restore_rows(resources: Resources, name: str) -> dict[str, int]:
    """Rows per collection after restoring `name` into an empty Milvus of its own storage (so every file is
    staged from backup storage)."""
    target = FakeMilvus(MemoryStorage("target-bucket"))
    restore_backup(Resources(resources.backup, Settings(), target.side()), RestoreRequest(name))
    return {"books": target.row_count("default", "books"), "movies": target.row_count("db2", "movies")}


def test_an_incremental_backup_references_unchanged_segments_and_copies_new_ones(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    full = create_backup(resources, CreateRequest(name="mon"))
    new_segment = source.insert("default", "books", rows=40)[0]

    tue = _incremental(resources, "tue")

    assert tue.base == "mon"
    assert tue.referenced_objects == full.objects
    assert tue.referenced_bytes == full.bytes
    own = _binlogs(backup_storage, "tue")
    assert own and all(f"/{new_segment}/" in key for key in own)
    assert tue.objects == len(own)
    manifest = _manifest(resources, "tue")
    assert manifest.format == MANIFEST_FORMAT_REFERENCES
    assert {o.backup for o in manifest.objects} == {"", "mon"}
    assert len(manifest.objects) == full.objects + tue.objects
    refs = read_references(resources.backup, "tue")
    assert refs is not None and (refs.base, refs.owners) == ("mon", ["mon"])
    assert _manifest(resources, "mon").format == MANIFEST_FORMAT  # a full backup keeps format 1
    assert _restore_rows(resources, "tue") == {"books": BOOKS_ROWS + 40, "movies": MOVIES_ROWS}
    assert verify_backup(resources.backup, "tue").ok
    summaries = {s.name: s.base for s in list_backups(resources.backup)}
    assert summaries == {"mon": "", "tue": "mon"}
    chain = describe_chain(resources.backup, "tue")
    assert chain.bases == ["mon"]
    assert chain.referenced_bytes == {"mon": full.bytes}
    assert chain.owned_bytes == tue.bytes - full.bytes


def test_a_chain_of_four_resolves_every_reference_to_the_backup_holding_the_bytes(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(resources, CreateRequest(name="b0"))
    added = 0
    for day in range(1, 4):
        source.insert("default", "books", rows=10 * day)
        added += 10 * day
        result = _incremental(resources, f"b{day}")
        assert result.base == f"b{day - 1}"
        assert result.objects == len(_binlogs(backup_storage, f"b{day}"))

    manifest = _manifest(resources, "b3")
    owners = {o.backup for o in manifest.objects}
    assert owners == {"", "b0", "b1", "b2"}
    for obj in manifest.objects:
        holder = obj.backup or "b3"
        assert backup_storage.get(layout.backup_dir(BACKUP_ROOT, holder) + obj.key)  # never an intermediate
    refs = read_references(resources.backup, "b3")
    assert refs is not None and refs.owners == ["b0", "b1", "b2"]
    assert describe_chain(resources.backup, "b3").bases == ["b2", "b1", "b0"]
    assert _restore_rows(resources, "b3") == {"books": BOOKS_ROWS + added, "movies": MOVIES_ROWS}
    assert dependents(resources.backup, "b0") == ["b1", "b2", "b3"]
    assert dependents(resources.backup, "b3") == []


def test_compacted_segments_and_segments_with_new_deletes_are_copied(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(resources, CreateRequest(name="mon"))
    merged = source.compact("default", "books", "_default")  # the two 100-row segments become one new one
    movies_segment = source.persistent_segments("db2", "movies")[0].segment_id
    source.delete_rows("db2", "movies", movies_segment, 3)

    tue = _incremental(resources, "tue")

    own = _binlogs(backup_storage, "tue")
    copied_segments = {int(key.split("/")[-3]) for key in own if "/insert_log/" in key}
    assert copied_segments == {merged, movies_segment}
    referenced = {o.key for o in _manifest(resources, "tue").objects if o.backup}
    assert referenced and all("/insert_log/" in k or "/delta_log/" in k for k in referenced)
    assert not any(f"/{movies_segment}/" in k for k in referenced)
    assert tue.base == "mon"
    assert _restore_rows(resources, "tue") == {"books": BOOKS_ROWS, "movies": MOVIES_ROWS - 3}


def test_the_default_base_is_the_newest_backup_of_the_same_collections(
    resources: Resources, source: FakeMilvus
) -> None:
    create_backup(resources, CreateRequest(name="everything"))
    books_only = Selection({"default": ["books"]})
    first = create_backup(resources, CreateRequest(name="books1", selection=books_only, incremental=True))
    assert (first.base, first.referenced_objects) == ("", 0)  # no backup of books alone yet: a full copy
    assert read_references(resources.backup, "books1") is None
    second = create_backup(resources, CreateRequest(name="books2", selection=books_only, incremental=True))
    assert second.base == "books1"
    assert _incremental(resources, "everything2").base == "everything"
    with pytest.raises(BackupNotFoundError):
        _incremental(resources, "x", base="missing_backup")
    assert "x" not in [s.name for s in list_backups(resources.backup)]


def test_verify_and_restore_fail_when_a_referenced_object_in_the_base_is_damaged(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(resources, CreateRequest(name="mon"))
    source.insert("default", "books", rows=40)
    _incremental(resources, "tue")
    referenced = next(o for o in _manifest(resources, "tue").objects if o.backup == "mon")
    key = layout.backup_dir(BACKUP_ROOT, "mon") + referenced.key
    data = bytearray(backup_storage.get(key))
    data[-1] ^= 0xFF
    backup_storage.put(key, bytes(data))

    report = verify_backup(resources.backup, "tue")

    assert not report.ok
    assert any(
        f"{referenced.key} (in backup mon): content differs" in p for c in report.collections for p in c.problems
    )
    target = FakeMilvus(MemoryStorage("target-bucket"))
    with pytest.raises(IntegrityError, match="in backup mon"):
        restore_backup(Resources(resources.backup, Settings(), target.side()), RestoreRequest("tue"))
    assert target.list_collections("default") == []


def test_deleting_a_referenced_backup_is_refused_unless_its_dependents_go_too(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(resources, CreateRequest(name="mon"))
    source.insert("default", "books", rows=10)
    _incremental(resources, "tue")
    source.insert("default", "books", rows=10)
    _incremental(resources, "wed")

    with pytest.raises(BackupReferencedError) as refused:
        delete_backup(resources.backup, "mon")
    assert refused.value.dependents == ["tue", "wed"]
    assert refused.value.exit_code == 19
    assert "tue, wed" in str(refused.value) and "--with-dependents" in (refused.value.hint or "")
    assert _binlogs(backup_storage, "mon")
    with pytest.raises(BackupReferencedError, match="wed"):
        delete_backup(resources.backup, "tue")

    deleted = delete_with_dependents(resources.backup, "tue")

    assert [name for name, _ in deleted] == ["wed", "tue"]
    assert [s.name for s in list_backups(resources.backup)] == ["mon"]
    assert delete_backup(resources.backup, "mon") > 0


def test_consolidate_makes_a_backup_self_contained_so_its_base_can_go(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(resources, CreateRequest(name="mon"))
    source.insert("default", "books", rows=40)
    tue = _incremental(resources, "tue")
    source.insert("default", "books", rows=5)
    _incremental(resources, "wed")  # references both mon and tue

    with Run() as run:
        result = consolidate(resources.backup, Settings(), "tue", run)

    assert result.former_owners == ["mon"]
    assert result.objects == tue.referenced_objects and result.bytes == tue.referenced_bytes
    manifest = _manifest(resources, "tue")
    assert manifest.format == MANIFEST_FORMAT and not manifest.owners()
    raw = backup_storage.get(layout.meta_key(BACKUP_ROOT, "tue", layout.MANIFEST_FILE))
    assert json.loads(raw)["format"] == MANIFEST_FORMAT
    assert read_references(resources.backup, "tue") is None
    assert len(_binlogs(backup_storage, "tue")) == len(manifest.objects)
    assert dependents(resources.backup, "mon") == ["wed"]  # wed still references mon's bytes itself
    with Run() as run:
        consolidate(resources.backup, Settings(), "wed", run)
    delete_backup(resources.backup, "mon")
    assert verify_backup(resources.backup, "tue").ok
    assert _restore_rows(resources, "tue") == {"books": BOOKS_ROWS + 40, "movies": MOVIES_ROWS}
    assert _restore_rows(resources, "wed") == {"books": BOOKS_ROWS + 45, "movies": MOVIES_ROWS}
    with Run() as run:
        again = consolidate(resources.backup, Settings(), "tue", run)
    assert (again.objects, again.former_owners) == (0, [])


def test_where_milvus_reads_the_backup_in_place_partitions_with_references_are_staged(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    create_backup(resources, CreateRequest(name="mon"))
    source.insert("default", "books", rows=40)
    _incremental(resources, "tue")
    target = FakeMilvus(backup_storage, root="target-files/")  # one bucket: Milvus reads the backup where it lies

    restored = restore_backup(Resources(resources.backup, Settings(), target.side()), RestoreRequest("tue"))

    assert target.row_count("default", "books") == BOOKS_ROWS + 40
    assert target.row_count("db2", "movies") == MOVIES_ROWS
    # Every partition of this backup holds referenced segments, so each was staged, and the staging removed.
    assert restored.staged_objects == len(_manifest(resources, "tue").objects)
    assert keys_under(backup_storage, "restore-temp-") == []


def test_a_backup_without_manifest_holds_all_its_bytes(resources: Resources, backup_storage: MemoryStorage) -> None:
    full = create_backup(resources, CreateRequest(name="gomade"))
    backup_storage.delete(layout.meta_key(BACKUP_ROOT, "gomade", layout.MANIFEST_FILE))  # as the Go tool writes it

    chain = describe_chain(resources.backup, "gomade")

    assert (chain.bases, chain.owned_objects, chain.owned_bytes, chain.referenced_bytes) == (
        [],
        full.objects,
        full.bytes,
        {},
    )
    with pytest.raises(UsageError, match="no manifest"):
        _incremental(resources, "next", base="gomade")


def test_prune_keeps_the_backups_a_kept_incremental_backup_references(resources: Resources, source: FakeMilvus) -> None:
    create_backup(resources, CreateRequest(name="n_mon"))
    source.insert("default", "books", "p1", rows=10)  # kept by the compaction below, so n_wed references it
    _incremental(resources, "n_tue")
    source.compact("default", "books", "_default")
    _incremental(resources, "n_wed")
    create_backup(resources, CreateRequest(name="n_thu"))  # full: references nothing

    result = prune_backups(resources.backup, PruneRequest(RetentionPolicy(keep_last=2), prefix="n_"))

    reasons = {b.name: b.reasons for b in result.kept}
    assert reasons["n_thu"] == ["last"] and reasons["n_wed"] == ["last"]
    assert reasons["n_tue"] == ["referenced by n_wed"]
    assert reasons["n_mon"] == ["referenced by n_wed", "referenced by n_tue"]
    assert result.removed == []
    create_backup(resources, CreateRequest(name="n_fri"))
    result = prune_backups(resources.backup, PruneRequest(RetentionPolicy(keep_last=2), prefix="n_"))
    assert sorted(b.name for b in result.removed) == ["n_mon", "n_tue", "n_wed"]
    assert [s.name for s in list_backups(resources.backup)] == ["n_fri", "n_thu"]
