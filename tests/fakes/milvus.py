"""`FakeMilvus`: the whole `MilvusClient` protocol in memory, its segments real binlog objects in a storage.

What it keeps:

* databases, collections (schema, partitions, indexes, aliases, load state, properties), as Milvus answers them;
* segments written by `insert` as binlog objects laid out as Milvus lays them out,
  `<root>insert_log/<collection>/<partition>/<segment>/<field>/<log>` (one object per field, sizes as the field
  types make them) and `<root>delta_log/<collection>/<partition>/<segment>/<log>`, so the service's own listing
  (`describe_segments`) finds them; `persistent_segments` reports them.

Imports: `start_import` lists the folders it is given in the fake's storage (absolute paths, which a Milvus on
local storage imports, are listed on the local file system) and counts the rows of the segments found there
from a registry filled by `insert`: segment id -> rows (and deleted rows). Segment ids are unique in the process
and the registry is shared by every fake, so a backup made from one fake imports into another. The imported
rows count toward `row_count` once `import_state` has reported the import done (the data itself is not
re-written as segments of the target).

Newer Milvus, by `version` (each modelled from the source named where it is done): L0 segments (`insert_l0`:
delta logs only, partition -1 for the whole collection) and `l0_import` imports, refused into a loaded
collection, and a backup import without a partition refused (internal/proxy/task_import.go); RestoreRBAC
creating users with their stored credential from 2.4.10 (milvus#35444); DescribeDatabase from 2.4.3 (before:
id 0, no properties).

Test knobs (attributes, change them at any time):

* `flush_polls`: how many `flushed` calls answer False after a `flush`;
* `import_polls`: how many `import_state` calls answer None before the outcome;
* `import_seconds`: and for at least how long after `start_import` they answer None;
* `import_fault(db, collection, partition)`: "fail" (the import ends failed), "zero" (it completes with 0 rows)
  or None;
* `import_call_seconds`: how long each `start_import` / `import_state` call takes;
* `on_call(method, args)`: run at the start of every protocol call (after it is counted); it may raise, sleep or
  cancel a run;
* `count_offset`: rows `count_rows` sees beyond those of the segments (rows deleted but not yet in a delta log
  count negative).

`count_rows` answers for a loaded collection on a version >= 2.3 only (as Milvus). `insert_rows` keeps every
batch in `inserted_batches` and counts its rows toward `row_count`.

Instrumentation: `calls` (a Counter of method names), `max_import_threads` (distinct threads inside
`start_import`/`import_state` at once: a thread makes one call at a time, so also the most import calls at
once), `max_imports_in_flight` (imports started and not yet reported done at
once), `max_active_threads` (`threading.active_count()` sampled in every call), `imports` (every import
started).
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from milvus_backup.errors import CollectionNotFoundError, DatabaseNotFoundError, MilvusError
from milvus_backup.meta.layout import join
from milvus_backup.meta.model import CollectionSchema, FieldSchema, IndexInfo, KeyValue
from milvus_backup.milvus.protocol import (
    CollectionDescription,
    FlushResult,
    GcControl,
    ImportOutcome,
    Partition,
    RbacRestored,
    RowBatch,
    Segment,
)
from milvus_backup.service.compat import parse_version
from milvus_backup.service.resources import MilvusSide, StorageLocation
from milvus_backup.storage.base import ObjectInfo, Storage
from milvus_backup.storage.local import LocalStorage

# schemapb.DataType codes used by `schema` and the binlog sizes.
INT64, VARCHAR, FLOAT_VECTOR = 5, 21, 101
_BYTES_PER_VALUE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 10: 4, 11: 8, 21: 24, 23: 64}
#: Milvus writes binlogs for these system fields too (RowID, Timestamp).
SYSTEM_FIELDS = (0, 1)

#: Ids of every collection, partition, segment, log and import task of every fake: unique in the process.
_ids = itertools.count(449_000_000_000_000_000)
#: segment id -> (rows, deleted rows), filled by `insert` of every fake.
_SEGMENT_ROWS: dict[int, tuple[int, int]] = {}
#: L0 segment id -> rows it deletes, filled by `insert_l0` of every fake.
_L0_DELETES: dict[int, int] = {}

F = TypeVar("F", bound=Callable[..., Any])


def know_segments(rows: dict[int, int], l0_deletes: dict[int, int]) -> None:
    """Registers segments no fake wrote (a hand-built backup's): segment id -> rows, L0 segment id -> rows it
    deletes, so that imports of them count as imports of `insert`'s segments do."""
    _SEGMENT_ROWS.update((seg, (n, 0)) for seg, n in rows.items())
    _L0_DELETES.update(l0_deletes)


def schema(name: str = "", *, dim: int = 8, varchar: bool = False, partition_key: bool = False) -> CollectionSchema:
    """An Int64 primary key `id`, a FloatVector `vec` of `dim`, and optionally a VarChar `text` (the partition
    key with `partition_key`)."""
    fields = [
        FieldSchema(field_id=100, name="id", is_primary_key=True, data_type=INT64),
        FieldSchema(field_id=101, name="vec", data_type=FLOAT_VECTOR, type_params=[KeyValue("dim", str(dim))]),
    ]
    if varchar or partition_key:
        fields.append(
            FieldSchema(
                field_id=102,
                name="text",
                data_type=VARCHAR,
                is_partition_key=partition_key,
                type_params=[KeyValue("max_length", "256")],
            )
        )
    return CollectionSchema(name=name, fields=fields)


#: Bytes per vector dimension: BinaryVector, FloatVector, Float16Vector, BFloat16Vector, Int8Vector
#: (schemapb.DataType 100-103, 105); a sparse vector (104) has no dimension and is sized as a few pairs.
_BYTES_PER_DIM = {100: 1 / 8, 101: 4, 102: 2, 103: 2, 105: 1}


def _value_bytes(f: FieldSchema) -> int:
    if f.data_type in _BYTES_PER_DIM:
        return max(1, int(_BYTES_PER_DIM[f.data_type] * int(f.type_param("dim") or 8)))
    return _BYTES_PER_VALUE.get(f.data_type, 8)


@dataclass
class _Collection:
    id: int
    db: str
    name: str
    schema: CollectionSchema
    shards_num: int = 1
    consistency_level: int = 0
    properties: list[KeyValue] = field(default_factory=list)
    partitions: dict[str, int] = field(default_factory=dict)  # name -> id
    indexes: list[IndexInfo] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    loaded: bool = False
    segments: list[Segment] = field(default_factory=list)
    imported_rows: int = 0
    created_timestamp: int = 0


@dataclass
class _Database:
    id: int
    properties: list[KeyValue] = field(default_factory=list)
    collections: dict[str, _Collection] = field(default_factory=dict)


@dataclass
class ImportTask:
    id: int
    db: str
    collection: str
    partition: str
    files: list[str]
    rows: int
    fault: str | None
    polls_left: int
    ends_at: float
    done: bool = False
    options: dict[str, str] = field(default_factory=dict)
    #: Rows an L0 import deletes once done.
    deletes: int = 0


def _call(method: F) -> F:
    """Counts the call, samples the thread count, tracks import calls, runs `on_call`."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: FakeMilvus, *args: Any, **kwargs: Any) -> Any:
        self._enter(name)
        try:
            if self.on_call is not None:
                self.on_call(name, args)
            if name in FakeMilvus.IMPORT_CALLS and self.import_call_seconds:
                time.sleep(self.import_call_seconds)
            return method(self, *args, **kwargs)
        finally:
            self._leave(name)

    return wrapper  # type: ignore[return-value]


class FakeMilvus:
    IMPORT_CALLS = ("start_import", "import_state")

    def __init__(
        self,
        storage: Storage,
        root: str = "files/",
        *,
        version: str = "v2.3.5",
        address: str = "fake-milvus:19530",
        system_fields: bool = True,
    ) -> None:
        self.storage = storage
        self.root = root
        self.version = version
        self._address = address
        #: Write binlogs for RowID and Timestamp as Milvus does.
        self.system_fields = system_fields
        self.rbac: dict[str, Any] = {"users": [], "roles": [], "grants": []}
        self._dbs: dict[str, _Database] = {"default": _Database(next(_ids))}
        self._lock = threading.RLock()
        self._flush_polls_left: dict[tuple[str, str], int] = {}
        self.tasks: dict[int, ImportTask] = {}
        # knobs
        self.flush_polls = 0
        self.import_polls = 1
        self.import_seconds = 0.0
        self.import_fault: Callable[[str, str, str], str | None] | None = None
        self.import_call_seconds = 0.0
        #: Milvus 2.2: how many GetFlushAllState polls answer "deletes still in memory" (None: forever).
        self.held_deletes_polls: int | None = 0
        self.on_call: Callable[[str, tuple[Any, ...]], None] | None = None
        self.count_offset = 0
        #: (db, collection, partition, batch) of every insert_rows.
        self.inserted_batches: list[tuple[str, str, str, RowBatch]] = []
        # instrumentation
        self.calls: Counter[str] = Counter()
        #: (db, collection, properties) of every `alter_collection_properties`.
        self.property_changes: list[tuple[str, str, list[KeyValue]]] = []
        self.max_import_threads = 0
        self.max_imports_in_flight = 0
        self.max_active_threads = 0
        self._import_threads: Counter[int] = Counter()
        self._in_flight = 0

    # -- wiring and set-up (not part of the protocol) ------------------------------------------------
    def side(self, gc_controls: list[GcControl] | None = None) -> MilvusSide:
        """This Milvus as the service's Milvus side."""
        return MilvusSide(self, StorageLocation(self.storage, self.root), gc_controls=list(gc_controls or []))

    def set_database_properties(self, db: str, properties: dict[str, str]) -> None:
        """What `AlterDatabase` does (Milvus >= 2.4): the database's properties, shown by DescribeDatabase."""
        with self._lock:
            self._db(db).properties = [KeyValue(k, v) for k, v in properties.items()]

    def database_properties(self, db: str) -> dict[str, str]:
        with self._lock:
            return {kv.key: kv.value for kv in self._db(db).properties}

    def add_collection(
        self,
        db: str,
        name: str,
        coll_schema: CollectionSchema | None = None,
        *,
        partitions: tuple[str, ...] = (),
        indexes: tuple[tuple[str, str], ...] = (),
        aliases: tuple[str, ...] = (),
        loaded: bool = False,
        num_partitions: int = 4,
    ) -> int:
        """A collection (its database too) with extra `partitions`, `indexes` as (field, index type), `aliases`;
        returns its id."""
        if db not in self._dbs:
            self.create_database(db, [])
        self.create_collection(
            db,
            name,
            coll_schema or schema(name),
            shards_num=1,
            consistency_level=2,
            num_partitions=num_partitions,
            properties=[KeyValue("collection.ttl.seconds", "0")],
        )
        for partition in partitions:
            self.create_partition(db, name, partition)
        for field_name, index_type in indexes:
            params = (
                {"index_type": index_type, "metric_type": "L2", "M": "8"}
                if index_type != "STL_SORT"
                else {"index_type": index_type}
            )
            self.create_index(db, name, field_name, f"{field_name}_idx", params)
        for alias in aliases:
            self.create_alias(db, name, alias)
        if loaded:
            self.load_collection(db, name)
        return self._collection(db, name).id

    def insert(
        self,
        db: str,
        collection: str,
        partition: str = "_default",
        rows: int = 100,
        *,
        segments: int = 1,
        deletes: int = 0,
        reinserted: int = 0,
        channel: str = "",
        storage_version: int = 0,
    ) -> list[int]:
        """`segments` flushed segments of `rows` rows each into `partition`: one binlog object per field (and
        system field) per segment, and with `deletes` a delta log deleting that many of each segment's rows, of
        whose keys `reinserted` were inserted again after (`FakeRows.reinserted` counts them). Returns the
        segment ids."""
        coll = self._collection(db, collection)
        part_id = coll.partitions[partition]
        fields = list(SYSTEM_FIELDS if self.system_fields else ()) + [f.field_id for f in coll.schema.fields]
        widths = {f.field_id: _value_bytes(f) for f in coll.schema.fields}
        contents = {fid: _content(fid, rows, widths.get(fid, 8)) for fid in fields}
        delta = _content(-1, deletes, 16, f" reinserted={reinserted}" if reinserted else "") if deletes else b""
        ids = []
        for _ in range(segments):
            seg_id = next(_ids)
            for fid in fields:
                self.storage.put(
                    join(self.root, "insert_log", str(coll.id), str(part_id), str(seg_id), str(fid), str(next(_ids))),
                    contents[fid],
                )
            if deletes:
                self.storage.put(
                    join(self.root, "delta_log", str(coll.id), str(part_id), str(seg_id), str(next(_ids))), delta
                )
            _SEGMENT_ROWS[seg_id] = (rows, deletes)
            ids.append(seg_id)
            with self._lock:
                coll.segments.append(
                    Segment(
                        seg_id,
                        coll.id,
                        part_id,
                        rows,
                        "Flushed",
                        is_l0=False,
                        storage_version=storage_version,
                        channel=channel or coll.name + "_dml_0",
                    )
                )
        return ids

    def insert_l0(self, db: str, collection: str, partition: str | None = None, *, deletes: int = 10) -> int:
        """An L0 segment (Milvus >= 2.4): a delta log only, deleting `deletes` rows of `partition`'s segments, or
        with no partition of the whole collection's (partition id -1, as GetPersistentSegmentInfo reports a
        channel-level L0 segment). Returns its id."""
        coll = self._collection(db, collection)
        part_id = -1 if partition is None else coll.partitions[partition]
        seg_id = next(_ids)
        self.storage.put(
            join(self.root, "delta_log", str(coll.id), str(part_id), str(seg_id), str(next(_ids))),
            _content(-1, deletes, 16),
        )
        _L0_DELETES[seg_id] = deletes
        with self._lock:
            coll.segments.append(
                Segment(seg_id, coll.id, part_id, deletes, "Flushed", is_l0=True, storage_version=0, channel="")
            )
        return seg_id

    def compact(self, db: str, collection: str, partition: str = "_default") -> int:
        """Merge the partition's segments into one new segment (a new id, new binlogs, the deleted rows dropped),
        as Milvus's compaction does; the old segments are no longer reported. Returns the new segment's id."""
        coll = self._collection(db, collection)
        part_id = coll.partitions[partition]
        with self._lock:
            merged = [s for s in coll.segments if s.partition_id == part_id]
            coll.segments = [s for s in coll.segments if s.partition_id != part_id]
        live = sum(s.num_rows - _SEGMENT_ROWS.get(s.segment_id, (0, 0))[1] for s in merged)
        return self.insert(db, collection, partition, rows=live)[0]

    def delete_rows(self, db: str, collection: str, segment_id: int, rows: int) -> None:
        """A new delta log deleting `rows` more rows of a flushed segment."""
        coll = self._collection(db, collection)
        seg = next(s for s in coll.segments if s.segment_id == segment_id)
        self.storage.put(
            join(self.root, "delta_log", str(coll.id), str(seg.partition_id), str(segment_id), str(next(_ids))),
            _content(-1, rows, 16),
        )
        total, deleted = _SEGMENT_ROWS[segment_id]
        _SEGMENT_ROWS[segment_id] = (total, deleted + rows)

    def collection_id(self, db: str, name: str) -> int:
        return self._collection(db, name).id

    def inserted_rows(self, db: str, name: str) -> int:
        """Rows of the collection's segments written by `insert`, deleted ones (also by L0 segments) left out."""
        coll = self._collection(db, name)
        rows = sum(s.num_rows - _SEGMENT_ROWS.get(s.segment_id, (0, 0))[1] for s in coll.segments if not s.is_l0)
        return rows - sum(_L0_DELETES.get(s.segment_id, 0) for s in coll.segments if s.is_l0)

    # -- instrumentation -----------------------------------------------------------------------------
    def _enter(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
            self.max_active_threads = max(self.max_active_threads, threading.active_count())
            if name in self.IMPORT_CALLS:
                self._import_threads[threading.get_ident()] += 1
                self.max_import_threads = max(self.max_import_threads, len(self._import_threads))

    def _leave(self, name: str) -> None:
        if name in self.IMPORT_CALLS:
            with self._lock:
                me = threading.get_ident()
                self._import_threads[me] -= 1
                if not self._import_threads[me]:
                    del self._import_threads[me]

    # -- helpers -------------------------------------------------------------------------------------
    def _db(self, db: str) -> _Database:
        if db not in self._dbs:
            raise DatabaseNotFoundError(database=db, address=self.address)
        return self._dbs[db]

    def _collection(self, db: str, name: str) -> _Collection:
        coll = self._db(db).collections.get(name)
        if coll is None:
            raise CollectionNotFoundError(collection=name, database=db, address=self.address)
        return coll

    def _fail(self, detail: str) -> MilvusError:
        return MilvusError(address=self.address, detail=detail)

    def _listing(self, path: str) -> Iterator[ObjectInfo]:
        """The objects below an import path: a key of this Milvus's storage, or an absolute local path."""
        if not path:
            return iter(())
        if path.startswith("/"):
            return LocalStorage("/").list(path.lstrip("/"))
        return self.storage.list(path)

    def _rows_in(self, files: list[str]) -> int:
        """Rows of the segments found below the import's insert folder, less the deletes of its delta folder."""
        inserted = {seg for seg in (_segment_of(info.key, 3) for info in self._listing(files[0])) if seg}
        deleted = {
            seg
            for seg in (_segment_of(info.key, 2) for info in self._listing(files[1] if len(files) > 1 else ""))
            if seg
        }
        rows = sum(_SEGMENT_ROWS.get(seg, (0, 0))[0] for seg in inserted)
        return rows - sum(_SEGMENT_ROWS.get(seg, (0, 0))[1] for seg in deleted if seg in inserted)

    def _l0_deletes_in(self, path: str) -> int:
        """Rows deleted by the L0 segments whose delta logs lie below an L0 import's path (Milvus reads every delta
        log below it: internal/util/importutilv2/binlog/l0_reader.go)."""
        segments = {seg for seg in (_segment_of(info.key, 2) for info in self._listing(path)) if seg}
        return sum(_L0_DELETES.get(seg, 0) for seg in segments)

    # -- the protocol: reading -----------------------------------------------------------------------
    @property
    def address(self) -> str:
        return self._address

    @property
    def server_version(self) -> str:
        return self.version

    @_call
    def close(self) -> None:
        pass

    @_call
    def list_databases(self) -> list[str]:
        with self._lock:
            return sorted(self._dbs)

    @_call
    def list_collections(self, db: str) -> list[str]:
        with self._lock:
            return sorted(self._db(db).collections)

    @_call
    def has_collection(self, db: str, name: str) -> bool:
        with self._lock:
            return name in self._db(db).collections

    @_call
    def describe_collection(self, db: str, name: str) -> CollectionDescription:
        with self._lock:
            c = self._collection(db, name)
            return CollectionDescription(
                collection_id=c.id,
                db_name=db,
                name=name,
                schema=copy.deepcopy(c.schema),
                shards_num=c.shards_num,
                consistency_level=c.consistency_level,
                properties=copy.deepcopy(c.properties),
                created_timestamp=c.created_timestamp,
                virtual_channel_names=[f"by-dev-rootcoord-dml_{i}_{c.id}v{i}" for i in range(c.shards_num)],
                physical_channel_names=[f"by-dev-rootcoord-dml_{i}" for i in range(c.shards_num)],
                aliases=sorted(c.aliases),
            )

    @_call
    def list_partitions(self, db: str, collection: str) -> list[Partition]:
        with self._lock:
            return [Partition(pid, name) for name, pid in self._collection(db, collection).partitions.items()]

    @_call
    def describe_indexes(self, db: str, collection: str) -> list[IndexInfo]:
        with self._lock:
            return [replace(i, params=dict(i.params)) for i in self._collection(db, collection).indexes]

    @_call
    def load_state(self, db: str, collection: str) -> str:
        with self._lock:
            return "Loaded" if self._collection(db, collection).loaded else "NotLoad"

    @_call
    def describe_database(self, db: str) -> tuple[int, list[KeyValue]]:
        with self._lock:
            d = self._db(db)
            if parse_version(self.version) < (2, 4, 3):  # no DescribeDatabase before 2.4.3 (upstream's table)
                return 0, []
            return d.id, copy.deepcopy(d.properties)

    @_call
    def rbac_meta(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.rbac)

    @_call
    def persistent_segments(self, db: str, collection: str) -> list[Segment]:
        with self._lock:
            return list(self._collection(db, collection).segments)

    @_call
    def flush(self, db: str, collection: str) -> FlushResult:
        with self._lock:
            coll = self._collection(db, collection)
            self._flush_polls_left[(db, collection)] = self.flush_polls
            now_ms = int(time.time() * 1000)
            return FlushResult([s.segment_id for s in coll.segments], now_ms << 18, now_ms // 1000)

    @_call
    def flushed(self, db: str, collection: str, flush: FlushResult) -> bool:
        with self._lock:
            left = self._flush_polls_left.get((db, collection), 0)
            self._flush_polls_left[(db, collection)] = left - 1
            return left <= 0

    @_call
    def timestamp(self) -> int:
        return int(time.time() * 1000) << 18

    @_call
    def all_written_up_to(self, ts: int) -> bool:
        with self._lock:
            if self.held_deletes_polls is None:
                return False
            self.held_deletes_polls -= 1
            return self.held_deletes_polls < 0

    # -- the protocol: writing -----------------------------------------------------------------------
    @_call
    def create_database(self, db: str, properties: list[KeyValue]) -> None:
        with self._lock:
            if db in self._dbs:
                raise self._fail(f"database {db} already exists")
            self._dbs[db] = _Database(next(_ids), copy.deepcopy(properties))

    @_call
    def drop_collection(self, db: str, name: str) -> None:
        with self._lock:
            self._collection(db, name)
            del self._dbs[db].collections[name]

    @_call
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
    ) -> None:
        with self._lock:
            database = self._db(db)
            if name in database.collections:
                raise self._fail(f"collection {db}.{name} already exists")
            coll = _Collection(
                next(_ids),
                db,
                name,
                copy.deepcopy(schema),
                shards_num,
                consistency_level,
                copy.deepcopy(properties),
                created_timestamp=int(time.time() * 1000) << 18,
            )
            if any(f.is_partition_key for f in schema.fields):
                coll.partitions = {f"_default_{i}": next(_ids) for i in range(num_partitions or 16)}
            else:
                coll.partitions = {"_default": next(_ids)}
            database.collections[name] = coll

    @_call
    def alter_collection_properties(self, db: str, name: str, properties: list[KeyValue]) -> None:
        with self._lock:
            coll = self._collection(db, name)
            changed = {kv.key for kv in properties}
            coll.properties = [kv for kv in coll.properties if kv.key not in changed] + copy.deepcopy(properties)
            self.property_changes.append((db, name, copy.deepcopy(properties)))

    @_call
    def create_partition(self, db: str, collection: str, partition: str) -> None:
        with self._lock:
            coll = self._collection(db, collection)
            if partition in coll.partitions:
                raise self._fail(f"partition {partition} of {db}.{collection} already exists")
            coll.partitions[partition] = next(_ids)

    @_call
    def drop_index(self, db: str, collection: str, index: IndexInfo) -> None:
        with self._lock:
            coll = self._collection(db, collection)
            coll.indexes = [i for i in coll.indexes if i.index_name != index.index_name]

    @_call
    def create_index(self, db: str, collection: str, field: str, index_name: str, params: dict[str, str]) -> None:
        with self._lock:
            coll = self._collection(db, collection)
            if field not in {f.name for f in coll.schema.fields}:
                raise self._fail(f"{db}.{collection} has no field {field}")
            if any(i.index_name == (index_name or field) for i in coll.indexes):
                raise self._fail(f"index {index_name} of {db}.{collection} already exists")
            coll.indexes.append(
                IndexInfo(field, index_name or field, params.get("index_type", ""), dict(params), next(_ids))
            )

    @_call
    def create_alias(self, db: str, collection: str, alias: str) -> None:
        with self._lock:
            coll = self._collection(db, collection)
            for other in self._db(db).collections.values():
                if alias in other.aliases or other.name == alias:
                    raise self._fail(f"alias {alias} already exists (on {db}.{other.name})")
            coll.aliases.append(alias)

    @_call
    def start_import(
        self, db: str, collection: str, partition: str, files: list[str], options: dict[str, str]
    ) -> list[int]:
        # What Milvus's proxy checks (internal/proxy/task_import.go): a backup import names its partition; an L0
        # import names one or none (all partitions) and needs the collection released.
        l0 = options.get("l0_import") == "true"
        with self._lock:
            coll = self._collection(db, collection)
            if options.get("backup") == "true" and not partition:
                raise self._fail("partition not specified")
            if partition and partition not in coll.partitions:
                raise self._fail(f"{db}.{collection} has no partition {partition}")
            if l0 and coll.loaded:
                raise self._fail("for l0 import, collection cannot be loaded, please release it first")
        fault = self.import_fault(db, collection, partition) if self.import_fault is not None else None
        rows = 0 if fault or l0 else self._rows_in(files)
        deletes = 0 if fault or not l0 else self._l0_deletes_in(files[0])
        with self._lock:
            task = ImportTask(
                next(_ids),
                db,
                collection,
                partition,
                list(files),
                rows,
                fault,
                self.import_polls,
                time.monotonic() + self.import_seconds,
                options=dict(options),
                deletes=deletes,
            )
            self.tasks[task.id] = task
            self._in_flight += 1
            self.max_imports_in_flight = max(self.max_imports_in_flight, self._in_flight)
        return [task.id]

    @_call
    def import_state(self, task: int) -> ImportOutcome | None:
        with self._lock:
            t = self.tasks.get(task)
            if t is None:
                raise self._fail(f"no import task {task}")
            if t.polls_left > 0 or time.monotonic() < t.ends_at:
                t.polls_left -= 1
                return None
            if not t.done:
                t.done = True
                self._in_flight -= 1
                if t.fault != "fail" and t.collection in self._dbs[t.db].collections:
                    self._collection(t.db, t.collection).imported_rows += t.rows - t.deletes
            if t.fault == "fail":
                return ImportOutcome(task, False, 0, "injected import failure")
            return ImportOutcome(task, True, t.rows, "")

    @_call
    def row_count(self, db: str, collection: str) -> int:
        with self._lock:
            return self.inserted_rows(db, collection) + self._collection(db, collection).imported_rows

    @_call
    def count_rows(self, db: str, collection: str) -> int:
        with self._lock:
            coll = self._collection(db, collection)
            if not self.version.lstrip("v").startswith(("2.3", "2.4", "2.5", "2.6")):
                raise self._fail(f"count(*) is not supported by Milvus {self.version}")
            if not coll.loaded:
                raise self._fail(f"collection {collection} not loaded")
            return self.inserted_rows(db, collection) + coll.imported_rows + self.count_offset

    @_call
    def insert_rows(self, db: str, collection: str, partition: str, schema: CollectionSchema, batch: RowBatch) -> int:
        with self._lock:
            coll = self._collection(db, collection)
            if partition and partition not in coll.partitions:
                raise self._fail(f"partition {partition} of {collection} not found")
            missing = [f.name for f in schema.fields if f.name not in batch.columns]
            if missing or any(len(v) != batch.num_rows for v in batch.columns.values()):
                raise self._fail(f"insert into {collection}: fields {missing} missing or of the wrong length")
            self.inserted_batches.append((db, collection, partition, batch))
            coll.imported_rows += batch.num_rows
            return batch.num_rows

    @_call
    def load_collection(self, db: str, collection: str) -> None:
        with self._lock:
            self._collection(db, collection).loaded = True

    @_call
    def loading_progress(self, db: str, collection: str) -> int:
        with self._lock:
            return 100 if self._collection(db, collection).loaded else 0

    @_call
    def restore_rbac(self, meta: dict[str, Any]) -> RbacRestored:
        """Users, roles, grants, privilege groups and bindings the fake lacks are added. Missing users are created
        only by a Milvus >= 2.4.10 (RestoreRBAC, milvus#35444) and only with the credential BackupRBAC gave."""
        with self._lock:
            takes_users = parse_version(self.version) >= (2, 4, 10)
            roles = [r for r in meta.get("roles", []) if r not in self.rbac["roles"]]
            grants = [g for g in meta.get("grants", []) if g not in self.rbac["grants"]]
            self.rbac["roles"] += copy.deepcopy(roles)
            self.rbac["grants"] += copy.deepcopy(grants)
            if takes_users:
                groups = self.rbac.setdefault("privilege_groups", [])
                groups += [copy.deepcopy(g) for g in meta.get("privilege_groups", []) if g not in groups]
            users = {u["user"]: u for u in self.rbac["users"]}
            created, bindings, not_created = 0, 0, []
            for user in meta.get("users", []):
                if user["user"] not in users:
                    if takes_users and user.get("password"):
                        self.rbac["users"].append(copy.deepcopy(user))
                        created += 1
                    else:
                        not_created.append(user["user"])
                    continue
                have = users[user["user"]].setdefault("roles", [])
                for role in user.get("roles", []):
                    if role not in have:
                        have.append(copy.deepcopy(role))
                        bindings += 1
            return RbacRestored(len(roles), len(grants), bindings, not_created, created)


def _content(field_id: int, rows: int, width: int, note: str = "") -> bytes:
    """A binlog's bytes: a small header (with a `note`) and `rows` values of `width` bytes (what the size of a real
    one is mostly made of)."""
    header = f"fake binlog field={field_id} rows={rows}{note}\n".encode()
    body = bytes((field_id + i) % 251 for i in range(min(rows * width, 251))) * (rows * width // 251 + 1)
    return header + body[: rows * width]


def _segment_of(key: str, from_end: int) -> int | None:
    """The segment id in a binlog key: `from_end` parts from its end (3 in an insert log, .../<segment>/<field>/
    <log>; 2 in a delta log, .../<segment>/<log>)."""
    parts = key.rsplit("/", from_end)
    return int(parts[1]) if len(parts) > from_end and all(p.isdigit() for p in parts[1:]) else None
