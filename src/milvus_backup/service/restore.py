"""`restore`: recreate each collection from the backed-up schema, import its binlogs with `backup=true`,
check every row count, rebuild indexes, clean up."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

from milvus_backup.errors import (
    BackupToolError,
    CollectionExistsError,
    CollectionNotFoundError,
    IntegrityError,
    JobConflictError,
    MilvusError,
    MilvusUnavailableError,
    UnsupportedFormatError,
    UsageError,
)
from milvus_backup.meta.manifest import Manifest
from milvus_backup.meta.model import BackupInfo, CollectionBackupInfo, KeyValue, SegmentBackupInfo
from milvus_backup.milvus.protocol import ImportOutcome, MilvusClient
from milvus_backup.service import restore_journal
from milvus_backup.service.catalog import read_backup, read_manifest
from milvus_backup.service.compat import VECTOR_TYPES, check_restorable, has, imports_backups, parse_version
from milvus_backup.service.inserts import insert_rows, keyed_schema
from milvus_backup.service.mapping import NameMapping
from milvus_backup.service.references import redirected
from milvus_backup.service.resources import Resources, Settings
from milvus_backup.service.restore_journal import Journal
from milvus_backup.service.row_source import RowSource
from milvus_backup.service.run import Run
from milvus_backup.service.schema_checks import check_readable, check_recreatable
from milvus_backup.service.selection import DEFAULT_DB, Selection
from milvus_backup.service.staging import Staging, open_staging
from milvus_backup.service.verify import check_objects

logger = logging.getLogger(__name__)

#: How the data reaches the target: Milvus imports the binlogs, or the tool inserts the rows it reads from them;
#: "" imports where the target can, else inserts.
Mode = Literal["", "import", "insert"]
MODES = ("import", "insert")
#: The collection property that turns off Milvus's check of the functions at creation, and the first version that
#: has it (upstream's feature table).
FUNC_RUNTIME_CHECK = "disable_func_runtime_check"
FUNC_RUNTIME_CHECK_SINCE = (2, 6, 8)
_VALID_INDEX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
IMPORT_POLL_SECONDS = (0.05, 0.1)  # first poll soon (short imports are common), then every 0.1 s
LOAD_POLL_SECONDS = 0.5
LOAD_TIMEOUT_SECONDS = 600.0
#: How long a failed restore waits for the imports it started to end before it drops what it created.
SETTLE_SECONDS = 120.0
SETTLE_POLL_SECONDS = 0.5


@dataclass
class RestoreRequest:
    """What to restore, parsed by the door that received it (CLI flags, REST fields, Python)."""

    name: str
    #: Source-side selection (names in the backup): the CLI's -c, -d, -a.
    selection: Selection = field(default_factory=lambda: Selection({}, everything=True))
    #: Target-side selection (names after suffix/rename): the CLI's --filter.
    target_filter: Selection | None = None
    mapping: NameMapping = field(default_factory=NameMapping)
    meta_only: bool = False
    restore_index: bool = False
    use_auto_index: bool = False
    drop_exist_collection: bool = False
    drop_exist_index: bool = False
    skip_create_collection: bool = False
    rbac: bool = False
    load: bool = False
    skip_aliases: bool = False
    skip_db_properties: bool = False
    #: Check each object's checksum against the manifest before Milvus reads it (sizes are checked always).
    verify: bool = True
    mode: Mode = ""
    #: After a failure, keep the collections created so far instead of dropping them (their journal says so).
    keep_partial: bool = False


@dataclass
class CollectionResult:
    source: str
    target: str
    segments: int = 0
    rows: int = 0
    indexes: int = 0
    #: Bytes of the backed-up segments imported (their sizes in the backup's meta); 0 when no data is restored.
    size: int = 0
    aliases: list[str] = field(default_factory=list)
    #: Wall time from the first Import call to the last import Milvus reported done: the part of a restore that
    #: is Milvus's own work (its import manager marks imports done on a 2-second tick). With mode insert: the
    #: wall time of the inserts and their flush.
    import_seconds: float = 0.0
    #: "import" or "insert"; "" when no data was restored (meta only).
    mode: str = ""


@dataclass(frozen=True)
class RestoreResult:
    name: str
    collections: list[CollectionResult]
    seconds: float
    staged_objects: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    source: CollectionBackupInfo
    db: str
    name: str


def check_options(request: RestoreRequest) -> None:
    if request.drop_exist_collection and request.skip_create_collection:
        raise UsageError(
            detail="drop_exist_collection and skip_create_collection cannot be combined",
            hint="Drop and recreate the collection, or keep it and add data: choose one.",
        )
    if request.use_auto_index and not request.restore_index:
        raise UsageError(detail="use_auto_index changes how indexes are rebuilt; it needs restore_index")


def _selected(info: BackupInfo, selection: Selection) -> list[CollectionBackupInfo]:
    chosen = []
    by_name = {(c.db_name or DEFAULT_DB, c.collection_name): c for c in info.collection_backups}
    if selection.everything:
        return list(info.collection_backups)
    for db, names in selection.databases.items():
        in_db = [c for (d, _), c in by_name.items() if d == db]
        if names is None:
            if not in_db:
                raise UsageError(detail=f"backup {info.name!r} holds no collection of database {db!r}")
            chosen.extend(in_db)
            continue
        for name in names:
            if (db, name) not in by_name:
                raise UsageError(
                    detail=f"backup {info.name!r} holds no collection {db}.{name}",
                    hint=f"Run `milvus-backup get -n {info.name}` to see what it holds.",
                )
            chosen.append(by_name[(db, name)])
    return chosen


def plan_restore(info: BackupInfo, request: RestoreRequest) -> list[_Plan]:
    plans = []
    for coll in _selected(info, request.selection):
        db, name = request.mapping.target(coll.db_name, coll.collection_name)
        plans.append(_Plan(coll, db, name))
    if request.target_filter is not None:
        wanted = request.target_filter.databases
        plans = [p for p in plans if p.db in wanted and (wanted[p.db] is None or p.name in (wanted[p.db] or []))]
    targets = [(p.db, p.name) for p in plans]
    if len(set(targets)) != len(targets):
        raise UsageError(detail="two backed-up collections would be restored under the same name")
    if not plans:
        raise UsageError(detail=f"nothing of backup {info.name!r} matches the selection")
    return plans


class _Undo:
    """What a failed restore takes back: the collections it created are dropped, so no half-filled collection is
    left behind; first the imports it started are given time to end, because Milvus cannot cancel an import and
    dropping a collection under a running import is asking for trouble."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.collections: list[tuple[str, str]] = []
        self.imports: set[int] = set()

    def created(self, db: str, name: str) -> None:
        with self._lock:
            self.collections.append((db, name))

    def started(self, tasks: list[int]) -> None:
        with self._lock:
            self.imports.update(tasks)

    def ended(self, task: int) -> None:
        with self._lock:
            self.imports.discard(task)

    def settle(self, milvus: MilvusClient) -> None:
        """Wait (a while) for the imports it started to end."""
        gives_up = time.monotonic() + SETTLE_SECONDS
        for task in sorted(self.imports):
            with contextlib.suppress(BackupToolError):
                while milvus.import_state(task) is None and time.monotonic() < gives_up:
                    time.sleep(SETTLE_POLL_SECONDS)

    def undo(self, milvus: MilvusClient) -> bool:
        """True when every collection it created was dropped."""
        self.settle(milvus)
        dropped_all = True
        for db, name in self.collections:
            try:
                milvus.drop_collection(db, name)
                logger.info("restore failed: dropped %s.%s, which it had created", db, name)
            except BackupToolError as exc:
                dropped_all = False
                logger.warning(
                    "restore failed, and dropping %s.%s, which it had created, failed too: %s", db, name, exc
                )
        return dropped_all


def restore_backup(resources: Resources, request: RestoreRequest, run: Run | None = None) -> RestoreResult:
    if run is None:
        with Run(what=f"restore of {request.name}") as own_run:
            return restore_backup(resources, request, own_run)
    started = time.monotonic()
    check_options(request)
    info = read_backup(resources.backup, request.name)  # refuses an incomplete backup
    plans = plan_restore(info, request)
    milvus = resources.need_milvus().client
    for plan in plans:
        check_restorable(plan.source, milvus.server_version)
        if not request.skip_create_collection:
            check_recreatable(plan.source)
        if not request.meta_only:
            _import_jobs(plan.source)  # refuses a layout it cannot import before anything is created
            source_db = plan.source.db_name or DEFAULT_DB
            check_readable(plan.source, next((d for d in info.database_backups if d.db_name == source_db), None))
    earlier = restore_journal.left_by_earlier_restores(resources.backup, info.name)
    _check_targets(milvus, plans, request, earlier, run)
    mode = _choose_mode(request, milvus, run)
    restore_id = uuid.uuid4().hex[:12]
    manifest = read_manifest(resources.backup, info.name)
    references = {o.key: o for o in manifest.objects if o.backup} if manifest is not None else {}
    located = redirected(resources.backup, info.name, list(references.values()))
    backup_rows = resources.row_source()(located, info)
    if mode == "import" and not has(milvus.server_version, "imports apply deletes by timestamp"):
        mode = _mode_for_reinserted_keys(request, milvus, plans, backup_rows, run)
    staging = None if mode != "import" else open_staging(resources, info.name, restore_id, references)
    rows = backup_rows if mode == "insert" else None
    run.checks_passed()
    if not request.meta_only:
        _check_before_import(resources, info, manifest, plans, request, run)
    if request.rbac and info.rbac_meta:
        restored = milvus.restore_rbac(info.rbac_meta)
        logger.info(
            "RBAC restored: %d user(s), %d role(s), %d grant(s), %d binding(s)",
            restored.users,
            restored.roles,
            restored.grants,
            restored.bindings,
        )
        for user in restored.users_not_created:
            run.warn(
                f"user {user} does not exist in the target and was not created (the backup holds no credential "
                "this Milvus takes: BackupRBAC/RestoreRBAC need Milvus >= 2.4.10); create it, then restore again "
                "with --rbac to bind its roles"
            )
    existing_dbs = set(milvus.list_databases())
    for db in sorted({p.db for p in plans} - existing_dbs):
        properties = [] if request.skip_db_properties else _db_properties(info, plans, db)
        zone = [kv for kv in properties if kv.key.startswith("cipher.")]
        if zone:
            # The source's encryption zone belongs to its cluster's key management: a new database does not join it.
            run.warn(f"database {db} was created without the source's encryption properties ({zone[0].key}, ...)")
        milvus.create_database(db, [kv for kv in properties if kv not in zone])
    undo = _Undo()
    journal = Journal(restore_id, info.name, [f"{p.db}.{p.name}" for p in plans])
    _write_journal(resources, journal, run)
    try:
        results = _restore_all(resources.settings, milvus, plans, request, _Data(mode, staging, rows), run, undo)
    except BaseException:
        if request.keep_partial:
            undo.settle(milvus)  # what is kept no longer changes under the next run
            logger.warning("restore failed: kept %s as they are (--keep-partial)", ", ".join(journal.targets))
            _write_journal(resources, dataclasses.replace(journal, state="kept"), run)
        elif undo.undo(milvus):
            restore_journal.remove(resources.backup, journal)
        raise
    finally:
        if staging is not None:
            staging.cleanup(keep=resources.settings.keep_temp_files)
    restore_journal.remove(resources.backup, journal)
    for replaced in earlier:  # what earlier restores left is now restored again
        if not replaced.running and set(replaced.targets) <= set(journal.targets):
            restore_journal.remove(resources.backup, replaced)
    staged = staging.staged_objects if staging is not None else 0
    return RestoreResult(info.name, results, time.monotonic() - started, staged, run.warnings)


def parse_mode(mode: str, label: str = "mode") -> Mode:
    """A door's mode value, refused with the door's name for it when unknown."""
    if mode and mode not in MODES:
        raise UsageError(detail=f"{label} {mode!r}: use one of {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def _choose_mode(request: RestoreRequest, milvus: MilvusClient, run: Run) -> str:
    """ "" (meta only), "import" or "insert"."""
    if request.meta_only:
        return ""
    parse_mode(request.mode)
    can_import = imports_backups(milvus.server_version)
    if request.mode == "import" and not can_import:
        raise UsageError(
            detail=f"Milvus {milvus.server_version} at {milvus.address} cannot import backups",
            hint="Restore through inserts (mode insert), or leave the mode out to choose it.",
        )
    if not request.mode and not can_import:
        run.warn(
            f"Milvus {milvus.server_version} at {milvus.address} cannot import backups: restored through inserts "
            "of the rows read from the backup (mode insert)"
        )
        return "insert"
    return request.mode or "import"


def _mode_for_reinserted_keys(
    request: RestoreRequest, milvus: MilvusClient, plans: list[_Plan], rows: RowSource, run: Run
) -> str:
    """Milvus 2.2's import applies a backup's deletes to every row of their keys, also to rows inserted after
    the delete (an upsert's new row, a key deleted then inserted again), and loses them. Where the backup holds
    such rows, the restore goes through inserts, or, asked to import, is refused before anything is created."""
    with_deletes = [
        p for p in plans if any(seg.deltalogs for part in p.source.partition_backups for seg in part.segment_backups)
    ]
    reinserted = {
        f"{p.source.db_name or DEFAULT_DB}.{p.source.collection_name}": n
        for p in with_deletes
        if (n := rows.reinserted(p.source, run))
    }
    if not reinserted:
        return "import"
    named = ", ".join(f"{coll} ({n} row(s))" for coll, n in reinserted.items())
    why = (
        f"Milvus {milvus.server_version} at {milvus.address} applies a backup's deletes to rows inserted after "
        f"them on import, and would lose rows deleted and then inserted again (upserts): {named}"
    )
    if request.mode == "import":
        raise UsageError(detail=why, hint="Leave the mode out (chosen then), or restore with mode insert.")
    run.warn(f"{why}; restored through inserts of the rows read from the backup (mode insert)")
    return "insert"


@dataclass(frozen=True)
class _Data:
    """How the rows reach the target: `staging` for imports, `rows` for inserts."""

    mode: str
    staging: Staging | None
    rows: RowSource | None


def _check_before_import(
    resources: Resources,
    info: BackupInfo,
    manifest: Manifest | None,
    plans: list[_Plan],
    request: RestoreRequest,
    run: Run,
) -> None:
    """Nothing reaches Milvus unchecked: every object the restore will import is there with its size and (unless
    `verify` is off) its checksum, before anything is created, the objects an incremental backup references in
    other backups' folders included. A damaged binlog can take Milvus down (2.3.5 panics on a CRC error in an
    import) and is then reported as Milvus being unreachable."""
    report = check_objects(
        resources.backup,
        info,
        manifest,
        run,
        read_content=request.verify,
        collection_ids={p.source.collection_id for p in plans},
        trust_listing=True,
    )
    if not report.ok:
        raise IntegrityError(
            name=info.name,
            detail=f"{report.problems_in_brief()}, found before anything was restored",
            hint=f"Nothing was restored. `milvus-backup verify -n {info.name}` lists every problem; restore another "
            "backup of the collection.",
        )


def _db_properties(info: BackupInfo, plans: list[_Plan], db: str) -> list[KeyValue]:
    """The properties of the backed-up database that the new database `db` receives collections from."""
    sources = {p.source.db_name or DEFAULT_DB for p in plans if p.db == db}
    for backed_up in info.database_backups:
        if backed_up.db_name in sources and backed_up.properties:
            return backed_up.properties
    return []


def _write_journal(resources: Resources, journal: Journal, run: Run) -> None:
    try:
        restore_journal.write(resources.backup, journal)
    except BackupToolError as exc:  # a backup storage this restore may only read
        run.warn(
            f"the restore journal could not be written ({exc}): if this restore is killed, nothing will mark "
            f"{', '.join(journal.targets)} as incomplete"
        )


def _check_targets(
    milvus: MilvusClient, plans: list[_Plan], request: RestoreRequest, earlier: list[Journal], run: Run
) -> None:
    """Every conflict is found before anything changes. A target that an earlier restore of this backup left
    behind (killed, or kept after a failure) is named as such."""
    databases = set(milvus.list_databases())
    for plan in plans:
        exists = plan.db in databases and milvus.has_collection(plan.db, plan.name)
        left = restore_journal.what_was_left(earlier, f"{plan.db}.{plan.name}") if exists else None
        if left is not None and (left.surely_running or (left.running and not request.drop_exist_collection)):
            raise JobConflictError(
                detail=f"{plan.db}.{plan.name} is being restored by {left.describe()}",
                hint="Wait for that restore to end. If it was killed on another host, restore again with "
                "--drop_exist_collection.",
            )
        if exists and not (request.drop_exist_collection or request.skip_create_collection):
            if left is not None:
                raise CollectionExistsError(
                    collection=plan.name,
                    database=plan.db,
                    address=milvus.address,
                    hint=f"It was left incomplete by {left.describe()}. Restore again with --drop_exist_collection "
                    "to replace it.",
                )
            raise CollectionExistsError(collection=plan.name, database=plan.db, address=milvus.address)
        if left is not None and request.skip_create_collection:
            run.warn(f"{plan.db}.{plan.name} was left incomplete by {left.describe()}; data is added to it as it is")
        if not exists and request.skip_create_collection:
            raise CollectionNotFoundError(
                collection=plan.name,
                database=plan.db,
                address=milvus.address,
                hint="--skip_create_collection restores into an existing collection; leave it out to create one.",
            )
        has_l0 = any(s.is_l0 for s in _segments(plan.source))
        imports_l0 = exists and has_l0 and not request.meta_only and not request.drop_exist_collection
        # Milvus refuses an L0 import into a loaded collection (internal/proxy/task_import.go).
        if imports_l0 and milvus.load_state(plan.db, plan.name) != "NotLoad":
            raise UsageError(
                detail=f"{plan.db}.{plan.name} is loaded, and Milvus imports the backup's L0 delete segments "
                "only into a collection that is not",
                hint=f"Release {plan.db}.{plan.name} first, then restore again.",
            )


def _restore_all(
    settings: Settings,
    milvus: MilvusClient,
    plans: list[_Plan],
    request: RestoreRequest,
    data: _Data,
    run: Run,
    undo: _Undo,
) -> list[CollectionResult]:
    parts = {f"{p.db}.{p.name}": 0 if request.meta_only else len(_segments(p.source)) for p in plans}
    run.progress.start(sum(parts.values()), "segments", "restore", parts)
    results = run.map(
        lambda plan: _restore_one(settings, milvus, plan, request, data, run, undo),
        plans,
        limit=settings.restore_collections,
    )
    run.progress.finish()
    return results


def _segments(coll: CollectionBackupInfo) -> list[SegmentBackupInfo]:
    return [s for p in coll.partition_backups for s in p.segment_backups] + coll.l0_segments


def _restore_one(
    settings: Settings,
    milvus: MilvusClient,
    plan: _Plan,
    request: RestoreRequest,
    data: _Data,
    run: Run,
    undo: _Undo,
) -> CollectionResult:
    src, db, name = plan.source, plan.db, plan.name
    result = CollectionResult(f"{src.db_name or DEFAULT_DB}.{src.collection_name}", f"{db}.{name}")
    logger.info("restoring %s as %s", result.source, result.target)
    run.check()
    if request.drop_exist_collection and milvus.has_collection(db, name):
        milvus.drop_collection(db, name)
    has_partition_key = any(f.is_partition_key for f in src.schema.fields)
    if not request.skip_create_collection:
        if data.mode == "insert" and src.schema.auto_id:
            run.warn(
                f"{result.target} was created with auto-id off, to keep the backed-up primary keys (rows "
                "inserted later must bring their own)"
            )
        # Milvus >= 2.6.8 checks a collection's functions at creation (an embedding function's provider, say)
        # unless told not to; the Go tool creates with the check off and then puts back the original setting.
        check_off = bool(src.schema.functions) and parse_version(milvus.server_version) >= FUNC_RUNTIME_CHECK_SINCE
        properties = [kv for kv in src.properties if kv.key != FUNC_RUNTIME_CHECK or not check_off]
        milvus.create_collection(
            db,
            name,
            keyed_schema(src.schema) if data.mode == "insert" else src.schema,
            shards_num=src.shards_num or 1,
            consistency_level=src.consistency_level,
            num_partitions=len(src.partition_backups) if has_partition_key else 0,
            properties=properties + ([KeyValue(FUNC_RUNTIME_CHECK, "true")] if check_off else []),
        )
        undo.created(db, name)
        original = next((kv.value for kv in src.schema.properties + src.properties if kv.key == FUNC_RUNTIME_CHECK), "")
        if check_off and original != "true":
            milvus.alter_collection_properties(db, name, [KeyValue(FUNC_RUNTIME_CHECK, "false")])
    if not has_partition_key:
        existing = {p.name for p in milvus.list_partitions(db, name)}
        for part in src.partition_backups:
            if part.partition_name not in existing:
                milvus.create_partition(db, name, part.partition_name)
    if request.drop_exist_index:
        for index in milvus.describe_indexes(db, name):
            milvus.drop_index(db, name, index)
    if request.restore_index:
        result.indexes = _rebuild_indexes(milvus, src, db, name, request.use_auto_index)
    if data.mode:
        result.mode = data.mode
        result.size = sum(s.size for s in _segments(src))
        if data.staging is not None:
            result.segments, result.rows, result.import_seconds = _import_data(
                settings, milvus, src, db, name, data.staging, run, undo
            )
        elif data.rows is not None:
            result.segments = len(_segments(src))
            before = milvus.row_count(db, name)
            result.rows, result.import_seconds = insert_rows(
                milvus, src, db, name, data.rows, run, settings.copy_concurrency
            )
            after = milvus.row_count(db, name)
            if after - before != result.rows:
                raise IntegrityError(
                    name=src.collection_name,
                    detail=f"{result.target} holds {after - before} new rows after the inserts, which brought "
                    f"{result.rows}",
                )
    if not request.skip_aliases:
        result.aliases = _restore_aliases(milvus, src, db, name, run)
    if request.load:
        _load(milvus, db, name, run)
    logger.info(
        "restored %s as %s: %d segment(s), %d row(s)", result.source, result.target, result.segments, result.rows
    )
    return result


def _rebuild_indexes(milvus: MilvusClient, src: CollectionBackupInfo, db: str, name: str, auto: bool) -> int:
    """Indexes are created before the import, so Milvus builds them on the imported segments."""
    types = {f.name: f.data_type for f in src.schema.fields}
    for index in src.index_infos:
        params = dict(index.params)
        vector = types.get(index.field_name) in VECTOR_TYPES
        if auto and vector:
            params = {"index_type": "AUTOINDEX", "metric_type": params.get("metric_type", "")}
        # Milvus 2.5 names a JSON-path index after its path ("/a/b"), a name CreateIndex refuses: Milvus then picks
        # one, as the Go tool lets it.
        index_name = index.index_name if vector or _VALID_INDEX_NAME.match(index.index_name) else ""
        milvus.create_index(db, name, index.field_name, index_name, params)
    return len(src.index_infos)


def _restore_aliases(milvus: MilvusClient, src: CollectionBackupInfo, db: str, name: str, run: Run) -> list[str]:
    restored = []
    for alias in src.aliases:
        try:
            milvus.create_alias(db, name, alias)
            restored.append(alias)
        except MilvusError as exc:
            # The alias may still point at the original collection (same instance, restored under a suffix).
            run.warn(f"alias {alias} was not restored for {db}.{name}: {exc}")
    return restored


def _load(milvus: MilvusClient, db: str, name: str, run: Run) -> None:
    milvus.load_collection(db, name)
    gives_up = time.monotonic() + LOAD_TIMEOUT_SECONDS
    while milvus.loading_progress(db, name) < 100:
        if time.monotonic() > gives_up:
            raise MilvusError(
                address=milvus.address, detail=f"{db}.{name} still loading after {LOAD_TIMEOUT_SECONDS:.0f} s"
            )
        run.sleep(LOAD_POLL_SECONDS)


@dataclass
class _ImportJob:
    partition: str
    partition_id: int
    segments: list[SegmentBackupInfo] = field(default_factory=list)
    #: 0 imports the partition's folder (every group below it); else that one group's folder.
    group_id: int = 0
    #: The segments' storage format (Milvus 2.6 storage v2 is 2), stated in the import when not 0.
    storage_version: int = 0
    #: A delete-only (L0) segment, imported with `l0_import` after the data it deletes from.
    l0: bool = False

    def options(self) -> dict[str, str]:
        # Import options as Milvus reads them (internal/util/importutilv2/option.go: `backup`, `l0_import`) and as
        # upstream sends them (`storage_version` when a segment has one).
        options = {"l0_import": "true"} if self.l0 else {"backup": "true"}
        if self.storage_version:
            options["storage_version"] = str(self.storage_version)
        return options


def _import_jobs(src: CollectionBackupInfo) -> list[_ImportJob]:
    """One import per partition, of the partition's folder: Milvus 2.3 imports every segment (group) folder
    below it in one task. Its DataNode runs one import task at a time, each with its own scheduling delays, so
    this is much faster than one import per segment (docs/benchmarks.md), and the same path the Go tool takes
    for backups without group ids. A partition whose segments are in different storage formats is imported one
    group folder at a time, each with its own format (an import states one)."""
    jobs = []
    for part in src.partition_backups:
        data = [s for s in part.segment_backups if not s.is_l0]
        versions = sorted({s.storage_version for s in data})
        if len(versions) == 1:
            jobs.append(_ImportJob(part.partition_name, part.partition_id, data, storage_version=versions[0]))
            continue
        groups: dict[int, list[SegmentBackupInfo]] = {}
        for seg in data:
            if not seg.group_id:
                raise UnsupportedFormatError(
                    detail=f"partition {part.partition_name} of {src.db_name}.{src.collection_name} mixes storage "
                    f"formats {versions} in a backup without group folders; one import cannot state both",
                )
            groups.setdefault(seg.group_id, []).append(seg)
        for group_id, segments in sorted(groups.items()):
            version = max(s.storage_version for s in segments)
            jobs.append(_ImportJob(part.partition_name, part.partition_id, segments, group_id, version))
    return jobs


def _l0_jobs(src: CollectionBackupInfo) -> tuple[list[_ImportJob], list[_ImportJob]]:
    """(the partitions' L0 segments, the collection's): one import each, as upstream imports them. An L0 import
    of partition "" applies to every partition (Milvus's proxy, internal/proxy/task_import.go)."""
    in_partitions = [
        _ImportJob(part.partition_name, part.partition_id, [s], storage_version=s.storage_version, l0=True)
        for part in src.partition_backups
        for s in part.segment_backups
        if s.is_l0
    ]
    whole = [_ImportJob("", -1, [s], storage_version=s.storage_version, l0=True) for s in src.l0_segments]
    return in_partitions, whole


def _wait_import(milvus: MilvusClient, task: int, run: Run) -> ImportOutcome:
    """Poll soon, then a little less often: a state query costs Milvus about a millisecond, and every poll
    interval is time a finished import waits to be noticed."""
    first, then = IMPORT_POLL_SECONDS
    poll = first
    while (outcome := milvus.import_state(task)) is None:
        run.sleep(poll)
        poll = then
    return outcome


def _import_data(
    settings: Settings,
    milvus: MilvusClient,
    src: CollectionBackupInfo,
    db: str,
    name: str,
    staging: Staging,
    run: Run,
    undo: _Undo,
) -> tuple[int, int, float]:
    """(segments, rows, seconds) of the collection's imports: the data first, its row count checked, then the
    partitions' L0 delete segments, then the collection's, so that deletes apply after the rows they delete."""
    target = f"{db}.{name}"
    jobs = _import_jobs(src)
    partition_l0, collection_l0 = _l0_jobs(src)

    def import_one(job: _ImportJob) -> int:
        if job.l0:
            files = staging.l0_files(src.collection_id, job.segments[0], run)
        else:
            files = staging.import_files(src.collection_id, job.partition_id, job.segments, run, job.group_id)
        rows = 0
        try:
            tasks = milvus.start_import(db, name, job.partition, files, job.options())
            undo.started(tasks)
            outcomes = []
            for task in tasks:
                outcomes.append(_wait_import(milvus, task, run))
                undo.ended(task)
        except MilvusUnavailableError as exc:
            raise _stopped_answering(exc, milvus.address, target, job.partition, files) from exc
        for outcome in outcomes:
            if not outcome.completed:
                raise MilvusError(
                    address=milvus.address,
                    detail=(f"import of {files[0]} into {target} failed: {outcome.reason or 'no reason given'}"),
                )
            rows += outcome.row_count
        if not job.l0:  # an L0 import brings deletes, no rows
            _check_rows(job.segments, rows, target, files[0])
        run.progress.advance(len(job.segments), target)
        return 0 if job.l0 else rows

    started = time.monotonic()
    before = milvus.row_count(db, name)
    rows = sum(run.map(import_one, jobs, limit=settings.import_jobs))
    after = milvus.row_count(db, name)
    if after - before != rows:
        raise IntegrityError(
            name=src.collection_name,
            detail=f"{target} holds {after - before} new rows after the import, but the imports reported {rows}",
        )
    for l0_jobs in (partition_l0, collection_l0):
        run.map(import_one, l0_jobs, limit=settings.import_jobs)
    segments = sum(len(job.segments) for job in jobs + partition_l0 + collection_l0)
    return segments, rows, time.monotonic() - started


def _stopped_answering(
    exc: MilvusUnavailableError, address: str, target: str, partition: str, files: list[str]
) -> MilvusUnavailableError:
    """Milvus was there when the restore began and went away during an import: a crash while reading the files
    (Milvus 2.3 panics on a binlog it cannot read) is then more likely than a network problem, and its log says."""
    return MilvusUnavailableError(
        address=address,
        detail=f"Milvus stopped answering during the import of partition {partition} from {', '.join(files)} into "
        f"{target} ({exc.fields.get('detail', exc)})",
        hint="Milvus answered until this import started; it stopped or restarted during it: its log says why (look "
        "for a panic or an out-of-memory kill in its datanode's or standalone container's log). Once it is back, "
        "restore again with --drop_exist_collection.",
    )


def _check_rows(segments: list[SegmentBackupInfo], rows: int, target: str, path: str) -> None:
    """Milvus reports a wrong path or timestamp as a *completed* import of 0 rows. An import must bring all the
    rows of its segments when they have no delete logs, and some but not more when they have (deleted rows stay
    deleted)."""
    expected = sum(s.num_of_rows for s in segments)
    has_deletes = any(s.deltalogs for s in segments)
    if not has_deletes and rows != expected:
        raise IntegrityError(
            name=target,
            detail=(f"Milvus imported {rows} of the {expected} rows of {path}; the import path or timestamp is wrong"),
        )
    if has_deletes and (rows > expected or (rows == 0 and expected > 0)):
        raise IntegrityError(
            name=target,
            detail=(f"Milvus imported {rows} rows from {path}, which holds {expected} rows and some deletes"),
        )
