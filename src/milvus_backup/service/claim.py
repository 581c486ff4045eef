"""A backup name is claimed before anything is written under it, and held while the backup is written.

The claim is an object, `<name>/create.lock`, created with the storage's conditional create, so of two runs
of one name (two commands, a command and a REST job, two servers) exactly one gets it. It names its holder and
carries a lease that the holder renews; a lock whose lease has run out was left by a run that was killed, and
its folder is an incomplete backup (`delete` removes it). Delete refuses a backup whose lock is held.

Where the storage has no conditional create (an S3-compatible service that refuses or ignores `If-None-Match`),
the lock is claimed as a lease: a run that finds no lock writes its own, waits `SETTLE_SECONDS`, and holds the
name if the lock still names it; of runs that wrote at about the same time, the last write wins and the others
see it and give up. That holds as long as each run writes within `SETTLE_SECONDS / 2` of finding no lock, which
the run checks (a slower one gives up too), on a service that reads its own writes (S3 does).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from milvus_backup.errors import BackupExistsError, BackupToolError, JobConflictError, ObjectNotFoundError
from milvus_backup.meta import layout
from milvus_backup.service.resources import StorageLocation
from milvus_backup.storage.base import NoConditionalWrites

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
#: How long a lease claim waits after writing its lock before it reads whose lock is there; its look and its write
#: must take half of it at most (SeaweedFS took a second for the first writes into a new folder at once).
SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class Holder:
    owner: str
    host: str
    pid: int
    since: float
    expires: float

    @property
    def alive(self) -> bool:
        """Its lease runs, and, on this host, its process too (a killed create lets go at once, not at the end
        of its lease)."""
        if self.expires <= time.time():
            return False
        return self.host != socket.gethostname() or process_exists(self.pid)

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.since, tz=timezone.utc).isoformat(timespec="seconds")
        return f"pid {self.pid} on {self.host}, since {since}"


def lock_key(target: StorageLocation, name: str) -> str:
    return layout.lock_key(target.root, name)


def holder(target: StorageLocation, name: str) -> Holder | None:
    """Who holds the name, if anyone; an unreadable lock counts as held by nobody alive."""
    try:
        raw = target.storage.get(lock_key(target, name))
    except ObjectNotFoundError:
        return None
    try:
        return Holder(**json.loads(raw))
    except (ValueError, TypeError):
        return Holder(owner="?", host="?", pid=0, since=0.0, expires=0.0)


def refuse_if_held(target: StorageLocation, name: str) -> None:
    held = holder(target, name)
    if held is not None and held.alive:
        raise JobConflictError(
            detail=f"backup {name!r} is being created ({held.describe()})",
            hint="Wait for that create to end, or cancel it.",
        )


@contextlib.contextmanager
def claimed(target: StorageLocation, name: str, lease_seconds: float = LEASE_SECONDS) -> Iterator[Holder]:
    """Hold the name for the duration: raises JobConflictError when a live run holds it, BackupExistsError when a
    run that was cut off left it (its folder is incomplete). The lock is removed on leaving, if it is still ours
    (a failed create removes everything else in its folder while it still holds the name)."""
    now = time.time()
    me = Holder(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now + lease_seconds)
    key = lock_key(target, name)
    if not _create_lock(target, name, me):
        refuse_if_held(target, name)
        held = holder(target, name)
        raise BackupExistsError(
            name=name,
            location=target.describe(),
            hint="A create of this name was cut off"
            + (f" ({held.describe()})" if held is not None else "")
            + ": its folder is incomplete. Delete it with `milvus-backup delete -n NAME`, then create it again.",
        )
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_seconds / 3):
            renewed = Holder(me.owner, me.host, me.pid, me.since, time.time() + lease_seconds)
            try:
                target.storage.put(key, _encode(renewed))
            except BackupToolError as exc:  # the next renewal may work; the lease still runs meanwhile
                logger.warning("renewing the claim on backup %s failed: %s", name, exc)

    renewer = threading.Thread(target=renew, name=f"claim-{name}", daemon=True)
    renewer.start()
    try:
        yield me
    finally:
        stop.set()
        renewer.join()
        _let_go(target, name, me)


def _create_lock(target: StorageLocation, name: str, me: Holder) -> bool:
    """True when `me` now holds the lock: by the storage's conditional create, else by a settled lease."""
    try:
        return target.storage.put_if_absent(lock_key(target, name), _encode(me))
    except NoConditionalWrites:
        return _lease(target, name, me, SETTLE_SECONDS)


def _lease(target: StorageLocation, name: str, me: Holder, settle: float) -> bool:
    """False when a lock is there already (the caller tells a live holder from a stale one); JobConflictError
    when another run claimed the name at the same time, or this one could not be sure it did not."""
    looked = time.monotonic()  # before the look: the bound is on the look's request and the write's, together
    if holder(target, name) is not None:
        return False
    target.storage.put(lock_key(target, name), _encode(me))
    if time.monotonic() - looked > settle / 2:
        # Another run may have found no lock too, and have settled on its own before this write: do not stay.
        _let_go(target, name, me)
        raise JobConflictError(
            detail=f"claiming backup {name!r} took too long to be sure no other create claimed it at once "
            f"(the storage has no conditional create, and answered slower than {settle / 2:.1f} s)",
            hint="Run the create again.",
        )
    time.sleep(settle)
    current = holder(target, name)
    if current is None or current.owner != me.owner:
        raise JobConflictError(
            detail=f"another create claimed backup {name!r} at the same time"
            + (f" ({current.describe()})" if current is not None else ""),
            hint="Wait for that create to end, or cancel it.",
        )
    return True


def _let_go(target: StorageLocation, name: str, me: Holder) -> None:
    with contextlib.suppress(BackupToolError):
        current = holder(target, name)
        if current is not None and current.owner == me.owner:
            target.storage.delete(lock_key(target, name))


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _encode(held: Holder) -> bytes:
    return json.dumps(asdict(held)).encode()
