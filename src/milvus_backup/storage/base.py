"""The storage contract: a bucket of objects addressed by relative, `/`-separated keys.

A backend moves bytes and knows nothing of Milvus or of backups. Every backend raises only the errors of
`milvus_backup.errors` (`ObjectNotFoundError` for a missing object, whatever the service calls it), translated
once at its boundary.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from milvus_backup.errors import InvalidKeyError, ObjectNotFoundError

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


class Storage(abc.ABC):
    """One bucket (for local storage: one directory) of one storage service."""

    #: Provider family, e.g. "local", "s3", "azure", "gcs".
    kind: str
    #: Human-readable location for messages, credentials stripped, e.g. "s3://127.0.0.1:8333/a-bucket".
    location: str
    #: How many `copy_from` calls into this storage are worth running at once; None when the service does the
    #: work and the wait is the network's, so transfer.concurrency decides.
    copy_parallelism: int | None = None

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size of one object; `ObjectNotFoundError` if it is missing."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Whole content of one (small) object."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A stream over one object's content, for objects too big to hold in memory."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write one (small) object, replacing it if it exists."""

    @abc.abstractmethod
    def put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """Write one object from a stream of `size` bytes with bounded memory."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, recursively, in key order."""

    @abc.abstractmethod
    def list_dirs(self, prefix: str) -> list[str]:
        """Names of the immediate 'folders' below `prefix` (which is '' or ends with '/'), sorted."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing object is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object below `prefix`; returns how many were deleted."""
        keys = [info.key for info in self.list(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    @abc.abstractmethod
    def check_bucket(self) -> None:
        """Raise `BucketNotFoundError`, `StorageAccessDeniedError` or `StorageUnavailableError` if the
        bucket cannot be used; return quietly if it can."""

    def can_copy_from(self, source: Storage) -> bool:
        """True when this service can copy an object of `source` without the bytes passing through us."""
        return False

    def copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """Server-side copy of `source`'s `src_key` into `dst_key` here. Only called when
        `can_copy_from(source)` is true.

        The receipt holds what the copy's answer tells for free: a checksum (an MD5 in the service's answer, see
        `reported_md5`; a CRC32C of the bytes a local copy writes) spares reading the object again, and a stated
        size spares listing it."""
        raise NotImplementedError(f"{self.kind} storage has no server-side copy")

    def local_path(self, key: str) -> str | None:
        """The absolute file-system path of `key` for backends that are a directory on this machine; else None."""
        return None

    def reported_md5(self, key: str) -> str | None:
        """The MD5 (hex) of the object's content as the service itself records it, when it does (an S3
        single-part ETag, Azure Content-MD5, GCS md5Hash), without reading the content; else None."""
        return None

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True
