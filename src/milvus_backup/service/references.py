"""Incremental backups: which folder holds an object, what a new backup can reference, and who depends on whom.

An incremental backup lists all of its segments in the upstream meta, as any backup does; its manifest says, per
object, which backup's folder holds the bytes when that is not its own (`ManifestObject.backup`), and
`meta/references.json` names its base and those owners. A reference always names the backup that copied the
bytes, so a chain of any length resolves in one step.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from milvus_backup.errors import BackupToolError, UsageError
from milvus_backup.meta import codec, layout
from milvus_backup.meta.manifest import Manifest, ManifestObject
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service.catalog import read_backup, read_manifest, read_references
from milvus_backup.service.copying import CopyTask, copy_all, unproven_sizes, verify_listing
from milvus_backup.service.resources import Settings, StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.service.segments import SourceSegment, relative_keys

logger = logging.getLogger(__name__)

#: (collection id, partition id, segment id)
SegmentId = tuple[int, int, int]


def object_key(target: StorageLocation, name: str, obj: ManifestObject) -> str:
    """The storage key of an object of backup `name`: in its own folder, or in the folder of the backup holding
    its bytes."""
    return layout.backup_dir(target.root, obj.backup or name) + obj.key


def redirected(target: StorageLocation, name: str, objects: list[ManifestObject]) -> StorageLocation:
    """`target` as the binlog reader sees backup `name`: each object held in another backup's folder is read
    from there."""
    own = layout.backup_dir(target.root, name)
    moved = {own + o.key: object_key(target, name, o) for o in objects if o.backup and o.backup != name}
    return replace(target, redirects=moved) if moved else target


def reading_location(target: StorageLocation, name: str) -> StorageLocation:
    """Where the binlog reader finds the bytes of backup `name`, following its manifest's references."""
    manifest = read_manifest(target, name)
    return redirected(target, name, manifest.objects) if manifest is not None else target


def newest_base(target: StorageLocation, collections: set[str]) -> str | None:
    """The newest complete backup of exactly these collections that has our manifest (one made by another tool
    states no checksums to compare against), or None. Backups are taken newest first by their small
    `backup_meta.json`, and only those are read in full: with a year of nightly backups, reading every backup's
    whole meta for each create would make the creates slower every night."""
    stamped = []
    for name in target.storage.list_dirs(target.root):
        try:
            raw = target.storage.get(layout.meta_key(target.root, name, layout.COMMIT_FILE))
            stamped.append((codec.loads(BackupInfo, raw).backup_timestamp, name))
        except BackupToolError:  # incomplete or unreadable: never a base
            continue
    for _, name in sorted(stamped, reverse=True):
        try:
            info = read_backup(target, name)
        except BackupToolError:
            continue
        if _collections(info) == collections and read_manifest(target, name) is not None:
            return name
    return None


def _collections(info: BackupInfo) -> set[str]:
    return {f"{c.db_name or 'default'}.{c.collection_name}" for c in info.collection_backups}


@dataclass(frozen=True)
class _BaseSegment:
    #: (source key in Milvus storage, size) of every insert and delta log.
    logs: frozenset[tuple[str, int]]
    #: Backup-relative key -> the base's manifest entry, its `backup` set to the folder holding the bytes.
    objects: dict[str, ManifestObject]


class BaseIndex:
    """What an incremental create can reference: the base's segments, each with the binlogs it was copied from
    and where each copy lies now."""

    def __init__(self, name: str, info: BackupInfo, manifest: Manifest) -> None:
        self.name = name
        owned = {o.key: ManifestObject(o.key, o.size, o.checksum, o.backup or name) for o in manifest.objects}
        self._segments: dict[SegmentId, _BaseSegment] = {}
        for coll in info.collection_backups:
            for seg in [s for p in coll.partition_backups for s in p.segment_backups] + coll.l0_segments:
                keys = relative_keys(seg)
                objects = {key: owned[key] for key in keys if key in owned}
                if len(objects) == len(keys):
                    logs = frozenset(
                        (log.log_path, log.log_size) for fb in seg.binlogs + seg.deltalogs for log in fb.binlogs
                    )
                    self._segments[(seg.collection_id, seg.partition_id, seg.segment_id)] = _BaseSegment(logs, objects)

    def references(self, seg: SourceSegment) -> list[ManifestObject] | None:
        """The base's objects for this segment when its id and binlogs (source keys, sizes, and MD5s where both
        the source's listing and the base's manifest state one) are unchanged; None when it must be copied."""
        info = seg.info
        base = self._segments.get((info.collection_id, info.partition_id, info.segment_id))
        if base is None:
            return None
        logs = frozenset((log.log_path, log.log_size) for fb in info.binlogs + info.deltalogs for log in fb.binlogs)
        keys = relative_keys(info)
        if logs != base.logs or set(keys) != set(base.objects):
            return None
        for key, log in keys.items():
            md5 = seg.md5s.get(log.log_path)
            checksum = base.objects[key].checksum
            if md5 is not None and checksum.startswith("md5:") and checksum != f"md5:{md5}":
                return None
        return [base.objects[key] for key in keys]


def open_base(target: StorageLocation, name: str, collections: set[str]) -> BaseIndex | None:
    """The base of an incremental create: `name` if given (it must be complete and have our manifest), else the
    newest backup of the same collections; None when there is none (the create copies everything)."""
    if not name:
        found = newest_base(target, collections)
        if found is None:
            return None
        name = found
    info = read_backup(target, name)
    manifest = read_manifest(target, name)
    if manifest is None:
        raise UsageError(
            detail=f"backup {name!r} has no manifest (made by another tool): it cannot be the base of an "
            "incremental backup",
            hint="Give another --base, or leave it out to use the newest backup of the same collections.",
        )
    return BaseIndex(name, info, manifest)


@dataclass(frozen=True)
class Chain:
    """Where a backup's bytes lie: `get` shows it."""

    name: str
    #: The backup it was made against, that one's base, and so on ("" ends a chain at a backup holding all
    #: its bytes; a base deleted or made self-contained since ends it too).
    bases: list[str]
    owned_objects: int
    owned_bytes: int
    #: Backup -> bytes of this backup held in that backup's folder.
    referenced_bytes: dict[str, int]


def describe_chain(target: StorageLocation, name: str) -> Chain:
    manifest = read_manifest(target, name)
    if manifest is None:  # made by another tool: it holds all its bytes, as its meta lists them
        info = read_backup(target, name)
        segments = [s for c in info.collection_backups for p in c.partition_backups for s in p.segment_backups]
        segments += [s for c in info.collection_backups for s in c.l0_segments]
        return Chain(name, [], sum(len(relative_keys(s)) for s in segments), info.size, {})
    objects = manifest.objects
    referenced: dict[str, int] = {}
    for obj in objects:
        if obj.backup:
            referenced[obj.backup] = referenced.get(obj.backup, 0) + obj.size
    bases: list[str] = []
    current = read_references(target, name)
    while current is not None and current.base not in bases and current.base != name:
        bases.append(current.base)
        try:
            current = read_references(target, current.base)
        except BackupToolError:
            current = None
    owned = [o for o in objects if not o.backup]
    return Chain(name, bases, len(owned), sum(o.size for o in owned), referenced)


@dataclass(frozen=True)
class ConsolidateResult:
    name: str
    #: Objects and bytes copied into the backup's folder from the backups that held them.
    objects: int
    bytes: int
    server_side_copies: int
    #: The backups it referenced before (it references none now).
    former_owners: list[str]
    seconds: float


def consolidate(target: StorageLocation, settings: Settings, name: str, run: Run) -> ConsolidateResult:
    """Copy every object the backup references into its own folder, then rewrite its manifest without
    references and remove references.json: the backup is then self-contained, in upstream's layout, so the Go
    tool reads it too. Copies within one storage are server-side where the service can.

    The manifest is rewritten only after every copy is in place and proven, and references.json removed last:
    cut off anywhere, the backup still reads (its references still resolve) and still counts as referencing
    its owners."""
    started = time.monotonic()
    read_backup(target, name)  # refuses a missing or incomplete backup
    manifest = read_manifest(target, name)
    if manifest is None:
        return ConsolidateResult(name, 0, 0, 0, [], time.monotonic() - started)
    owners = manifest.owners()
    run.checks_passed()
    own_dir = layout.backup_dir(target.root, name)
    tasks = [
        CopyTask(object_key(target, name, o), own_dir + o.key, o.size, o.backup, _md5(o.checksum))
        for o in manifest.objects
        if o.backup
    ]
    run.progress.start(sum(t.size for t in tasks), "bytes", f"consolidate {name}")
    stats = copy_all(
        target.storage,
        target.storage,
        tasks,
        settings.transfer_mode,
        settings.copy_concurrency,
        run.progress,
        run=run,
    )
    run.progress.finish()
    verify_listing(target.storage, [own_dir + layout.BINLOG_DIR + "/"], unproven_sizes(tasks, stats), name)
    run.check()
    for obj in manifest.objects:
        obj.backup = ""
    target.storage.put(layout.meta_key(target.root, name, layout.MANIFEST_FILE), manifest.to_json())
    target.storage.delete(layout.meta_key(target.root, name, layout.REFERENCES_FILE))
    logger.info("backup %s is self-contained: copied %d object(s) from %s", name, stats.objects, ", ".join(owners))
    return ConsolidateResult(name, stats.objects, stats.bytes, stats.server_side, owners, time.monotonic() - started)


def _md5(checksum: str) -> str | None:
    return checksum[4:] if checksum.startswith("md5:") else None
