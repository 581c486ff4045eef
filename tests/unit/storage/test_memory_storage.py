"""The in-memory storage for tests, and the contract the `Storage` base class applies once for every backend."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import BinaryIO

import pytest

from milvus_backup.errors import (
    BucketNotFoundError,
    InvalidKeyError,
    ObjectNotFoundError,
    StorageError,
    StorageUnavailableError,
)
from milvus_backup.storage.base import ObjectInfo, Storage
from milvus_backup.storage.local import LocalStorage
from milvus_backup.storage.transfer import copy_object
from tests.fakes.memory_storage import MemoryStorage


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_objects_with_their_md5() -> None:
    storage = MemoryStorage("m")
    assert storage.location == "mem://m" and storage.kind == "memory"
    storage.put("a/x", b"hello")
    storage.put_stream("a/y", io.BytesIO(b"streamed"), 8)
    assert storage.get("a/x") == b"hello"
    assert storage.open_read("a/y").read() == b"streamed"
    assert storage.stat("a/x") == ObjectInfo("a/x", 5)
    assert storage.reported_md5("a/x") == md5(b"hello")
    assert list(storage.list("a/")) == [ObjectInfo("a/x", 5, md5(b"hello")), ObjectInfo("a/y", 8, md5(b"streamed"))]
    assert storage.keys() == ["a/x", "a/y"] and storage.content("a/x") == b"hello"


def test_a_short_stream_writes_nothing() -> None:
    storage = MemoryStorage()
    with pytest.raises(StorageError, match="ended after 3 of 10 bytes"):
        storage.put_stream("k", io.BytesIO(b"abc"), 10)
    assert not storage.exists("k")


def test_missing_objects_and_deletes() -> None:
    storage = MemoryStorage()
    for call in (storage.stat, storage.get, storage.open_read, storage.reported_md5):
        with pytest.raises(ObjectNotFoundError):
            call("absent")
    storage.delete("absent")  # not an error
    storage.put("k", b"")
    storage.delete("k")
    assert storage.keys() == []


def test_list_dirs_hold_objects_and_need_a_folder_prefix() -> None:
    storage = MemoryStorage()
    for key in ("b/one/x", "b/two/y/z", "b/file", "top"):
        storage.put(key, b".")
    assert storage.list_dirs("") == ["b"]
    assert storage.list_dirs("b/") == ["one", "two"]
    assert storage.list_dirs("b/one/") == []
    with pytest.raises(StorageError, match="ending in '/'"):
        storage.list_dirs("b")


def test_a_missing_bucket() -> None:
    storage = MemoryStorage("gone", missing=True)
    with pytest.raises(BucketNotFoundError):
        storage.check_bucket()
    with pytest.raises(BucketNotFoundError):
        list(storage.list(""))
    with pytest.raises(BucketNotFoundError):
        storage.get("k")
    with pytest.raises(InvalidKeyError):  # keys are checked before anything is asked
        storage.get("../k")


def test_server_side_copy_within_one_service() -> None:
    a, b, elsewhere = MemoryStorage("a"), MemoryStorage("b"), MemoryStorage("c", service="other")
    a.put("src", b"copy me")
    assert b.can_copy_from(a) and a.can_copy_from(a)
    assert not elsewhere.can_copy_from(a) and not a.can_copy_from(LocalStorage("/nonexistent"))
    receipt = b.copy_from(a, "src", "dst", 7)
    assert (receipt.checksum, receipt.size) == (f"md5:{md5(b'copy me')}", 7)
    assert b.get("dst") == b"copy me"
    with pytest.raises(ObjectNotFoundError) as info:
        b.copy_from(a, "absent", "dst2", 1)
    assert info.value.fields["key"] == "absent" and "mem://a -> mem://b" in str(info.value)
    with pytest.raises(StorageError, match="cannot copy server-side from mem://a"):
        elsewhere.copy_from(a, "src", "dst", 7)
    assert copy_object(a, "src", b, "auto", 7).server_side is True
    assert copy_object(a, "src", elsewhere, "streamed", 7).server_side is False
    assert elsewhere.get("streamed") == b"copy me"


def test_fail_on_injects_a_failure_into_any_operation() -> None:
    def fail_on(op: str, key: str) -> Exception | None:
        if key == "flaky":
            return StorageUnavailableError(location="mem://f", detail=f"{op} refused")
        if key == "vanished" and op in ("get", "delete"):
            return KeyError(key)  # a service's "not found"
        if op == "copy_from":
            return RuntimeError("an error the backend does not classify")
        return None

    storage = MemoryStorage("f", fail_on=fail_on)
    with pytest.raises(StorageUnavailableError, match="put refused"):
        storage.put("flaky", b".")
    storage.put("vanished", b".")
    with pytest.raises(ObjectNotFoundError):
        storage.get("vanished")
    storage.delete("vanished")  # a missing object is no error for a delete
    with pytest.raises(StorageUnavailableError, match="list refused"):
        list(storage.list("flaky"))
    storage.put("k", b".")
    with pytest.raises(RuntimeError, match="does not classify"):
        storage.copy_from(storage, "k", "k2", 1)


def test_concurrent_use_loses_nothing() -> None:
    storage = MemoryStorage()

    def work(worker: int) -> None:
        for i in range(200):
            storage.put(f"w{worker}/{i:03d}", bytes([worker]))
            if i % 2:
                storage.delete(f"w{worker}/{i - 1:03d}")
            list(storage.list(f"w{worker}/"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(storage.keys()) == 8 * 100
    assert storage.delete_prefix("") == 800 and storage.keys() == []


def test_only_local_directories_have_local_paths(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    assert local.is_local_directory is True
    assert local.local_path("") == str(tmp_path.absolute())
    assert local.local_path("a/b") == str(tmp_path.absolute() / "a" / "b")
    memory = MemoryStorage()
    assert memory.is_local_directory is False and memory.local_path("a/b") is None
    with pytest.raises(InvalidKeyError):
        memory.local_path("../a")


class Minimal(Storage):
    """The least a backend writes: the raw operations, and one error translation."""

    kind = "minimal"
    location = "minimal://"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def _translate_errors(
        self, key: str, *, bucket_op: bool = False, location: str | None = None
    ) -> AbstractContextManager[None]:
        return nullcontext() if key != "boom" else _Boom(key)

    def _stat(self, key: str) -> ObjectInfo:
        if key not in self.objects:
            raise ObjectNotFoundError(key=key, location=self.location)
        return ObjectInfo(key, len(self.objects[key]))

    def _get(self, key: str) -> bytes:
        return self.objects[key]

    def _open_read(self, key: str) -> BinaryIO:
        return io.BytesIO(self.objects[key])

    def _put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        return self.objects.setdefault(key, data) is data

    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        self.objects[key] = stream.read(size)

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        yield [ObjectInfo(k, len(v)) for k, v in self.objects.items() if k.startswith(prefix)]

    def _list_dirs(self, prefix: str) -> list[str]:
        return []

    def _delete(self, key: str) -> None:
        if key not in self.objects:
            raise ObjectNotFoundError(key=key, location=self.location)
        del self.objects[key]

    def _check_bucket(self) -> None:
        pass


class _Boom(AbstractContextManager[None]):
    """Translates an `OSError` (standing for an SDK's) into `StorageUnavailableError`."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError):
            raise StorageUnavailableError(location="minimal://", detail=f"{self.key}: {exc}") from exc


def test_a_backend_gets_the_contract_from_the_base() -> None:
    storage = Minimal()
    storage.put("b", b"2")
    storage.put("a", b"1")
    assert [i.key for i in storage.list("")] == ["a", "b"]  # its one page came unsorted
    assert storage.reported_md5("a") is None  # a service that records no MD5
    with pytest.raises(ObjectNotFoundError):
        storage.reported_md5("absent")
    storage.delete("absent")
    assert storage.delete_prefix("") == 2
    assert not storage.can_copy_from(storage)
    with pytest.raises(StorageError, match="cannot copy server-side"):
        storage.copy_from(storage, "a", "b", 1)
    assert storage.local_path("a") is None
    with pytest.raises(InvalidKeyError):
        storage.put("a//b", b"")

    def broken(key: str, data: bytes) -> None:
        raise OSError("connection reset")

    storage._put = broken  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailableError, match="connection reset"):
        storage.put("boom", b"")


def test_a_backend_must_write_its_raw_operations() -> None:
    class Incomplete(Storage):
        kind = "incomplete"

    with pytest.raises(TypeError, match="_translate_errors"):
        Incomplete()  # type: ignore[abstract]
