"""What a command works with, opened once by the wiring and handed to the service: the backup storage, the
Milvus side (a connection, its storage, its GC controls) and the settings taken from the configuration. The
service never sees the configuration itself, so tests can hand it fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from milvus_backup.meta.layout import join
from milvus_backup.milvus.protocol import GcControl, MilvusClient
from milvus_backup.storage.base import Storage
from milvus_backup.storage.transfer import TransferMode

if TYPE_CHECKING:
    from milvus_backup.meta.model import BackupInfo
    from milvus_backup.service.row_source import RowSource


@dataclass(frozen=True)
class StorageLocation:
    """A storage and the key prefix the tool works under in it (`files/`, `backup/`, or '')."""

    storage: Storage
    root: str
    #: Keys whose bytes lie under another key: the objects an incremental backup references in other backups'
    #: folders (`service/references.redirected`), for readers that read a backup object by object.
    redirects: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def key(self, *parts: str) -> str:
        return join(self.root, *parts)

    def source_key(self, key: str) -> str:
        """The key that holds the bytes of `key`."""
        return self.redirects.get(key, key)

    def describe(self) -> str:
        return f"{self.storage.location}/{self.root}".rstrip("/")


@dataclass(frozen=True)
class Settings:
    """The configuration's values the service uses (defaults as in configs/backup.yaml)."""

    transfer_mode: TransferMode = "auto"
    #: Objects copied at once (transfer.concurrency).
    copy_concurrency: int = 128
    #: Collections flushed and described at once during a backup (backup.concurrency.collections).
    backup_collections: int = 4
    #: Collections restored at once (restore.concurrency.collections).
    restore_collections: int = 2
    #: Import jobs running at once (restore.concurrency.importJobs).
    import_jobs: int = 768
    pause_gc: bool = True
    keep_temp_files: bool = False
    #: How long a backup of Milvus before 2.3 waits for the deletes it holds in memory (backup.unflushedDeletesWait).
    unflushed_deletes_wait: float = 720.0


@dataclass
class MilvusSide:
    """The Milvus a backup reads from or a restore writes to, and the storage holding its binlogs."""

    client: MilvusClient
    storage: StorageLocation
    #: The path of Milvus's local storage directory as the Milvus process sees it (milvus.storage.localPath), when
    #: it differs from ours (a container mount); "" when it is the same.
    local_path_seen_by_milvus: str = ""
    #: The ways to pause Milvus's GC, tried in order.
    gc_controls: list[GcControl] = field(default_factory=list)


@dataclass
class Resources:
    backup: StorageLocation
    settings: Settings = field(default_factory=Settings)
    #: None for the commands that need only the backup storage (list, get, delete, verify).
    milvus: MilvusSide | None = None
    #: Reads a backup's binlogs as rows (the proof at create, a restore through inserts); None: the binlog
    #: reader. Tests whose fake Milvus writes fake binlogs give their own.
    rows: Callable[[StorageLocation, BackupInfo], RowSource] | None = None

    def row_source(self) -> Callable[[StorageLocation, BackupInfo], RowSource]:
        if self.rows is not None:
            return self.rows
        from milvus_backup.service.backup_rows import BinlogRows

        return BinlogRows

    def need_milvus(self) -> MilvusSide:
        if self.milvus is None:
            raise RuntimeError("this command was wired without Milvus")  # a wiring bug, not a user error
        return self.milvus
