"""A backup name is claimed before anything is written under it, and held while the backup is written.

The claim is an object, `<name>/create.lock`, created with the storage's conditional create, so of two runs
of one name (two commands, a command and a REST job, two servers) exactly one gets it. It names its holder and
carries a lease that the holder renews; a lock whose lease has run out was left by a run that was killed, and
its folder is an incomplete backup (`delete` removes it). Delete refuses a backup whose lock is held.
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

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0


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
    if not target.storage.put_if_absent(key, _encode(me)):
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
        with contextlib.suppress(BackupToolError):
            current = holder(target, name)
            if current is not None and current.owner == me.owner:
                target.storage.delete(key)


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
