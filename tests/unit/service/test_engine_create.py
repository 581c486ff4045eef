"""`create_backup` on the fakes: what a backup holds, that the meta comes last, and that every way it can fail
(errors, cancels, deadlines) leaves nothing under the backup's folder."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from milvus_backup.errors import (
    BackupExistsError,
    DeadlineExceededError,
    JobCancelledError,
    SourceDataError,
    StorageError,
)
from milvus_backup.meta import layout
from milvus_backup.service.catalog import read_backup, read_manifest
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.run import Run
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.fakes.rows import FakeRows
from tests.unit.service.conftest import BACKUP_ROOT, BOOKS_ROWS, MOVIES_ROWS, backup_keys, keys_under

Hook = Callable[[str, str], Exception | None]


def _is_meta(key: str) -> bool:
    return f"/{layout.META_DIR}/" in key


def _is_binlog(key: str) -> bool:
    return f"/{layout.BINLOG_DIR}/" in key


def test_create_copies_every_binlog_and_writes_the_meta_last(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage, milvus_storage: MemoryStorage
) -> None:
    meta_seen_during_copy: list[str] = []
    binlogs_at_meta: list[int] = []

    def watch(op: str, key: str) -> None:
        if op == "copy_from":
            meta_seen_during_copy.extend(filter(_is_meta, backup_storage.keys()))
        elif op == "put" and _is_meta(key):
            binlogs_at_meta.append(len(list(filter(_is_binlog, backup_storage.keys()))))

    backup_storage.fail_on = watch
    result = create_backup(resources, CreateRequest(name="nightly"))

    source_binlogs = keys_under(milvus_storage, "files/")
    copied = [k for k in backup_keys(backup_storage, "nightly") if _is_binlog(k)]
    assert meta_seen_during_copy == []
    assert binlogs_at_meta == [len(source_binlogs)] * (len(layout.META_FILES) + 1)  # and the manifest
    assert (result.collections, result.segments, result.objects) == (2, 4, len(source_binlogs))
    assert result.server_side_copies == len(source_binlogs)
    assert result.gc_paused is False
    manifest = read_manifest(resources.backup, "nightly")
    assert manifest is not None
    backup_dir = layout.backup_dir(BACKUP_ROOT, "nightly")
    listed = {info.key[len(backup_dir) :]: info.size for info in backup_storage.list(backup_dir + "binlogs/")}
    assert {o.key: o.size for o in manifest.objects} == listed
    assert len(listed) == len(copied)
    assert all(o.checksum.startswith("md5:") for o in manifest.objects)
    assert {(c.collection, c.segment_rows) for c in manifest.collections} == {("books", 250), ("movies", 30)}
    info = read_backup(resources.backup, "nightly")
    books = next(c for c in info.collection_backups if c.collection_name == "books")
    assert {p.partition_name: len(p.segment_backups) for p in books.partition_backups} == {"_default": 2, "p1": 1}
    assert [i.index_name for i in books.index_infos] == ["vec_idx", "id_idx"]
    assert books.aliases == ["library"] and books.load_state == "Loaded"
    assert sum(len(s.deltalogs) for p in books.partition_backups for s in p.segment_backups) == 1
    assert source.calls["flush"] == 2


def test_a_backup_round_trips_into_another_milvus(resources: Resources, backup_storage: MemoryStorage) -> None:
    create_backup(resources, CreateRequest(name="nightly"))
    target = FakeMilvus(MemoryStorage("target-bucket"))
    restored = restore_backup(
        Resources(resources.backup, Settings(), target.side()), RestoreRequest("nightly", restore_index=True)
    )

    assert [(c.target, c.segments, c.rows) for c in restored.collections] == [
        ("db2.movies", 1, MOVIES_ROWS),
        ("default.books", 3, BOOKS_ROWS),
    ]
    assert target.row_count("default", "books") == BOOKS_ROWS
    assert target.row_count("db2", "movies") == MOVIES_ROWS
    assert sorted(p.name for p in target.list_partitions("default", "books")) == ["_default", "p1"]
    assert [(i.field_name, i.index_name, i.index_type) for i in target.describe_indexes("default", "books")] == [
        ("vec", "vec_idx", "HNSW"),
        ("id", "id_idx", "STL_SORT"),
    ]
    assert target.describe_collection("default", "books").aliases == ["library"]
    assert target.list_databases() == ["db2", "default"]
    assert restored.warnings == []


def _fail_nth(op: str, n: int, error: Exception) -> Hook:
    count = 0
    lock = threading.Lock()

    def hook(called: str, key: str) -> Exception | None:
        nonlocal count
        if called != op:
            return None
        with lock:
            count += 1
            return error if count == n else None

    return hook


def _books_listing_fails(source: FakeMilvus) -> Hook:
    """db2.movies is copied first (databases in name order), then the listing of default.books breaks."""
    books = f"files/insert_log/{source.collection_id('default', 'books')}/"

    def hook(op: str, key: str) -> Exception | None:
        return (
            StorageError(location="mem://milvus-bucket", detail="listing broke")
            if (op == "list" and key == books)
            else None
        )

    return hook


@pytest.mark.parametrize("failure", ["copy", "listing", "missing segment", "meta write"])
def test_a_failed_create_leaves_nothing(
    failure: str, resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage, milvus_storage: MemoryStorage
) -> None:
    expected: type[Exception] = StorageError
    if failure == "copy":
        backup_storage.fail_on = _fail_nth("copy_from", 5, StorageError(location="mem", detail="disk full"))
    elif failure == "listing":
        milvus_storage.fail_on = _books_listing_fails(source)
    elif failure == "missing segment":
        expected = SourceDataError
        segment = source.persistent_segments("default", "books")[-1]
        milvus_storage.delete_prefix(
            layout.source_insert_prefix("files/", segment.collection_id, segment.partition_id, segment.segment_id)
        )
    else:
        backup_storage.fail_on = lambda op, key: (
            StorageError(location="mem", detail="no space")
            if (op == "put" and key.endswith("segment_meta.json"))
            else None
        )
    copies_before = 0
    failing = backup_storage.fail_on

    def count_copies(op: str, key: str) -> Exception | None:
        nonlocal copies_before
        copies_before += op == "copy_from"
        return failing(op, key) if failing else None

    backup_storage.fail_on = count_copies

    with pytest.raises(expected):
        create_backup(resources, CreateRequest(name="nightly"))
    assert copies_before > 0  # something was copied, and then removed
    assert backup_keys(backup_storage, "nightly") == []


def test_a_taken_name_is_refused_before_anything_is_written(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    backup_storage.put("backup/nightly/notes.txt", b"someone else's")
    with pytest.raises(BackupExistsError):
        create_backup(resources, CreateRequest(name="nightly"))
    assert backup_storage.keys() == ["backup/nightly/notes.txt"]
    assert source.calls["flush"] == 0 and source.calls["describe_collection"] == 0


@pytest.mark.parametrize("phase", ["describe", "flush", "copy", "meta"])
def test_a_cancel_at_each_phase_leaves_nothing(
    phase: str, resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    run = Run(what="backup nightly")
    if phase in ("describe", "flush"):
        method = {"describe": "describe_collection", "flush": "flush"}[phase]
        source.on_call = lambda name, args: run.cancel.set() if name == method else None
    elif phase == "copy":
        copies = 0

        def cancel_at_third_copy(op: str, key: str) -> None:
            nonlocal copies
            copies += op == "copy_from"
            if copies == 3:
                run.cancel.set()

        backup_storage.fail_on = cancel_at_third_copy
    else:
        # a cancel while the last file before the commit file is written (the manifest): once the commit file
        # is being written the backup is done
        backup_storage.fail_on = lambda op, key: (
            run.cancel.set() if (op == "put" and key.endswith(layout.MANIFEST_FILE)) else None
        )

    with run, pytest.raises(JobCancelledError):
        create_backup(resources, CreateRequest(name="nightly"), run)
    assert backup_keys(backup_storage, "nightly") == []
    if phase in ("describe", "flush"):
        assert source.calls["persistent_segments"] == 0  # no listing, no copy


def test_a_slow_flush_hits_the_deadline(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    source.flush_polls = 1000
    with Run(timeout=0.3) as run, pytest.raises(DeadlineExceededError):
        create_backup(resources, CreateRequest(name="nightly"), run)
    assert backup_keys(backup_storage, "nightly") == []


def test_slow_copies_hit_the_deadline_and_what_was_copied_is_removed(
    source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    copied: list[str] = []

    def slow(op: str, key: str) -> None:
        if op == "copy_from":
            threading.Event().wait(0.05)
            copied.append(key)

    backup_storage.fail_on = slow
    resources = Resources(
        StorageLocation(backup_storage, BACKUP_ROOT), Settings(copy_concurrency=2), source.side(), rows=FakeRows
    )
    with Run(timeout=0.25) as run, pytest.raises(DeadlineExceededError):
        create_backup(resources, CreateRequest(name="nightly"), run)
    assert 0 < len(copied) < 17
    assert backup_keys(backup_storage, "nightly") == []


class _Gc:
    name = "fake GC control"

    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.paused = self.resumed = 0

    def pause(self, seconds: int) -> None:
        if self.fails:
            raise ConnectionError("management port closed")
        self.paused += 1

    def resume(self) -> None:
        self.resumed += 1


def test_gc_that_cannot_be_paused_is_a_warning_of_the_result(source: FakeMilvus, backup_storage: MemoryStorage) -> None:
    gc = _Gc(fails=True)
    resources = Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(), source.side([gc]), rows=FakeRows)
    result = create_backup(resources, CreateRequest(name="nightly", proof=False))
    assert result.gc_paused is False
    assert len(result.warnings) == 1
    assert "could not pause Milvus GC" in result.warnings[0] and "management port closed" in result.warnings[0]


def test_gc_paused_and_resumed_without_warnings(source: FakeMilvus, backup_storage: MemoryStorage) -> None:
    gc = _Gc(fails=False)
    resources = Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(), source.side([gc]), rows=FakeRows)
    result = create_backup(resources, CreateRequest(name="nightly", proof=False))
    assert (result.gc_paused, gc.paused, gc.resumed, result.warnings) == (True, 1, 1, [])


def test_pause_gc_off_tries_nothing_and_warns_nothing(source: FakeMilvus, backup_storage: MemoryStorage) -> None:
    gc = _Gc(fails=True)
    resources = Resources(
        StorageLocation(backup_storage, BACKUP_ROOT), Settings(pause_gc=False), source.side([gc]), rows=FakeRows
    )
    result = create_backup(resources, CreateRequest(name="nightly", proof=False))
    assert (result.gc_paused, result.warnings) == (False, [])
    assert keys_under(backup_storage, "backup/nightly/meta/backup_meta.json")
