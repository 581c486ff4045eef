"""Claiming a backup name where the storage has no conditional create: a settled lease (service/claim.py). On
MemoryStorage services that refuse the condition or ignore it (as older S3-compatible services do)."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from milvus_backup.errors import BackupExistsError, JobConflictError
from milvus_backup.meta import layout
from milvus_backup.service import claim
from milvus_backup.service.claim import Holder, claimed, holder
from milvus_backup.service.resources import StorageLocation
from milvus_backup.storage.base import NoConditionalWrites
from tests.fakes.memory_storage import MemoryStorage
from tests.unit.service.conftest import BACKUP_ROOT

SETTLE = 0.3


@pytest.fixture(autouse=True)
def short_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claim, "SETTLE_SECONDS", SETTLE)


@pytest.mark.parametrize("conditions", ["refused", "ignored"])
def test_a_storage_without_conditional_creates_is_found_out_once(conditions: str) -> None:
    storage = MemoryStorage(conditions=conditions)
    requests: list[tuple[str, str]] = []
    storage.fail_on = lambda op, key: requests.append((op, key))  # type: ignore[func-returns-value]
    with pytest.raises(NoConditionalWrites):
        storage.put_if_absent("a/lock", b"x")
    assert storage.conditional_writes is False and storage.keys() == []  # the probe object is gone
    assert any(op == "put_if_absent" and key.startswith("a.conditional-write-probe-") for op, key in requests)
    requests.clear()
    with pytest.raises(NoConditionalWrites):
        storage.put_if_absent("b/lock", b"x")
    assert requests == []  # found out once: no second probe, and nothing written


def test_a_storage_that_honours_conditions_is_found_out_too() -> None:
    storage = MemoryStorage()
    storage.conditional_writes = None
    assert storage.put_if_absent("a/lock", b"x") is True
    assert storage.conditional_writes is True and storage.keys() == ["a/lock"]


@pytest.mark.parametrize("conditions", ["honoured", "refused", "ignored"])
def test_the_probe_writes_nothing_into_the_folder_being_claimed(conditions: str) -> None:
    """Another create holding the name lists its folder right after claiming it (anything but its lock there means
    the name was used before): a probe inside it made that create fail with exit 11 (seen in CI)."""
    storage = MemoryStorage(conditions=conditions)
    storage.conditional_writes = None
    lock = layout.lock_key(BACKUP_ROOT, "same")
    folder = layout.backup_dir(BACKUP_ROOT, "same")
    written: list[str] = []
    storage.fail_on = lambda op, key: written.append(key) if op.startswith("put") else None  # type: ignore[func-returns-value]
    with contextlib.suppress(NoConditionalWrites):
        storage.put_if_absent(lock, b"x")
    assert written and all(key == lock or not key.startswith(folder) for key in written), written


@pytest.mark.parametrize("conditions", ["refused", "ignored"])
def test_of_creates_that_claim_at_once_exactly_one_holds_the_name(conditions: str) -> None:
    storage = MemoryStorage(conditions=conditions)
    storage.conditional_writes = False
    target = StorageLocation(storage, BACKUP_ROOT)
    racers = 4
    all_looked = threading.Barrier(racers)
    lock = layout.lock_key(BACKUP_ROOT, "same")

    def write_after_all_looked(op: str, key: str) -> None:
        if op == "put" and key == lock and threading.current_thread().name.startswith("racer"):
            all_looked.wait(5)  # every racer found no lock before any wrote one

    storage.fail_on = lambda op, key: write_after_all_looked(op, key)  # type: ignore[func-returns-value]

    def race(i: int) -> str:
        threading.current_thread().name = f"racer-{i}"
        try:
            with claimed(target, "same") as me:
                return me.owner
        except JobConflictError:
            return "refused"

    with ThreadPoolExecutor(racers) as pool:
        outcomes = list(pool.map(race, range(racers)))
    assert sorted(outcomes).count("refused") == racers - 1, outcomes
    assert holder(target, "same") is None  # the winner let go


def test_a_lease_claim_holds_the_name_against_later_creates() -> None:
    storage = MemoryStorage(conditions="ignored")
    target = StorageLocation(storage, BACKUP_ROOT)
    with claimed(target, "nightly") as me:
        assert holder(target, "nightly") == me
        with pytest.raises(JobConflictError, match="is being created"), claimed(target, "nightly"):
            pass
    assert holder(target, "nightly") is None


def test_a_stale_lease_is_reported_with_how_to_clear_it() -> None:
    storage = MemoryStorage(conditions="refused")
    target = StorageLocation(storage, BACKUP_ROOT)
    gone = Holder("old", "another-host", 1, time.time() - 600, time.time() - 500)
    storage.put(layout.lock_key(BACKUP_ROOT, "nightly"), claim._encode(gone))
    with pytest.raises(BackupExistsError) as raised, claimed(target, "nightly"):
        pass
    assert raised.value.hint is not None
    assert "was cut off (pid 1 on another-host" in raised.value.hint and "milvus-backup delete -n" in raised.value.hint


def test_a_lease_written_too_slowly_gives_up_and_leaves_no_lock() -> None:
    storage = MemoryStorage(conditions="refused")
    target = StorageLocation(storage, BACKUP_ROOT)
    storage.fail_on = lambda op, key: time.sleep(SETTLE) if op == "put" and key.endswith("create.lock") else None  # type: ignore[func-returns-value]
    with pytest.raises(JobConflictError, match="took too long"), claimed(target, "nightly"):
        pass
    storage.fail_on = None
    assert holder(target, "nightly") is None
