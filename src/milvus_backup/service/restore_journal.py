"""A restore leaves a journal in the backup's folder while it runs: the collections it is restoring, who runs it,
since when. A restore that succeeds, or fails and drops what it created, removes its journal; one that is killed,
or keeps what it restored after a failure (`--keep-partial`), leaves it behind. The next restore of that backup
into those collections reads it and says that they were left incomplete (docs/format.md)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from milvus_backup.errors import BackupToolError
from milvus_backup.meta import layout
from milvus_backup.service.claim import process_exists
from milvus_backup.service.resources import StorageLocation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Journal:
    restore_id: str
    backup: str
    #: `db.collection` of every collection the restore creates or fills.
    targets: list[str]
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)
    #: "running" while it runs; "kept" once it failed and kept what it had restored.
    state: str = "running"

    @property
    def running(self) -> bool:
        """Still running, as far as this host can tell (a journal of another host counts as running)."""
        return self.state == "running" and (self.host != socket.gethostname() or process_exists(self.pid))

    @property
    def surely_running(self) -> bool:
        """Running in a process of this host."""
        return self.state == "running" and self.host == socket.gethostname() and process_exists(self.pid)

    def describe(self) -> str:
        started = datetime.fromtimestamp(self.started, tz=timezone.utc).isoformat(timespec="seconds")
        how = "kept after it failed (--keep-partial)" if self.state == "kept" else "cut off"
        if self.state == "running" and self.running:
            how = "still running, or cut off on another host"
        return f"restore {self.restore_id} of backup {self.backup} (pid {self.pid} on {self.host}, {started}, {how})"


def key(target: StorageLocation, journal: Journal) -> str:
    return layout.restore_journal_key(target.root, journal.backup, journal.restore_id)


def write(target: StorageLocation, journal: Journal) -> None:
    target.storage.put(key(target, journal), json.dumps(asdict(journal)).encode())


def remove(target: StorageLocation, journal: Journal) -> None:
    """Best effort: a journal left behind only makes the next restore say more than it needs to."""
    with contextlib.suppress(BackupToolError):
        target.storage.delete(key(target, journal))


def left_by_earlier_restores(target: StorageLocation, name: str) -> list[Journal]:
    """The journals of the backup's earlier restores (unreadable ones are skipped)."""
    journals = []
    for info in target.storage.list(layout.restore_journals_prefix(target.root, name)):
        try:
            journals.append(Journal(**json.loads(target.storage.get(info.key))))
        except (ValueError, TypeError, BackupToolError) as exc:
            logger.warning("restore journal %s is unreadable: %s", info.key, exc)
    return journals


def what_was_left(journals: list[Journal], target: str) -> Journal | None:
    """The latest journal naming `target` (`db.collection`)."""
    naming = [j for j in journals if target in j.targets]
    return max(naming, key=lambda j: j.started) if naming else None
