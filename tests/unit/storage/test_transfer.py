"""copy_object's modes and error handling, how many copies run at once, and which copies still need the verify
listing, on local directories (the contract suite covers the services)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from milvus_backup.errors import CopyFailedError, IntegrityError, InvalidKeyError, ObjectNotFoundError
from milvus_backup.progress import NullProgress
from milvus_backup.service.copying import CopyTask, copy_all, unproven_sizes, verify_listing
from milvus_backup.storage.base import CopyReceipt, ObjectInfo, Storage
from milvus_backup.storage.local import LocalStorage
from milvus_backup.storage.transfer import copy_object, useful_concurrency


class OtherService(LocalStorage):
    """A directory that stands for a different service: no server-side copy to or from it."""

    kind = "other"

    def can_copy_from(self, source: Storage) -> bool:
        return False


class Failing(OtherService):
    def put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        raise RuntimeError("disk on fire")


def make(tmp_path: Path, name: str, cls: type[LocalStorage] = LocalStorage) -> LocalStorage:
    root = tmp_path / name
    root.mkdir()
    return cls(root)


def test_auto_is_server_side_when_possible(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    src.put("k", b"data")
    assert copy_object(src, "k", dst, "x/k", 4).server_side is True
    assert copy_object(src, "k", dst, "x/direct", 4, mode="direct").server_side is True
    assert copy_object(src, "k", dst, "x/streamed", 4, mode="streaming").server_side is False
    assert [dst.get(k) for k in ("x/k", "x/direct", "x/streamed")] == [b"data"] * 3


def test_auto_streams_between_different_services(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", OtherService)
    src.put("k", b"data")
    assert copy_object(src, "k", dst, "k", 4).server_side is False
    assert dst.get("k") == b"data"


def test_direct_refuses_storages_that_cannot_copy(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", OtherService)
    src.put("k", b"data")
    with pytest.raises(CopyFailedError) as info:
        copy_object(src, "k", dst, "k2", 4, mode="direct")
    assert "k2" in str(info.value) and "/k" in str(info.value)
    assert info.value.hint and "auto" in info.value.hint
    assert not dst.exists("k2")


def test_unclassified_failures_become_copy_failed_naming_both_keys(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", Failing)
    src.put("src-key", b"data")
    with pytest.raises(CopyFailedError) as info:
        copy_object(src, "src-key", dst, "dst-key", 4)
    assert "src-key" in str(info.value) and "dst-key" in str(info.value) and "disk on fire" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_precise_errors_pass_through(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "missing", dst, "k", 1)
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "missing", dst, "k", 1, mode="streaming")
    with pytest.raises(InvalidKeyError):
        copy_object(src, "../escape", dst, "k", 1)


def test_unknown_mode(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    src.put("k", b"d")
    with pytest.raises(CopyFailedError):
        copy_object(src, "k", dst, "k", 1, mode="sideways")  # type: ignore[arg-type]


def test_local_copies_run_no_more_at_once_than_cores(tmp_path: Path) -> None:
    src, dst, other = make(tmp_path, "a"), make(tmp_path, "b"), make(tmp_path, "c", OtherService)
    cores = LocalStorage.copy_parallelism
    assert cores == (os.cpu_count() or 2)
    assert useful_concurrency(src, dst, "auto", 128) == cores
    assert useful_concurrency(src, dst, "direct", 1) == 1
    # Streamed copies wait on the network, and other services copy by themselves: transfer.concurrency decides.
    assert useful_concurrency(src, dst, "streaming", 128) == 128
    assert useful_concurrency(src, other, "auto", 128) == 128


def test_copy_all_holds_local_copies_to_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    tasks = []
    for i in range(24):
        src.put(f"f{i}", bytes([i]) * 1000)
        tasks.append(CopyTask(f"f{i}", f"x/f{i}", 1000))
    running, most = 0, 0
    lock = threading.Lock()
    real_copy = LocalStorage.copy_from

    def counting_copy(self: LocalStorage, *args: object) -> CopyReceipt:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.01)  # long enough for every thread of the pool to be inside a copy at once
            return real_copy(self, *args)  # type: ignore[arg-type]
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(LocalStorage, "copy_parallelism", 3)
    monkeypatch.setattr(LocalStorage, "copy_from", counting_copy)
    stats = copy_all(src, dst, tasks, "auto", 16, NullProgress(), checksums=True)
    assert most == 3
    assert stats.objects == 24 and stats.server_side == 24
    assert all(dst.get(f"x/f{i}") == bytes([i]) * 1000 for i in range(24))


class Unlistable(LocalStorage):
    """A directory whose listing must not be asked for."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        raise AssertionError(f"listed {prefix!r}")


def test_copies_whose_answer_states_their_size_need_no_listing(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", Unlistable)
    src.put("k1", b"one")
    src.put("k2", b"two!")
    tasks = [CopyTask("k1", "x/k1", 3), CopyTask("k2", "x/k2", 4)]
    direct = copy_all(src, dst, tasks, "auto", 4, NullProgress())  # a local copy counts what it writes
    streamed = copy_all(src, dst, [CopyTask("k1", "y/k1", 3)], "streaming", 4, NullProgress())
    assert direct.server_side == 2 and streamed.server_side == 0
    assert direct.unproven == frozenset() and streamed.unproven == frozenset()
    verify_listing(dst, ["x/"], unproven_sizes(tasks, direct), "bk")  # Unlistable: it lists nothing


def test_a_source_that_no_longer_has_its_listed_size_is_caught(tmp_path: Path) -> None:
    # The copy states 5 bytes where the source was listed with 3 (it changed in between): the listing checks it.
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    src.put("k", b"grown")
    tasks = [CopyTask("k", "x/k", 3), CopyTask("k", "x/fine", 5)]
    stats = copy_all(src, dst, tasks, "auto", 2, NullProgress())
    assert stats.unproven == frozenset({"x/k"})
    with pytest.raises(IntegrityError, match="x/k has 5 bytes after the copy, expected 3"):
        verify_listing(dst, ["x/"], unproven_sizes(tasks, stats), "bk")


def test_an_md5_equal_to_the_listed_sources_proves_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The S3 case, whose CopyObject answer has the new MD5 but no size: only a match with the MD5 the source's
    # listing stated proves the copy. (Against a real S3 service: tests/contract/test_storage.py.)
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    src.put("k", b"data")
    monkeypatch.setattr(
        LocalStorage, "copy_from", lambda self, source, src_key, dst_key, size: CopyReceipt(checksum="md5:" + "a" * 32)
    )
    tasks = [
        CopyTask("k", "same", 4, src_md5="a" * 32),
        CopyTask("k", "other", 4, src_md5="b" * 32),
        CopyTask("k", "unlisted", 4),
    ]
    assert copy_all(src, dst, tasks, "auto", 2, NullProgress()).unproven == frozenset({"other", "unlisted"})


def test_verify_listing_names_what_is_missing(tmp_path: Path) -> None:
    dst = make(tmp_path, "b")
    dst.put("x/here", b"12")
    verify_listing(dst, ["x/"], {"x/here": 2}, "bk")
    with pytest.raises(IntegrityError, match="x/gone is missing after the copy"):
        verify_listing(dst, ["x/"], {"x/here": 2, "x/gone": 1}, "bk")


def test_copies_start_while_the_tasks_are_still_being_yielded(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    for i in range(3):
        src.put(f"k{i}", b"abc")

    def listed() -> Iterator[CopyTask]:
        yield CopyTask("k0", "x/k0", 3)
        deadline = time.monotonic() + 10
        while not dst.exists("x/k0"):  # the first copy lands before the second task is yielded
            assert time.monotonic() < deadline, "the first copy did not start before the tasks ended"
            time.sleep(0.01)
        yield from (CopyTask(f"k{i}", f"x/k{i}", 3) for i in (1, 2))

    stats = copy_all(src, dst, listed(), "auto", 4, NullProgress(), checksums=True)
    assert (stats.objects, stats.bytes) == (3, 9)
    assert sorted(stats.checksums) == ["x/k0", "x/k1", "x/k2"]


class SlowCopy(LocalStorage):
    def copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        time.sleep(0.3)
        return super().copy_from(source, src_key, dst_key, size)


def test_a_failure_while_yielding_tasks_waits_for_the_running_copies(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", SlowCopy)
    src.put("k", b"abc")

    def listed() -> Iterator[CopyTask]:
        yield CopyTask("k", "x/k", 3)
        raise IntegrityError(name="b", detail="the listing broke")

    with pytest.raises(IntegrityError, match="the listing broke"):
        copy_all(src, dst, listed(), "auto", 4, NullProgress())
    # The copy under way finished before copy_all returned: a caller's clean-up after it sees everything.
    assert dst.exists("x/k")
