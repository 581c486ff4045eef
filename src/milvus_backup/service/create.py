"""`create`: flush, list the flushed segments, copy their binlogs, write the meta last."""

from __future__ import annotations

import contextlib
import difflib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from milvus_backup.errors import (
    BackupExistsError,
    BackupToolError,
    CollectionNotFoundError,
    DatabaseNotFoundError,
    UnflushedDeletesError,
    UsageError,
)
from milvus_backup.meta import codec, layout
from milvus_backup.meta.manifest import Manifest, ManifestCollection, ManifestObject, RowProof
from milvus_backup.meta.model import (
    BackupInfo,
    CollectionBackupInfo,
    DatabaseBackupInfo,
    PartitionBackupInfo,
)
from milvus_backup.meta.references import References
from milvus_backup.milvus.protocol import MilvusClient
from milvus_backup.service import compat
from milvus_backup.service.claim import claimed, lock_key
from milvus_backup.service.copying import CopyTask, copy_all, unproven_sizes, verify_listing
from milvus_backup.service.gc_pause import gc_paused
from milvus_backup.service.names import default_backup_name, validate_backup_name
from milvus_backup.service.proof import collection_key, counts_before, prove, skipped
from milvus_backup.service.references import BaseIndex, open_base, redirected
from milvus_backup.service.resources import MilvusSide, Resources, Settings, StorageLocation
from milvus_backup.service.row_source import RowSourceOpener
from milvus_backup.service.run import Run
from milvus_backup.service.segments import SourceSegment, describe_segments
from milvus_backup.service.selection import Selection

logger = logging.getLogger(__name__)

Strategy = Literal["", "serial_flush", "skip_flush", "meta_only", "bulk_flush"]
STRATEGIES = ("serial_flush", "skip_flush", "meta_only", "bulk_flush")
FLUSH_POLL_SECONDS = 0.5
#: How often a backup of Milvus 2.2 asks whether the deletes it held in memory have reached storage.
DELETES_POLL_SECONDS = 1.0


@dataclass
class CreateRequest:
    name: str = ""
    selection: Selection = field(default_factory=lambda: Selection({}, everything=True))
    #: "" picks the best the server offers (serial_flush on Milvus < 2.6.11, which has no FlushAll).
    strategy: Strategy = ""
    rbac: bool = False
    #: Compare the backup's live rows with Milvus's count(*) (service/proof.py).
    proof: bool = True
    #: Reference the segments a base backup holds unchanged instead of copying them.
    incremental: bool = False
    #: The base of an incremental backup; "" is the newest complete backup of the same collections.
    base: str = ""
    #: Milvus before 2.3 only: copy without waiting for the deletes Milvus still holds in memory (the backup
    #: records that it did; rows deleted shortly before may come back on restore).
    accept_unflushed_deletes: bool = False


@dataclass(frozen=True)
class CreateResult:
    name: str
    collections: int
    segments: int
    objects: int
    bytes: int
    server_side_copies: int
    seconds: float
    milvus_version: str
    gc_paused: bool
    warnings: list[str] = field(default_factory=list)
    #: "db.collection" -> its row-count proof.
    proofs: dict[str, RowProof] = field(default_factory=dict)
    #: The backup an incremental create referenced ("" for a full backup, also when no base was found).
    base: str = ""
    #: Objects and bytes referenced in other backups' folders instead of copied (`objects` counts the copies).
    referenced_objects: int = 0
    referenced_bytes: int = 0


def resolve_targets(milvus: MilvusClient, selection: Selection) -> dict[str, list[str]]:
    """Database -> collections to back up. Unknown databases and collections fail here, before any write."""
    databases = milvus.list_databases()
    wanted = {db: None for db in databases} if selection.everything else selection.databases
    targets: dict[str, list[str]] = {}
    for db, names in wanted.items():
        if db not in databases:
            raise DatabaseNotFoundError(
                database=db, address=milvus.address, hint=closest_names_hint(db, databases, "databases")
            )
        existing = milvus.list_collections(db)  # raises DatabaseNotFoundError if dropped meanwhile
        if names is None:
            targets[db] = existing
            continue
        for name in names:
            if name not in existing:
                raise CollectionNotFoundError(
                    collection=name,
                    database=db,
                    address=milvus.address,
                    hint=closest_names_hint(name, existing, f"collections in database {db!r}"),
                )
        targets[db] = list(names)
    return targets


#: How many existing names an unknown name's hint offers.
CLOSEST_NAMES = 3
#: Below this many, all existing names are listed when none is close.
LISTED_NAMES = 10


def closest_names_hint(name: str, existing: list[str], kind: str) -> str:
    """The hint of a not-found error: the existing names closest to `name` (else some of them); `kind` is what
    they are, in the plural ("databases", "collections in database 'default'")."""
    close = difflib.get_close_matches(name, existing, n=CLOSEST_NAMES, cutoff=0.6) or difflib.get_close_matches(
        name.lower(), [n.lower() for n in existing], n=CLOSEST_NAMES, cutoff=0.6
    )
    if close:
        by_lower = {n.lower(): n for n in existing}
        shown = ", ".join(repr(n if n in existing else by_lower[n]) for n in close)
        return f"The closest existing {kind}: {shown}."
    if not existing:
        return f"There are no {kind}."
    shown = ", ".join(repr(n) for n in sorted(existing)[:LISTED_NAMES])
    more = f" and {len(existing) - LISTED_NAMES} more" if len(existing) > LISTED_NAMES else ""
    return f"No similar name; the existing {kind}: {shown}{more}."


@dataclass(frozen=True)
class _DataStats:
    segments: int = 0
    objects: int = 0
    server_side: int = 0
    manifest_objects: list[ManifestObject] = field(default_factory=list)
    gc_paused: bool = False
    proofs: dict[str, RowProof] = field(default_factory=dict)
    unflushed_deletes_accepted: bool = False
    referenced: list[ManifestObject] = field(default_factory=list)


def strategy_from_flags(
    strategy: str, force: bool, meta_only: bool, labels: tuple[str, str, str] = ("--strategy", "--force", "--meta_only")
) -> Strategy:
    """The seed's `force` (= skip_flush) and `meta_only` flags and the newer `strategy` as one strategy; errors
    name the three as the door calls them (`labels`: strategy, force, meta_only)."""
    strategy_label, force_label, meta_only_label = labels
    if strategy and strategy not in STRATEGIES:
        raise UsageError(detail=f"{strategy_label} {strategy!r}: use one of {', '.join(STRATEGIES)}")
    implied = {s for s, on in (("skip_flush", force), ("meta_only", meta_only)) if on}
    if len(implied) > 1 or (strategy and implied and strategy not in implied):
        raise UsageError(
            detail=f"{force_label}, {meta_only_label} and {strategy_label} contradict each other",
            hint=f"{force_label} is strategy skip_flush; {meta_only_label} is strategy meta_only. Give one.",
        )
    chosen = strategy or next(iter(implied), "")
    return chosen  # type: ignore[return-value]


def _resolve_strategy(strategy: Strategy, version: str) -> str:
    if strategy == "bulk_flush":
        raise UsageError(
            detail=f"--strategy bulk_flush needs FlushAll (Milvus >= 2.6.11); this Milvus is {version}",
            hint="Use --strategy serial_flush, or leave --strategy out.",
        )
    return strategy or "serial_flush"


def _describe(milvus: MilvusClient, db: str, name: str, backup_id: str) -> CollectionBackupInfo:
    desc = milvus.describe_collection(db, name)
    indexes = milvus.describe_indexes(db, name)
    load_state = milvus.load_state(db, name)
    partitions = [
        PartitionBackupInfo(
            partition_id=p.partition_id, partition_name=p.name, collection_id=desc.collection_id, load_state=load_state
        )
        for p in milvus.list_partitions(db, name)
    ]
    return CollectionBackupInfo(
        id=backup_id,
        collection_id=desc.collection_id,
        db_name=db,
        collection_name=name,
        schema=desc.schema,
        shards_num=desc.shards_num,
        consistency_level=desc.consistency_level,
        partition_backups=partitions,
        has_index=bool(indexes),
        index_infos=indexes,
        load_state=load_state,
        properties=desc.properties,
        created_timestamp=desc.created_timestamp,
        virtual_channel_names=desc.virtual_channel_names,
        physical_channel_names=desc.physical_channel_names,
        aliases=desc.aliases,
    )


def _copy_tasks(root: str, name: str, seg: SourceSegment, part: str) -> list[CopyTask]:
    info = seg.info
    tasks = []
    for fb in info.binlogs:
        for log in fb.binlogs:
            dst = layout.backup_insert_key(
                root,
                name,
                info.collection_id,
                info.partition_id,
                info.group_id,
                info.segment_id,
                fb.field_id,
                log.log_id,
            )
            tasks.append(CopyTask(log.log_path, dst, log.log_size, part, seg.md5s.get(log.log_path)))
    for fb in info.deltalogs:
        for log in fb.binlogs:
            dst = layout.backup_delta_key(
                root, name, info.collection_id, info.partition_id, info.group_id, info.segment_id, log.log_id
            )
            tasks.append(CopyTask(log.log_path, dst, log.log_size, part, seg.md5s.get(log.log_path)))
    return tasks


def create_backup(resources: Resources, request: CreateRequest, run: Run | None = None) -> CreateResult:
    if run is None:
        with Run(what=f"backup {request.name or 'create'}") as own_run:
            return create_backup(resources, request, own_run)
    name = validate_backup_name(request.name) if request.name else default_backup_name()
    target = resources.backup
    target.storage.check_bucket()
    with claimed(target, name):
        backup_dir = layout.backup_dir(target.root, name)
        lock = lock_key(target, name)
        if any(info.key != lock for info in target.storage.list(backup_dir)):
            raise BackupExistsError(name=name, location=target.describe())
        return _create_claimed(resources, request, name, run, resources.row_source())


def _create_claimed(
    resources: Resources, request: CreateRequest, name: str, run: Run, rows: RowSourceOpener
) -> CreateResult:
    """The create, once the name is ours and its folder empty."""
    started = time.monotonic()
    target, side = resources.backup, resources.need_milvus()
    milvus = side.client
    backup_dir = layout.backup_dir(target.root, name)
    targets = resolve_targets(milvus, request.selection)
    strategy = _resolve_strategy(request.strategy, milvus.server_version)
    if strategy != "meta_only":
        side.storage.storage.check_bucket()
    base = None
    if (request.incremental or request.base) and strategy != "meta_only":
        base = open_base(target, request.base, {f"{db}.{coll}" for db, names in targets.items() for coll in names})
        if base is None:
            logger.info("no complete backup of the same collections to reference: %s copies everything", name)
        else:
            logger.info("backup %s references the unchanged segments of backup %s", name, base.name)
    run.checks_passed()
    backup_id = str(uuid.uuid4())
    logger.info("creating backup %s of %d collection(s) with %s", name, sum(len(c) for c in targets.values()), strategy)
    # A hybrid timestamp (physical ms << 18) of now; a flush replaces it with the flush's own timestamp.
    info = BackupInfo(
        id=backup_id, name=name, milvus_version=milvus.server_version, backup_timestamp=int(time.time() * 1000) << 18
    )
    if request.rbac:
        info.rbac_meta = milvus.rbac_meta()
    for db in targets:
        db_id, properties = milvus.describe_database(db)
        info.database_backups.append(DatabaseBackupInfo(db_name=db, db_id=db_id, properties=properties))
    run.progress.start(sum(len(names) for names in targets.values()), "collections", "describe")

    def describe(pair: tuple[str, str]) -> CollectionBackupInfo:
        described = _describe(milvus, pair[0], pair[1], backup_id)
        run.progress.advance(1)
        return described

    pairs = [(db, coll) for db, names in targets.items() for coll in names]
    info.collection_backups = run.map(describe, pairs, limit=resources.settings.backup_collections)
    run.progress.finish()
    try:
        stats = (
            _backup_data(
                side,
                resources.settings,
                info,
                strategy,
                target,
                run,
                request.accept_unflushed_deletes,
                request.proof,
                rows,
                base,
            )
            if strategy != "meta_only"
            else _DataStats(proofs=skipped(info.collection_backups, "no data (meta only)"))
        )
        objects = sorted(stats.manifest_objects + stats.referenced, key=lambda o: o.key)
        manifest = Manifest(
            backup=name,
            objects=objects,
            collections=[_rows(c, stats.proofs.get(collection_key(c))) for c in info.collection_backups],
            unflushed_deletes_accepted=stats.unflushed_deletes_accepted,
        )
        references = References(name, base.name, manifest.owners()) if base is not None and stats.referenced else None
        _write_meta(target, name, info, manifest, references, run)
    except BaseException:
        _discard(target, backup_dir, name)
        raise
    return CreateResult(
        name,
        len(info.collection_backups),
        stats.segments,
        stats.objects,
        info.size,
        stats.server_side,
        time.monotonic() - started,
        info.milvus_version,
        stats.gc_paused,
        run.warnings,
        stats.proofs,
        base=references.base if references is not None else "",
        referenced_objects=len(stats.referenced),
        referenced_bytes=sum(o.size for o in stats.referenced),
    )


def _flush(milvus: MilvusClient, coll: CollectionBackupInfo, run: Run) -> None:
    """Flush and wait until Milvus has persisted the sealed segments (as long as the run may take)."""
    result = milvus.flush(coll.db_name, coll.collection_name)
    while not milvus.flushed(coll.db_name, coll.collection_name, result):
        run.sleep(FLUSH_POLL_SECONDS)
    coll.backup_timestamp = result.flush_ts
    coll.backup_physical_timestamp = result.seal_time
    run.progress.advance(1)


def _deletes_on_storage(milvus: MilvusClient, since_ts: int, settings: Settings, accept: bool, run: Run) -> bool:
    """Milvus before 2.3 keeps the deletes of already flushed segments in the DataNode's memory until
    dataNode.segment.syncPeriod passes; a flush does not write them. Every channel's checkpoint stays behind
    the oldest delete so held, so once all checkpoints have passed `since_ts` every delete before it is on
    storage (a checkpoint moves about once a minute). Waits for that, or fails; returns whether the user
    accepted copying without it."""
    if accept:
        run.warn(
            f"--accept-unflushed-deletes: Milvus {milvus.server_version} may still hold deletes in memory (written "
            "every dataNode.segment.syncPeriod); rows deleted shortly before this backup may come back on restore"
        )
        return True
    limit = settings.unflushed_deletes_wait
    started = time.monotonic()
    run.progress.start(int(limit), "seconds", "deletes to storage")
    waited = 0
    while not milvus.all_written_up_to(since_ts):
        if time.monotonic() - started >= limit:
            run.progress.finish()
            raise UnflushedDeletesError(version=milvus.server_version, address=milvus.address, seconds=limit)
        run.sleep(DELETES_POLL_SECONDS)
        now = int(time.monotonic() - started)
        run.progress.advance(now - waited)
        waited = now
    run.progress.finish()
    logger.info("every delete before the backup is on storage (waited %.1f s)", time.monotonic() - started)
    return False


def _backup_data(
    side: MilvusSide,
    settings: Settings,
    info: BackupInfo,
    strategy: str,
    target: StorageLocation,
    run: Run,
    accept_unflushed_deletes: bool,
    proof: bool,
    rows: RowSourceOpener,
    base: BaseIndex | None = None,
) -> _DataStats:
    milvus, source = side.client, side.storage
    colls = info.collection_backups
    before = counts_before(milvus, colls, strategy, run, settings.backup_collections) if proof else {}
    holds_deletes = not compat.has(milvus.server_version, "deletes written at flush")
    deletes_before = milvus.timestamp() if holds_deletes else 0
    if strategy == "serial_flush":
        run.progress.start(len(info.collection_backups), "collections", "flush")
        run.map(lambda coll: _flush(milvus, coll, run), info.collection_backups, limit=settings.backup_collections)
        run.progress.finish()
        info.backup_timestamp = (
            max((c.backup_timestamp for c in info.collection_backups), default=0) or info.backup_timestamp
        )
    accepted = holds_deletes and _deletes_on_storage(milvus, deletes_before, settings, accept_unflushed_deletes, run)
    offer = compat.gc_pause_offer(milvus.server_version)
    pause = gc_paused(side.gc_controls, run.warn, offer=offer) if settings.pause_gc else contextlib.nullcontext(False)
    with pause as paused:
        parts = {_part(coll): 0 for coll in info.collection_backups}
        # The total grows as the listings are read: copies start with the first segment listed.
        run.progress.start(0, "bytes", f"backup {info.name}", parts)
        tasks: list[CopyTask] = []
        referenced: list[ManifestObject] = []

        def listed_tasks() -> Iterator[CopyTask]:
            for coll in info.collection_backups:
                for seg in _listed_segments(milvus, source, coll, run):
                    unchanged = base.references(seg) if base is not None else None
                    if unchanged is not None:
                        referenced.extend(unchanged)
                        continue
                    for task in _copy_tasks(target.root, info.name, seg, _part(coll)):
                        tasks.append(task)
                        run.progress.grow(task.size, task.part)
                        yield task

        stats = copy_all(
            source.storage,
            target.storage,
            listed_tasks(),
            settings.transfer_mode,
            settings.copy_concurrency,
            run.progress,
            checksums=True,
            run=run,
        )
        run.progress.finish()
    for coll in info.collection_backups:
        for part in coll.partition_backups:
            part.segment_backups.sort(key=lambda s: s.segment_id)
            part.size = sum(s.size for s in part.segment_backups)
        coll.size = sum(p.size for p in coll.partition_backups) + sum(s.size for s in coll.l0_segments)
    info.size = sum(c.size for c in info.collection_backups)
    segment_count = sum(len(p.segment_backups) for c in info.collection_backups for p in c.partition_backups)
    segment_count += sum(len(c.l0_segments) for c in info.collection_backups)
    backup_dir = layout.backup_dir(target.root, info.name)
    binlogs = backup_dir + layout.BINLOG_DIR + "/"
    verify_listing(target.storage, [binlogs], unproven_sizes(tasks, stats), info.name)
    objects = [ManifestObject(t.dst_key[len(backup_dir) :], t.size, stats.checksums[t.dst_key]) for t in tasks]
    # The proof reads every segment of the backup: the referenced ones where their bytes lie.
    located = redirected(target, info.name, referenced)
    proofs = (
        prove(info.name, milvus, colls, before, rows(located, info), run, settings.backup_collections)
        if proof
        else skipped(colls, "not asked for")
    )
    return _DataStats(
        segment_count,
        stats.objects,
        stats.server_side,
        objects,
        paused,
        proofs=proofs,
        unflushed_deletes_accepted=accepted,
        referenced=referenced,
    )


def _part(coll: CollectionBackupInfo) -> str:
    """Whose progress a copy counts toward."""
    return f"{coll.db_name}.{coll.collection_name}"


def _listed_segments(
    milvus: MilvusClient, source: StorageLocation, coll: CollectionBackupInfo, run: Run
) -> Iterator[SourceSegment]:
    """The collection's flushed segments as its listing reaches them, each placed in its partition."""
    partitions = {p.partition_id: p for p in coll.partition_backups}
    persisted = milvus.persistent_segments(coll.db_name, coll.collection_name)
    for seg in describe_segments(source, coll.collection_id, persisted):
        if seg.orphans:
            run.warn(
                f"segment {seg.info.segment_id} of {coll.db_name}.{coll.collection_name}: {len(seg.orphans)} orphan "
                f"binlogs of an interrupted flush left out (not in every field; the rest holds the "
                f"{seg.info.num_of_rows} rows Milvus reports): {', '.join(seg.orphans)}"
            )
        if seg.info.partition_id == -1:
            coll.l0_segments.append(seg.info)
        elif seg.info.partition_id in partitions:
            partitions[seg.info.partition_id].segment_backups.append(seg.info)
        else:
            run.warn(
                f"segment {seg.info.segment_id} of {coll.db_name}.{coll.collection_name} belongs to no known "
                f"partition ({seg.info.partition_id}); left out"
            )
            continue
        yield seg


def _rows(coll: CollectionBackupInfo, proof: RowProof | None) -> ManifestCollection:
    # An L0 segment's rows are deletes: its count is kept per segment, not added to the partition's rows.
    partitions = {
        p.partition_name: sum(s.num_of_rows for s in p.segment_backups if not s.is_l0) for p in coll.partition_backups
    }
    segments = {str(s.segment_id): s.num_of_rows for p in coll.partition_backups for s in p.segment_backups}
    segments.update({str(s.segment_id): s.num_of_rows for s in coll.l0_segments})
    return ManifestCollection(coll.db_name, coll.collection_name, sum(partitions.values()), partitions, segments, proof)


def _write_meta(
    target: StorageLocation,
    name: str,
    info: BackupInfo,
    manifest: Manifest,
    references: References | None,
    run: Run,
) -> None:
    """The manifest, the references (of an incremental backup) and the level files at once, then
    backup_meta.json: until that last one exists the backup is incomplete, for this tool and for the Go tool
    alike."""
    files = codec.encode_files(info)
    files[layout.MANIFEST_FILE] = manifest.to_json()
    if references is not None:
        files[layout.REFERENCES_FILE] = references.to_json()
    commit = files.pop(layout.COMMIT_FILE)
    run.map(lambda file: target.storage.put(layout.meta_key(target.root, name, file), files[file]), files)
    run.check()  # a cancel or deadline that came while the files above were written still stops the backup
    target.storage.put(layout.meta_key(target.root, name, layout.COMMIT_FILE), commit)


def _discard(target: StorageLocation, backup_dir: str, name: str) -> None:
    """A failed create removes what it wrote (the name was free, so everything below it is ours), all but the
    lock: the name stays claimed until the create lets go of it."""
    with contextlib.suppress(BackupToolError):
        removed = target.storage.delete_prefix(f"{backup_dir}{layout.BINLOG_DIR}/")
        lock = lock_key(target, name)
        for info in list(target.storage.list(backup_dir)):
            if info.key != lock:
                target.storage.delete(info.key)
                removed += 1
        logger.info("backup %s failed: removed the %d object(s) it had written", name, removed)
