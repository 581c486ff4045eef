"""`prune`: remove the backups a retention policy does not keep (service/retention.py), among those a selection
picks (a name prefix, or exactly a set of collections).

What prune never removes, whatever the policy says:
* a backup a kept backup references (an incremental backup reads its base's files): kept, "referenced by X";
* an incomplete backup: one a create is writing (its claim is held) or one that was cut off; prune does not
  judge what has no meta, and `delete` removes a cut-off one by name;
* a folder whose meta cannot be read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from milvus_backup.errors import BackupToolError
from milvus_backup.service import catalog
from milvus_backup.service.catalog import BackupSummary
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.retention import Dated, RetentionPolicy, apply_policy
from milvus_backup.service.selection import DEFAULT_DB

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneRequest:
    policy: RetentionPolicy
    #: Only backups whose name starts with this.
    prefix: str = ""
    #: Only backups of exactly these collections ("db.coll"); empty: any.
    collections: frozenset[str] = frozenset()
    dry_run: bool = False


@dataclass(frozen=True)
class PrunedBackup:
    name: str
    #: When the backup was made (UTC, ISO 8601); empty for an incomplete one.
    created: str
    #: Why it stays (policies, "referenced by X", "incomplete: ..."); empty for a removed one.
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PruneResult:
    kept: list[PrunedBackup]
    removed: list[PrunedBackup]
    dry_run: bool
    seconds: float
    #: Backups the policy removes that could not be removed, each with why (kept, with that reason).
    warnings: list[str] = field(default_factory=list)


def collection_names(names: list[str]) -> frozenset[str]:
    """`coll` means `default.coll`, as everywhere else."""
    return frozenset(name if "." in name else f"{DEFAULT_DB}.{name}" for name in names)


def selected(summary: BackupSummary, request: PruneRequest) -> bool:
    if not summary.name.startswith(request.prefix):
        return False
    return not request.collections or frozenset(summary.collections) == request.collections


def referenced_by_kept(target: StorageLocation, kept: list[str]) -> dict[str, list[str]]:
    """The backups whose folders hold bytes that the kept ones reference (an incremental backup's bases), each
    with the kept backups referencing it, from each kept backup's references (their owners)."""
    found: dict[str, list[str]] = {}
    for name in kept:
        references = catalog.read_references(target, name)
        for owner in references.owners if references is not None else []:
            found.setdefault(owner, []).append(name)
    return found


def prune_backups(target: StorageLocation, request: PruneRequest) -> PruneResult:
    request.policy.validate()  # the doors check first, naming their options; a program calling this is checked here
    started = time.monotonic()
    summaries = [s for s in catalog.list_backups(target) if selected(s, request)]
    complete = {s.name: s for s in summaries if s.state == catalog.COMPLETE}
    decisions = apply_policy(
        [Dated(s.name, _time(s.backup_timestamp)) for s in complete.values()],
        request.policy,
    )
    reasons = {d.name: list(d.reasons) for d in decisions}
    _keep_referenced(target, reasons)
    kept = [PrunedBackup(d.name, complete[d.name].created, reasons[d.name]) for d in decisions if reasons[d.name]]
    kept += [PrunedBackup(s.name, "", [_why_left(s)]) for s in summaries if s.state != catalog.COMPLETE]
    removed = [PrunedBackup(d.name, complete[d.name].created) for d in decisions if not reasons[d.name]]
    warnings: list[str] = []
    if not request.dry_run:
        failed = _remove(target, removed)
        kept += [
            PrunedBackup(b.name, b.created, [f"could not be removed: {failed[b.name]}"])
            for b in removed
            if b.name in failed
        ]
        removed = [b for b in removed if b.name not in failed]
        warnings = [f"{name} not removed: {why}" for name, why in failed.items()]
    seconds = time.monotonic() - started
    logger.info(
        "prune%s: %d backup(s) kept, %d removed in %.1f s",
        " (dry run)" if request.dry_run else "",
        len(kept),
        len(removed),
        seconds,
    )
    return PruneResult(kept, removed, request.dry_run, seconds, warnings)


def _time(hybrid_ts: int) -> datetime:
    return datetime.fromtimestamp((hybrid_ts >> 18) / 1000, tz=timezone.utc)


def _keep_referenced(target: StorageLocation, reasons: dict[str, list[str]]) -> None:
    """Keep what the kept backups reference, and what that references in turn, until nothing new is kept."""
    kept = [name for name, why in reasons.items() if why]
    while kept:
        newly = []
        for base, users in referenced_by_kept(target, kept).items():
            if base in reasons and not reasons[base]:
                newly.append(base)
            if base in reasons:
                reasons[base].append(f"referenced by {', '.join(sorted(users))}")
        kept = newly


def _why_left(summary: BackupSummary) -> str:
    return f"{summary.state}: {summary.detail}" if summary.detail else summary.state


def _remove(target: StorageLocation, removed: list[PrunedBackup]) -> dict[str, str]:
    """Delete each backup; one that cannot be deleted (a create claimed it meanwhile, a backup made since
    references it, storage refused) is returned with why, and the others are still removed."""
    failed = {}
    for backup in removed:
        try:
            catalog.delete_backup(target, backup.name)
        except BackupToolError as exc:
            failed[backup.name] = exc.message
    return failed
