"""The storage contract: a bucket of objects addressed by relative, `/`-separated keys.

A backend moves bytes and knows nothing of Milvus or of backups. Every backend raises only the errors of
`milvus_backup.errors` (`ObjectNotFoundError` for a missing object, whatever the service calls it), translated
once at its boundary.

`Storage` applies the contract once for every backend: its public methods validate keys and prefixes, run the
backend's raw operation (`_stat`, `_get`, `_list`, ...) inside the backend's `_translate_errors`, and do what
every backend must do alike (a delete of a missing object is no error, listings come in key order, a
server-side copy only where `can_copy_from`). A backend writes only the raw operations.
"""

from __future__ import annotations

import abc
import builtins
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from milvus_backup.errors import InvalidKeyError, ObjectNotFoundError, StorageError

logger = logging.getLogger(__name__)

# Streaming copies move data in pieces of this size, so memory stays bounded whatever the object size.
STREAM_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    #: The content's MD5 (hex) when the listing states it for free (an S3 single-part ETag); else None.
    md5: str | None = None


@dataclass(frozen=True)
class CopyReceipt:
    """What a server-side copy's own answer says about the new object, so that nothing has to ask again."""

    #: `md5:<hex>` or `crc32c:<hex>` of the new object's content, when the copy yields one for free.
    checksum: str | None = None
    #: The new object's size in bytes, when the copy's answer states it.
    size: int | None = None


class NoConditionalWrites(Exception):
    """The service has no conditional create (`put_if_absent`): it refuses it, or ignores the condition. Not a
    user-facing error: whoever needs one object per key falls back to something else (service/claim.py)."""


#: Appended to a key to probe whether the service honours a conditional create (see `Storage.put_if_absent`).
_PROBE_SUFFIX = ".conditional-write-probe"
_probing = threading.Lock()


def validate_key(key: str, *, prefix: bool = False) -> str:
    """Refuse keys that could escape the bucket or mean two things.

    A prefix may be empty (the whole bucket) and may end with `/`; an object key may do neither.
    """
    if key == "" and prefix:
        return key
    if key == "":
        raise InvalidKeyError(key=key, detail="an object key cannot be empty")
    if key.startswith("/") or "\\" in key:
        raise InvalidKeyError(key=key, detail="keys are relative and separated by '/'")
    parts = key.split("/")
    if prefix and parts[-1] == "":
        parts = parts[:-1]
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKeyError(key=key, detail="empty, '.' and '..' segments are not allowed")
    return key


def _probe_key(key: str) -> str:
    """A key of its own (another process's probe must not meet this one's) beside the folder `key` is in, never
    inside it: the folder's owner may list it meanwhile and must find only what was put there on purpose (a claim
    checks its new backup folder holds nothing but its lock)."""
    folder, slash, _ = key.rpartition("/")
    return f"{folder if slash else key}{_PROBE_SUFFIX}-{uuid.uuid4().hex}"


class Storage(abc.ABC):
    """One bucket (for local storage: one directory) of one storage service.

    The public methods are the contract and are not overridden by backends; a backend implements the raw
    operations below them (the abstract `_...` methods, plus `_delete_prefix`, `_copy_from`, `_reported_md5`
    and `_local_path` where it has something better than the default) and one `_translate_errors`.
    """

    #: Provider family, e.g. "local", "s3", "azure", "gcs".
    kind: str
    #: Human-readable location for messages, credentials stripped, e.g. "s3://127.0.0.1:8333/a-bucket".
    location: str
    #: How many `copy_from` calls into this storage are worth running at once; None when the service does the
    #: work and the wait is the network's, so transfer.concurrency decides.
    copy_parallelism: int | None = None
    #: Keys are files of a directory on this machine; `local_path` gives their paths.
    is_local_directory: bool = False
    #: Set once a listing of this storage came back out of key order: its listings are then read whole and
    #: sorted. (Per instance; starts False.)
    _lists_out_of_order: bool = False
    #: Whether the service honours a conditional create; None: find out at the first `put_if_absent` (S3-compatible
    #: services differ: some refuse `If-None-Match`, older ones ignore it and overwrite).
    conditional_writes: bool | None = True

    # -- the contract --------------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        """Size of one object; `ObjectNotFoundError` if it is missing."""
        validate_key(key)
        with self._translate_errors(key):
            return self._stat(key)

    def get(self, key: str) -> bytes:
        """Whole content of one (small) object."""
        validate_key(key)
        with self._translate_errors(key):
            return self._get(key)

    def open_read(self, key: str) -> BinaryIO:
        """A stream over one object's content, for objects too big to hold in memory."""
        validate_key(key)
        with self._translate_errors(key):
            return self._open_read(key)

    def put(self, key: str, data: bytes) -> None:
        """Write one (small) object, replacing it if it exists."""
        validate_key(key)
        with self._translate_errors(key):
            self._put(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write one (small) object only if no object has that key, atomically (the service's conditional
        create): True if this call created it, False if an object was there. Of any number of concurrent calls
        for one key, exactly one returns True. `NoConditionalWrites` where the service has no conditional create
        (found out once per storage object, with a probe object next to `key` where it is not known)."""
        validate_key(key)
        if self.conditional_writes is None:
            with _probing:  # one probe at a time: they are rare, and concurrent ones would meet each other's
                if self.conditional_writes is None:
                    self.conditional_writes = self._honours_conditions(_probe_key(key))
        if not self.conditional_writes:
            raise NoConditionalWrites(self.location)
        with self._translate_errors(key):
            try:
                return self._put_if_absent(key, data)
            except NoConditionalWrites:
                self.conditional_writes = False
                raise

    def _honours_conditions(self, probe: str) -> bool:
        """A conditional create over an object that exists must fail; a service that lets it through ignores
        the condition."""
        try:
            with self._translate_errors(probe):
                self._put(probe, b"1")
                honoured = not self._put_if_absent(probe, b"2")
        except NoConditionalWrites:
            honoured = False
        finally:
            self.delete(probe)
        if not honoured:
            logger.info("%s has no conditional create: names are claimed with a lease instead", self.location)
        return honoured

    def put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """Write one object from a stream of `size` bytes with bounded memory: exactly `size` bytes, or fail
        (`StorageError` when the stream ends early) and write nothing."""
        validate_key(key)
        with self._translate_errors(key):
            self._put_stream(key, stream, size)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, recursively, in key (plain string) order.

        Streamed page by page while the service lists in key order. A service found listing out of order has
        its listing read whole and sorted, this one and every later one; if a later page breaks the order
        after objects were already handed out, the listing fails with `StorageError` (and the next one is
        read whole and sorted).
        """
        validate_key(prefix, prefix=True)
        return self._ordered_listing(prefix)

    # `builtins.list` from here on: the method `list` above shadows the builtin in annotations of this class.
    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """Names of the immediate 'folders' below `prefix` (which is '' or ends with '/') that still hold an
        object, sorted."""
        validate_key(prefix, prefix=True)
        if prefix and not prefix.endswith("/"):
            raise StorageError(location=self.location, detail=f"list_dirs needs a prefix ending in '/', got {prefix!r}")
        with self._translate_errors(prefix, bucket_op=True):
            return sorted(self._list_dirs(prefix))

    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing object is not an error."""
        validate_key(key)
        try:
            with self._translate_errors(key):
                self._delete(key)
        except ObjectNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object below `prefix`; returns how many were deleted."""
        validate_key(prefix, prefix=True)
        with self._translate_errors(prefix):
            return self._delete_prefix(prefix)

    def check_bucket(self) -> None:
        """Raise `BucketNotFoundError`, `StorageAccessDeniedError` or `StorageUnavailableError` if the
        bucket cannot be used; return quietly if it can."""
        with self._translate_errors("", bucket_op=True):
            self._check_bucket()

    def can_copy_from(self, source: Storage) -> bool:
        """True when this service can copy an object of `source` without the bytes passing through us."""
        return False

    def copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """Server-side copy of `source`'s `src_key` into `dst_key` here; `StorageError` unless
        `can_copy_from(source)`.

        The receipt holds what the copy's answer tells for free: a checksum (an MD5 in the service's answer, see
        `reported_md5`; a CRC32C of the bytes a local copy writes) spares reading the object again, and a stated
        size spares listing it."""
        validate_key(src_key)
        validate_key(dst_key)
        if not self.can_copy_from(source):
            raise StorageError(location=self.location, detail=f"cannot copy server-side from {source.location}")
        with self._translate_errors(src_key, location=f"{source.location} -> {self.location}"):
            return self._copy_from(source, src_key, dst_key, size)

    def reported_md5(self, key: str) -> str | None:
        """The MD5 (hex) of the object's content as the service itself records it, when it does (an S3
        single-part ETag, Azure Content-MD5, GCS md5Hash), without reading the content; else None.
        `ObjectNotFoundError` if the object is missing."""
        validate_key(key)
        with self._translate_errors(key):
            return self._reported_md5(key)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def local_path(self, key: str) -> str | None:
        """The absolute file-system path of `key` (or of the folder `key` names; `""` is the root) when this
        storage `is_local_directory`; else None."""
        validate_key(key, prefix=True)
        if not self.is_local_directory:
            return None
        return self._local_path(key)

    # -- listing order -------------------------------------------------------------------------------

    def _ordered_listing(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = self._raw_pages(prefix)
        if self._lists_out_of_order:
            yield from _sorted(pages)
            return
        page = next(pages, None)
        if page is None:
            return
        if broken := _order_break(page, ""):
            self._learn_out_of_order(broken)
            yield from _sorted(pages, page)
            return
        last = ""
        while True:
            if page:
                yield from page
                last = page[-1].key
            page = next(pages, None)
            if page is None:
                return
            if broken := _order_break(page, last):
                self._learn_out_of_order(broken)
                raise StorageError(
                    location=self.location,
                    detail=f"the listing of {prefix!r} came back out of key order ({broken}) after part of it "
                    "was used; later listings by this storage object are read whole and sorted",
                )

    def _raw_pages(self, prefix: str) -> Iterator[builtins.list[ObjectInfo]]:
        """The backend's pages in the service's order, each fetched inside the error translation (and not the
        consumer's work between two pages)."""
        pages = self._list(prefix)
        while True:
            with self._translate_errors(prefix, bucket_op=True):
                page = next(pages, None)
            if page is None:
                return
            yield page

    def _raw_listing(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object below `prefix` in the service's order (for work that needs no order, e.g. deleting)."""
        for page in self._raw_pages(prefix):
            yield from page

    def _learn_out_of_order(self, example: str) -> None:
        """Remember that this service lists out of key order; say so once."""
        if not self._lists_out_of_order:
            self._lists_out_of_order = True
            logger.info(
                "%s lists keys out of key order (%s): its listings are read whole and sorted from now on",
                self.location,
                example,
            )

    # -- what a backend implements -------------------------------------------------------------------

    @abc.abstractmethod
    def _translate_errors(
        self, key: str, *, bucket_op: bool = False, location: str | None = None
    ) -> AbstractContextManager[None]:
        """A context manager that turns the SDK's (or the file system's) exceptions into those of
        `milvus_backup.errors` (`raise ... from exc`), naming `key`; `bucket_op`: a not-found means the bucket;
        `location`: the location to report instead of `self.location` (a copy names both sides). Errors of
        `milvus_backup.errors` pass through unchanged."""

    @abc.abstractmethod
    def _stat(self, key: str) -> ObjectInfo:
        """Size of one object; raise the SDK's not-found (or `ObjectNotFoundError`) if it is missing."""

    @abc.abstractmethod
    def _get(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def _open_read(self, key: str) -> BinaryIO:
        """A stream whose reads raise only our errors (see `_streams.TranslatingReader`); a missing object
        should fail here, not at the first read."""

    @abc.abstractmethod
    def _put(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def _put_if_absent(self, key: str, data: bytes) -> bool:
        """The service's conditional create (S3 `If-None-Match: *`, Azure and GCS preconditions, O_EXCL):
        False when the object exists."""

    @abc.abstractmethod
    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """Bounded memory whatever `size`; exactly `size` bytes or fail and leave no object (see
        `_streams.iter_parts` and `read_whole`)."""

    @abc.abstractmethod
    def _list(self, prefix: str) -> Iterator[builtins.list[ObjectInfo]]:
        """Every object whose key starts with `prefix` (a plain string prefix), as pages in the service's own
        order. The base checks the order and sorts where needed."""

    @abc.abstractmethod
    def _list_dirs(self, prefix: str) -> builtins.list[str]:
        """Names (without '/') of the immediate folders below `prefix` ('' or ending in '/') that hold at least
        one object, in any order."""

    @abc.abstractmethod
    def _delete(self, key: str) -> None:
        """Delete one object; raising the service's not-found for a missing one is fine (the base ignores it)."""

    def _delete_prefix(self, prefix: str) -> int:
        """One delete per listed object; a backend with batch deletes overrides this."""
        keys = [info.key for info in self._raw_listing(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    @abc.abstractmethod
    def _check_bucket(self) -> None: ...

    def _copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """Server-side copy; only called when `can_copy_from(source)` is true."""
        raise NotImplementedError(f"{self.kind} storage has no server-side copy")

    def _reported_md5(self, key: str) -> str | None:
        """A service that records no MD5 still reports a missing object."""
        self._stat(key)
        return None

    def _local_path(self, key: str) -> str:
        """Only called when `is_local_directory`."""
        raise NotImplementedError(f"{self.kind} storage is no local directory")


def _order_break(page: list[ObjectInfo], last: str) -> str | None:
    """Where `page` breaks the key order of a listing whose last key so far was `last`; None if it does not."""
    for info in page:
        if info.key < last:
            return f"{info.key!r} after {last!r}"
        last = info.key
    return None


def _sorted(pages: Iterator[list[ObjectInfo]], first: list[ObjectInfo] | None = None) -> list[ObjectInfo]:
    infos = list(first or ())
    for page in pages:
        infos.extend(page)
    infos.sort(key=lambda info: info.key)
    return infos
