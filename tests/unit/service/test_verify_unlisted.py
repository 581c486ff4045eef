"""Objects in a backup's folder that the backup does not list: in its binlogs they are problems (Milvus would
import them), elsewhere warnings; the tool's own files (meta, lock, restore journals) are neither."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from milvus_backup.errors import IntegrityError
from milvus_backup.meta import layout
from milvus_backup.service.resources import Resources
from milvus_backup.service.restore import RestoreRequest, restore_backup
from milvus_backup.service.restore_journal import Journal, write
from milvus_backup.service.verify import verify_backup
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, backup_keys


@pytest.fixture
def backup(make_backup: Callable[[str], str]) -> str:
    return make_backup("nightly")


def _a_binlog(storage: MemoryStorage, name: str) -> str:
    return next(k for k in backup_keys(storage, name) if "/binlogs/insert_log/" in k)


def test_a_leftover_next_to_a_binlog_is_a_problem_of_its_collection_and_stops_a_restore(
    backup: str, resources: Resources, backup_storage: MemoryStorage
) -> None:
    binlog = _a_binlog(backup_storage, backup)
    backup_storage.put(binlog + ".milvus-backup-tmp-1234", b"half a file")
    report = verify_backup(resources.backup, backup, quick=True)
    assert not report.ok
    (failed,) = [c for c in report.collections if c.problems]
    relative = binlog[len(layout.backup_dir(BACKUP_ROOT, backup)) :]
    assert failed.problems == [f"{relative}.milvus-backup-tmp-1234: not part of the backup (not in its manifest)"]
    assert failed.collection == "default.books"  # the first collection created holds the first binlog listed

    target = FakeMilvus(MemoryStorage("target-bucket"))
    with pytest.raises(IntegrityError, match="not part of the backup"):
        restore_backup(
            Resources(resources.backup, resources.settings, target.side()), RestoreRequest(backup, verify=False)
        )
    assert target.calls["create_collection"] == 0 and target.calls["start_import"] == 0


def test_a_stray_file_outside_the_binlogs_is_a_warning(
    backup: str, resources: Resources, backup_storage: MemoryStorage
) -> None:
    backup_storage.put(f"{BACKUP_ROOT}{backup}/notes.txt", b"copied by hand")
    report = verify_backup(resources.backup, backup)
    assert report.ok
    assert report.warnings == [f"backup {backup} holds notes.txt, which is not part of it"]


def test_the_tools_own_files_are_neither(backup: str, resources: Resources, backup_storage: MemoryStorage) -> None:
    backup_storage.put(layout.lock_key(BACKUP_ROOT, backup), b"{}")
    write(resources.backup, Journal("r1", backup, ["default.books"]))
    report = verify_backup(resources.backup, backup)
    assert report.ok and report.warnings == []
