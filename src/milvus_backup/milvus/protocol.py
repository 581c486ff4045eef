"""What the service needs of Milvus, in our own types: `MilvusConnection` implements it over gRPC, and the tests'
fake Milvus implements it in memory. Nothing here imports pymilvus, so the service and its tests load without it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from milvus_backup.meta.model import CollectionSchema, IndexInfo, KeyValue

#: The oldest Milvus this tool works with: 2.2.9 brought the Connect call every client of pymilvus 3 makes, and
#: databases, JSON, dynamic fields and partition keys.
OLDEST_SUPPORTED = (2, 2, 9)


def parse_version(text: str) -> tuple[int, int, int]:
    """'v2.3.5-lite' -> (2, 3, 5); anything unreadable is taken as new (99, 0, 0), as upstream does."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return (99, 0, 0)
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


@dataclass(frozen=True)
class CollectionDescription:
    collection_id: int
    db_name: str
    name: str
    schema: CollectionSchema
    shards_num: int
    consistency_level: int
    properties: list[KeyValue]
    created_timestamp: int
    virtual_channel_names: list[str]
    physical_channel_names: list[str]
    aliases: list[str]


@dataclass(frozen=True)
class Partition:
    partition_id: int
    name: str


@dataclass(frozen=True)
class Segment:
    segment_id: int
    collection_id: int
    partition_id: int
    num_rows: int
    state: str
    is_l0: bool
    storage_version: int
    channel: str = ""


@dataclass(frozen=True)
class FlushResult:
    segment_ids: list[int] = field(default_factory=list)
    flush_ts: int = 0
    seal_time: int = 0


@dataclass(frozen=True)
class ImportOutcome:
    task_id: int
    completed: bool
    row_count: int
    reason: str


@dataclass(frozen=True)
class RbacRestored:
    roles: int = 0
    grants: int = 0
    bindings: int = 0
    #: Users of the backup the target lacks, not created: Milvus before 2.4.10 takes no stored credential.
    users_not_created: list[str] = field(default_factory=list)
    #: Users created with the credential the backup holds (RestoreRBAC, Milvus >= 2.4.10).
    users: int = 0


class MilvusClient(Protocol):
    """One Milvus proxy. Every call is one request (or a few): waiting for a flush, an import or a load is the
    caller's loop, so the caller decides how long to wait and when to give up."""

    @property
    def address(self) -> str: ...

    @property
    def server_version(self) -> str: ...

    def close(self) -> None: ...

    # -- reading ------------------------------------------------------------------------------------
    def list_databases(self) -> list[str]: ...

    def list_collections(self, db: str) -> list[str]: ...

    def has_collection(self, db: str, name: str) -> bool: ...

    def describe_collection(self, db: str, name: str) -> CollectionDescription: ...

    def list_partitions(self, db: str, collection: str) -> list[Partition]: ...

    def describe_indexes(self, db: str, collection: str) -> list[IndexInfo]: ...

    def load_state(self, db: str, collection: str) -> str: ...

    def describe_database(self, db: str) -> tuple[int, list[KeyValue]]: ...

    def rbac_meta(self) -> dict[str, Any]: ...

    def persistent_segments(self, db: str, collection: str) -> list[Segment]: ...

    def flush(self, db: str, collection: str) -> FlushResult:
        """Seal the collection's growing segments; `flushed` tells when they are persisted."""
        ...

    def flushed(self, db: str, collection: str, flush: FlushResult) -> bool: ...

    def timestamp(self) -> int:
        """A hybrid timestamp from Milvus's own clock (its TSO)."""
        ...

    def all_written_up_to(self, ts: int) -> bool:
        """Whether every channel's checkpoint has passed `ts` (GetFlushAllState): nothing before `ts`, inserts or
        deletes, is still held in a DataNode's memory."""
        ...

    # -- writing ------------------------------------------------------------------------------------
    def create_database(self, db: str, properties: list[KeyValue]) -> None: ...

    def drop_collection(self, db: str, name: str) -> None: ...

    def create_collection(
        self,
        db: str,
        name: str,
        schema: CollectionSchema,
        *,
        shards_num: int,
        consistency_level: int,
        num_partitions: int,
        properties: list[KeyValue],
    ) -> None: ...

    def alter_collection_properties(self, db: str, name: str, properties: list[KeyValue]) -> None:
        """Set these properties of the collection (others stay as they are)."""
        ...

    def create_partition(self, db: str, collection: str, partition: str) -> None: ...

    def drop_index(self, db: str, collection: str, index: IndexInfo) -> None: ...

    def create_index(self, db: str, collection: str, field: str, index_name: str, params: dict[str, str]) -> None: ...

    def create_alias(self, db: str, collection: str, alias: str) -> None: ...

    def start_import(
        self, db: str, collection: str, partition: str, files: list[str], options: dict[str, str]
    ) -> list[int]: ...

    def import_state(self, task: int) -> ImportOutcome | None:
        """The outcome of an import task once it has ended; None while it runs."""
        ...

    def row_count(self, db: str, collection: str) -> int: ...

    def load_collection(self, db: str, collection: str) -> None: ...

    def loading_progress(self, db: str, collection: str) -> int: ...

    def restore_rbac(self, meta: dict[str, Any]) -> RbacRestored: ...


class GcUnsupported(Exception):
    """This way of pausing GC does not exist on this Milvus (or is not configured)."""


class GcControl(Protocol):
    """One way to pause Milvus's garbage collection (the management API, DataCoord's GcControl)."""

    name: str

    def pause(self, seconds: int) -> None: ...

    def resume(self) -> None: ...
