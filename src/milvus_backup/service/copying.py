"""Moving a backup's objects: parallel copies, a verify-by-listing pass for copies their answer did not prove,
content checksums."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import google_crc32c

from milvus_backup.errors import IntegrityError
from milvus_backup.progress import Progress
from milvus_backup.service.run import Run
from milvus_backup.storage.base import Storage
from milvus_backup.storage.transfer import TransferMode, copy_object, useful_concurrency

logger = logging.getLogger(__name__)

# Checksums read objects in pieces this big: hashlib releases the GIL on them, and many threads hashing at once
# still hold little memory.
HASH_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class CopyTask:
    src_key: str
    dst_key: str
    size: int
    #: Whose progress the copy counts toward (a collection), for progress by collection.
    part: str = ""
    #: The source's content MD5 as its listing stated it, if it did (see `copy_all`).
    src_md5: str | None = None


@dataclass(frozen=True)
class CopyStats:
    objects: int
    bytes: int
    server_side: int
    #: Destination key -> checksum of the copy (see `checksum_of`), when asked for.
    checksums: dict[str, str] = field(default_factory=dict)
    #: Destination keys whose copy's answer did not prove that the copy holds the task's `size` bytes.
    unproven: frozenset[str] = frozenset()


def copy_all(
    src: Storage,
    dst: Storage,
    tasks: Iterable[CopyTask],
    mode: TransferMode,
    concurrency: int,
    progress: Progress,
    *,
    checksums: bool = False,
    run: Run | None = None,
) -> CopyStats:
    """Copy every task, `concurrency` at a time (fewer where more would not help, see `useful_concurrency`), on
    the run's threads; the first failure stops the rest and is raised once the copies under way have ended (so
    nothing lands after the caller cleans up). Tasks start as `tasks` yields them, so a lazy `tasks` (a listing
    being read) overlaps with the copies; a failure while yielding stops the copies too. With `checksums`,
    each copy's checksum is the one the copy yielded, or else is taken right after the copy.

    A copy is proven when its own answer shows the destination holds the task's `size` bytes: it states that
    size, or the new object's MD5 equals the one the source's listing stated (the same content as the object
    listed with that size). `verify_listing` need only check the others."""
    limit = useful_concurrency(src, dst, mode, concurrency)

    def one(task: CopyTask) -> tuple[CopyTask, bool, str, bool]:
        copied = copy_object(src, task.src_key, dst, task.dst_key, task.size, mode)
        proven = copied.size == task.size or (task.src_md5 is not None and copied.checksum == f"md5:{task.src_md5}")
        checksum = ""
        if checksums:
            checksum = copied.checksum or checksum_of(dst, task.dst_key)
        progress.advance(task.size, task.part)
        return task, copied.server_side, checksum, proven

    if run is None:
        with Run(threads=limit) as own_run:
            done = own_run.map(one, tasks, limit=limit)
    else:
        done = run.map(one, tasks, limit=limit)
    sums = {task.dst_key: sum_ for task, _, sum_, _ in done} if checksums else {}
    unproven = frozenset(task.dst_key for task, _, _, proven in done if not proven)
    return CopyStats(
        len(done), sum(task.size for task, *_ in done), sum(1 for _, ok, _, _ in done if ok), sums, unproven
    )


def unproven_sizes(tasks: list[CopyTask], stats: CopyStats) -> dict[str, int]:
    """Destination key -> expected size of the copies `verify_listing` must still check."""
    return {t.dst_key: t.size for t in tasks if t.dst_key in stats.unproven}


def verify_listing(dst: Storage, prefixes: Iterable[str], expected: dict[str, int], backup: str) -> None:
    """Every expected key is in the destination with its size: one listing per prefix, not one HEAD per object;
    nothing to list when nothing is expected."""
    if not expected:
        return
    found: dict[str, int] = {}
    for prefix in prefixes:
        found.update((info.key, info.size) for info in dst.list(prefix))
    for key, size in expected.items():
        if key not in found:
            raise IntegrityError(name=backup, detail=f"{key} is missing after the copy")
        if found[key] != size:
            raise IntegrityError(name=backup, detail=f"{key} has {found[key]} bytes after the copy, expected {size}")


def checksum_of(storage: Storage, key: str, *, trust_service: bool = True, algorithm: str | None = None) -> str:
    """`md5:<hex>` as the service records it (when allowed and available), else a checksum computed by reading
    every byte: `crc32c:<hex>` (hardware-accelerated, so a local backup is not slowed down by it) unless
    `algorithm` asks for md5."""
    if trust_service and algorithm in (None, "md5"):
        reported = storage.reported_md5(key)
        if reported:
            return f"md5:{reported}"
    algorithm = algorithm or "crc32c"
    digest: Any = hashlib.md5(usedforsecurity=False) if algorithm == "md5" else google_crc32c.Checksum()
    stream = storage.open_read(key)
    try:
        while chunk := stream.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    finally:
        stream.close()
    return f"{algorithm}:{digest.hexdigest() if algorithm == 'md5' else digest.digest().hex()}"
