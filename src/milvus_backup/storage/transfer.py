"""Copying one object from one storage to another: server-side when the two can, through this process if not."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal

from milvus_backup.errors import (
    BucketNotFoundError,
    CopyFailedError,
    InvalidKeyError,
    ObjectNotFoundError,
    StorageAccessDeniedError,
    StorageUnavailableError,
)
from milvus_backup.storage.base import CopyReceipt, Storage, validate_key

logger = logging.getLogger(__name__)

#: Streamed copies hold a few parts of STREAM_CHUNK_BYTES each in memory; however many copies run at once
#: (transfer.concurrency is 128 by default), at most this many stream, so memory stays bounded (~100 MB).
MAX_CONCURRENT_STREAMS = 4
_streams = threading.BoundedSemaphore(MAX_CONCURRENT_STREAMS)

TransferMode = Literal["auto", "direct", "streaming"]

# Errors that already say precisely what went wrong and where; anything else becomes a CopyFailedError.
_PRECISE = (
    ObjectNotFoundError,
    BucketNotFoundError,
    StorageAccessDeniedError,
    StorageUnavailableError,
    InvalidKeyError,
    CopyFailedError,
)


@dataclass(frozen=True)
class Copied:
    #: The destination made the copy itself (`copy_from`): server-side on an object store, a direct file copy
    #: between local directories; False when it was streamed through `open_read` and `put_stream`.
    server_side: bool
    #: The copy's checksum (`md5:<hex>` or `crc32c:<hex>`) when the copy yielded one for free; see
    #: `Storage.copy_from`.
    checksum: str | None = None
    #: The new object's size when the copy tells it: a streamed copy wrote exactly `size` bytes (or failed);
    #: a server-side copy states it in some services' answers (`CopyReceipt.size`).
    size: int | None = None


def _destination_copies(src: Storage, dst: Storage, mode: TransferMode) -> bool:
    """True when `dst` makes the copy itself (`copy_from`) rather than receiving a stream."""
    return mode != "streaming" and dst.can_copy_from(src)


def useful_concurrency(src: Storage, dst: Storage, mode: TransferMode, concurrency: int) -> int:
    """How many copies from `src` to `dst` to run at once: `concurrency`, capped by the destination's
    `copy_parallelism` when it makes the copies itself."""
    if _destination_copies(src, dst, mode) and dst.copy_parallelism:
        return max(1, min(concurrency, dst.copy_parallelism))
    return max(1, concurrency)


def copy_object(
    src: Storage, src_key: str, dst: Storage, dst_key: str, size: int, mode: TransferMode = "auto"
) -> Copied:
    """Copy `src_key` of `src` (`size` bytes) to `dst_key` of `dst`.

    * ``auto``: server-side when `dst` can copy from `src`, else streamed through this process.
    * ``direct``: server-side, or `CopyFailedError` when the two storages cannot copy between them.
    * ``streaming``: always through this process (`src.open_read` into `dst.put_stream`), memory bounded by
      the backends' part size whatever the object size.
    """
    validate_key(src_key)
    validate_key(dst_key)
    src_name = f"{src.location}/{src_key}"
    dst_name = f"{dst.location}/{dst_key}"
    if mode not in ("auto", "direct", "streaming"):
        raise CopyFailedError(
            src=src_name, dst=dst_name, location=dst.location, detail=f"unknown transfer mode {mode!r}"
        )
    server_side = _destination_copies(src, dst, mode)
    if mode == "direct" and not server_side:
        raise CopyFailedError(
            src=src_name,
            dst=dst_name,
            location=dst.location,
            detail=f"transfer mode is direct, but {dst.kind} storage {dst.location} cannot copy from {src.location}",
        )
    receipt = CopyReceipt(size=size)  # what a streamed copy proves: `put_stream` writes exactly `size` bytes
    try:
        if server_side:
            receipt = dst.copy_from(src, src_key, dst_key, size)
        else:
            _stream(src, src_key, dst, dst_key, size)
    except _PRECISE:
        raise
    except Exception as exc:  # an SDK or stream failure the backends did not classify
        raise CopyFailedError(src=src_name, dst=dst_name, location=dst.location, detail=str(exc)) from exc
    how = "server-side" if server_side else "streamed"
    logger.debug("copied %s to %s (%d bytes, %s)", src_name, dst_name, size, how)
    return Copied(server_side, receipt.checksum, receipt.size)


def _stream(src: Storage, src_key: str, dst: Storage, dst_key: str, size: int) -> None:
    with _streams:
        _stream_one(src, src_key, dst, dst_key, size)


def _stream_one(src: Storage, src_key: str, dst: Storage, dst_key: str, size: int) -> None:
    reader = src.open_read(src_key)
    try:
        dst.put_stream(dst_key, reader, size)
        if reader.read(1):
            dst.delete(dst_key)
            raise CopyFailedError(
                src=f"{src.location}/{src_key}",
                dst=f"{dst.location}/{dst_key}",
                location=dst.location,
                detail=f"the source holds more than the expected {size} bytes",
            )
    finally:
        reader.close()
