"""`MemoryStorage`: a bucket held in a dict, for tests of anything that moves objects.

It implements the raw operations of `Storage` like any backend, so the public methods (key checks, error
translation, listing order, missing deletes, copy checks) are the real ones; the contract suite runs on it too.

Test knobs:

* `fail_on(op, key)`: called before every operation; an exception it returns is raised there. Our own errors
  pass through as they are, a `KeyError` means "not found" like a service's 404, anything else reaches the
  caller untranslated (an SDK error the backend did not know). `op` is one of `stat`, `get`, `open_read`,
  `put`, `put_stream`, `list` (key: the prefix, when the listing starts), `list_page` (key: the first key of
  the page about to be handed out), `list_dirs` (the prefix), `delete`, `check_bucket` (key ''),
  `copy_from` (key: the destination key; asked of the destination only), `reported_md5`.
* `page_size`: how many objects a listing page holds.
* `unordered`: list in descending key order, as a service that does not list in key order would (with
  `page_size=1` the first page is in order and the second breaks it).
* `missing`: the bucket does not exist.
* `service`: storages of one service copy between them server-side.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from milvus_backup.errors import BackupToolError, BucketNotFoundError, ObjectNotFoundError, StorageError
from milvus_backup.storage._streams import iter_parts
from milvus_backup.storage.base import STREAM_CHUNK_BYTES, CopyReceipt, NoConditionalWrites, ObjectInfo, Storage


class MemoryStorage(Storage):
    """A thread-safe dict of key -> bytes (with each object's MD5, which it reports like an object store)."""

    kind = "memory"

    def __init__(
        self,
        name: str = "bucket",
        *,
        service: str = "mem",
        fail_on: Callable[[str, str], Exception | None] | None = None,
        page_size: int = 1000,
        unordered: bool = False,
        missing: bool = False,
        conditions: str = "honoured",
    ) -> None:
        """`conditions`: how the fake service treats a conditional create: "honoured", "refused" (it answers that
        it has none) or "ignored" (it writes anyway, as some S3-compatible services do); but the last two are found
        out by the probe of `Storage.put_if_absent`."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.name = name
        self.service = service
        self.location = f"mem://{name}"
        self.fail_on = fail_on
        self.page_size = page_size
        self.unordered = unordered
        self.missing = missing
        self.conditions = conditions
        if conditions != "honoured":
            self.conditional_writes = None
        self._objects: dict[str, tuple[bytes, str]] = {}  # key -> (content, md5 hex)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStorage(name={self.name!r}, service={self.service!r})"

    # -- for tests -----------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """Every key, sorted, without going through the contract (no hooks, no checks)."""
        with self._lock:
            return sorted(self._objects)

    def content(self, key: str) -> bytes:
        """One object's bytes, without going through the contract; `KeyError` if missing."""
        with self._lock:
            return self._objects[key][0]

    # -- the raw operations --------------------------------------------------------------------------

    @contextmanager
    def _translate_errors(self, key: str, *, bucket_op: bool = False, location: str | None = None) -> Iterator[None]:
        location = location or self.location
        try:
            yield
        except BackupToolError:
            raise
        except KeyError as exc:
            if bucket_op:
                raise BucketNotFoundError(bucket=self.name, location=location) from exc
            raise ObjectNotFoundError(key=key, location=location) from exc

    def _enter(self, op: str, key: str) -> None:
        """The hook, then the bucket's existence: what every request meets first."""
        if self.fail_on is not None and (exc := self.fail_on(op, key)) is not None:
            raise exc
        if self.missing:
            raise BucketNotFoundError(bucket=self.name, location=self.location)

    def _stat(self, key: str) -> ObjectInfo:
        self._enter("stat", key)
        with self._lock:
            data, _md5 = self._objects[key]
        return ObjectInfo(key=key, size=len(data))

    def _reported_md5(self, key: str) -> str | None:
        self._enter("reported_md5", key)
        with self._lock:
            return self._objects[key][1]

    def _get(self, key: str) -> bytes:
        self._enter("get", key)
        with self._lock:
            return self._objects[key][0]

    def _open_read(self, key: str) -> BinaryIO:
        self._enter("open_read", key)
        with self._lock:
            return io.BytesIO(self._objects[key][0])

    def _store(self, key: str, data: bytes) -> None:
        md5 = hashlib.md5(data).hexdigest()
        with self._lock:
            self._objects[key] = (data, md5)

    def _put(self, key: str, data: bytes) -> None:
        self._enter("put", key)
        self._store(key, bytes(data))

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        self._enter("put_if_absent", key)
        if self.conditions == "refused":
            raise NoConditionalWrites(self.location)
        md5 = hashlib.md5(data).hexdigest()
        with self._lock:
            if key in self._objects and self.conditions == "honoured":
                return False
            self._objects[key] = (bytes(data), md5)
        return True

    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        self._enter("put_stream", key)
        parts = iter_parts(stream, size, STREAM_CHUNK_BYTES, self.location, key)
        data = b"".join(piece for part in parts for piece in part.pieces)
        self._store(key, data)  # stored only once every byte was read: a short stream writes nothing

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        self._enter("list", prefix)
        with self._lock:
            objects = [(k, d, m) for k, (d, m) in self._objects.items() if k.startswith(prefix)]
        infos = [ObjectInfo(key=k, size=len(d), md5=m) for k, d, m in objects]
        infos.sort(key=lambda info: info.key, reverse=self.unordered)
        for start in range(0, len(infos), self.page_size):
            page = infos[start : start + self.page_size]
            self._enter("list_page", page[0].key)
            yield page

    def _list_dirs(self, prefix: str) -> list[str]:
        self._enter("list_dirs", prefix)
        with self._lock:
            keys = [k for k in self._objects if k.startswith(prefix)]
        return list({k[len(prefix) :].split("/", 1)[0] for k in keys if "/" in k[len(prefix) :]})

    def _delete(self, key: str) -> None:
        self._enter("delete", key)
        with self._lock:
            del self._objects[key]

    def _check_bucket(self) -> None:
        self._enter("check_bucket", "")

    def can_copy_from(self, source: Storage) -> bool:
        return isinstance(source, MemoryStorage) and source.service == self.service

    def _copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        if not isinstance(source, MemoryStorage):
            raise StorageError(location=self.location, detail=f"cannot copy server-side from {source.location}")
        self._enter("copy_from", dst_key)
        if source.missing:
            raise BucketNotFoundError(bucket=source.name, location=source.location)
        with source._lock:
            data, md5 = source._objects[src_key]
        with self._lock:
            self._objects[dst_key] = (data, md5)
        return CopyReceipt(checksum=f"md5:{md5}", size=len(data))
