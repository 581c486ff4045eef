"""The backups in backup storage: `list`, `get`, `delete`, and reading one backup's meta."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from milvus_backup.errors import (
    BackupIncompleteError,
    BackupNotFoundError,
    BackupReferencedError,
    BackupToolError,
    ObjectNotFoundError,
)
from milvus_backup.meta import codec, layout
from milvus_backup.meta.manifest import Manifest, RowProof
from milvus_backup.meta.model import BackupInfo
from milvus_backup.meta.references import References
from milvus_backup.service import claim
from milvus_backup.service.names import validate_backup_name
from milvus_backup.service.resources import StorageLocation

logger = logging.getLogger(__name__)

COMPLETE, INCOMPLETE, UNREADABLE = "complete", "incomplete", "unreadable"


@dataclass(frozen=True)
class BackupSummary:
    name: str
    state: str
    size: int = 0
    collections: list[str] = field(default_factory=list)
    created: str = ""
    milvus_version: str = ""
    detail: str = ""
    #: The backup's id (`id` in its meta, a uuid per create).
    id: str = ""
    #: The hybrid timestamp (physical ms << 18) the backup is as of; `created` shows it as a date.
    backup_timestamp: int = 0
    #: "db.collection" -> its row-count proof in brief (`proven (1000 rows)`, `unproven: not loaded ...`); empty
    #: for a backup without one (made by another tool, or before proofs).
    proof: dict[str, str] = field(default_factory=dict)
    #: The backup an incremental backup was made against ("" for one that holds all its bytes).
    base: str = ""
    #: Its create copied without waiting for the deletes Milvus 2.2 held in memory (--accept-unflushed-deletes).
    unflushed_deletes_accepted: bool = False


def hybrid_ts_to_iso(ts: int) -> str:
    """Milvus hybrid timestamps hold physical milliseconds in their upper bits."""
    if ts <= 0:
        return ""
    return datetime.fromtimestamp((ts >> 18) / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def read_backup(target: StorageLocation, name: str) -> BackupInfo:
    """The backup's meta; BackupNotFoundError if nothing is there, BackupIncompleteError if its meta was never
    written.

    A backup is what its folder holds: a folder copied or renamed to `name` keeps the name it was made with in
    its meta, and is read as `name`, so everything that follows (a restore's imports included) reads this folder's
    bytes, never those of the backup it was copied from."""
    validate_backup_name(name)
    files: dict[str, bytes] = {}
    for file in layout.META_FILES:
        try:
            files[file] = target.storage.get(layout.meta_key(target.root, name, file))
        except ObjectNotFoundError:
            continue
    if layout.COMMIT_FILE not in files:
        if next(iter(target.storage.list(layout.backup_dir(target.root, name))), None) is None:
            raise BackupNotFoundError(name=name, location=target.describe())
        raise BackupIncompleteError(name=name, location=target.describe())
    info = codec.decode_files(files)
    if info.name != name:
        logger.info(
            "backup folder %s holds the meta of backup %s (copied or renamed): read as %s", name, info.name, name
        )
        info.name = name
    return info


def read_manifest(target: StorageLocation, name: str) -> Manifest | None:
    """Our manifest, or None for a backup made by the Go tool."""
    try:
        raw = target.storage.get(layout.meta_key(target.root, name, layout.MANIFEST_FILE))
    except ObjectNotFoundError:
        return None
    return Manifest.from_json(raw)


def proofs_of(manifest: Manifest | None) -> dict[str, RowProof]:
    """ "db.collection" -> the row-count proof its create recorded."""
    if manifest is None:
        return {}
    return {f"{c.db or 'default'}.{c.collection}": c.proof for c in manifest.collections if c.proof is not None}


def summarize(info: BackupInfo, manifest: Manifest | None = None) -> BackupSummary:
    return BackupSummary(
        name=info.name,
        state=COMPLETE,
        size=info.size,
        collections=[f"{c.db_name or 'default'}.{c.collection_name}" for c in info.collection_backups],
        created=hybrid_ts_to_iso(info.backup_timestamp),
        milvus_version=info.milvus_version,
        id=info.id,
        backup_timestamp=info.backup_timestamp,
        proof={key: proof.brief() for key, proof in proofs_of(manifest).items()},
        unflushed_deletes_accepted=manifest is not None and manifest.unflushed_deletes_accepted,
    )


def list_backups(target: StorageLocation) -> list[BackupSummary]:
    target.storage.check_bucket()
    summaries = []
    for name in target.storage.list_dirs(target.root):
        try:
            summary = summarize(read_backup(target, name), _manifest_if_readable(target, name))
            references = read_references(target, name)
            summaries.append(dataclasses.replace(summary, base=references.base) if references else summary)
        except BackupIncompleteError:
            summaries.append(BackupSummary(name=name, state=INCOMPLETE, detail=_why_incomplete(target, name)))
        except BackupToolError as exc:
            # A folder that is not a backup, or a damaged one: shown, never mistaken for a good backup.
            summaries.append(BackupSummary(name=name, state=UNREADABLE, detail=str(exc)))
    return summaries


def _manifest_if_readable(target: StorageLocation, name: str) -> Manifest | None:
    """The manifest for the list's proof column; a damaged one is verify's to report, not list's."""
    try:
        return read_manifest(target, name)
    except BackupToolError as exc:
        logger.info("backup %s: manifest not read (%s)", name, exc)
        return None


def _why_incomplete(target: StorageLocation, name: str) -> str:
    held = claim.holder(target, name)
    if held is None:
        return "meta never written"
    if held.alive:
        return f"being created ({held.describe()})"
    return f"meta never written: its create was cut off ({held.describe()})"


def get_backup(target: StorageLocation, name: str) -> BackupInfo:
    return read_backup(target, name)


def delete_backup(target: StorageLocation, name: str) -> int:
    """Delete every object of the backup, complete or not; returns how many were deleted. A backup whose bytes
    other backups reference is refused (BackupReferencedError, naming them)."""
    validate_backup_name(name)
    target.storage.check_bucket()
    claim.refuse_if_held(target, name)
    refuse_if_referenced(target, name)
    removed = target.storage.delete_prefix(layout.backup_dir(target.root, name))
    if removed == 0:
        raise BackupNotFoundError(name=name, location=target.describe())
    logger.info("deleted backup %s (%d objects)", name, removed)
    return removed


def delete_with_dependents(target: StorageLocation, name: str) -> list[tuple[str, int]]:
    """Delete the backup and every backup that references it, directly or through another, each after those
    that reference it; returns (backup, objects deleted) in the order deleted."""
    validate_backup_name(name)
    target.storage.check_bucket()
    order = dependents_first(target, name)
    for backup in order:
        claim.refuse_if_held(target, backup)
    return [(backup, delete_backup(target, backup)) for backup in order]


def read_references(target: StorageLocation, name: str) -> References | None:
    """The backup's references.json, or None for a backup that holds all its bytes."""
    try:
        raw = target.storage.get(layout.meta_key(target.root, name, layout.REFERENCES_FILE))
    except ObjectNotFoundError:
        return None
    return References.from_json(raw)


def dependents_by_backup(target: StorageLocation) -> dict[str, list[str]]:
    """Backup -> the backups that reference bytes held in its folder, sorted; one small read per backup. A
    references.json that cannot be read fails the call: not knowing is no reason to delete."""
    found: dict[str, list[str]] = {}
    for other in target.storage.list_dirs(target.root):
        refs = read_references(target, other)
        for owner in refs.owners if refs is not None else []:
            found.setdefault(owner, []).append(other)
    return found


def dependents(target: StorageLocation, name: str) -> list[str]:
    """The backups that reference bytes held in `name`'s folder, sorted (what `prune` must keep `name` for)."""
    return dependents_by_backup(target).get(name, [])


def dependents_first(target: StorageLocation, name: str) -> list[str]:
    """`name` and every backup that depends on it, directly or through another, each after all its dependents
    (the order in which deleting them never leaves a backup pointing at a removed one)."""
    graph = dependents_by_backup(target)
    order: list[str] = []
    seen: set[str] = set()

    def visit(backup: str) -> None:
        seen.add(backup)
        for dependent in graph.get(backup, []):
            if dependent not in seen:
                visit(dependent)
        order.append(backup)

    visit(name)
    return order


def refuse_if_referenced(target: StorageLocation, name: str) -> None:
    found = dependents(target, name)
    if found:
        raise BackupReferencedError(name=name, dependents=found)
