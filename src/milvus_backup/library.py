"""Every command as a Python function of a `Config`: open what the command needs, run the service, close it.

The CLI and the REST server call these too, so a program gets exactly what they get. Each function takes an
optional `Run` (progress, cancel token, timeout, thread bound: see `wiring.new_run`); without one it makes its
own from the configuration.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from milvus_backup import wiring
from milvus_backup.config import Config
from milvus_backup.errors import BackupNotFoundError
from milvus_backup.meta.manifest import Manifest, RowProof
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service import catalog, references
from milvus_backup.service.catalog import BackupSummary
from milvus_backup.service.check import CheckReport, CheckStep, run_check
from milvus_backup.service.create import CreateRequest, CreateResult
from milvus_backup.service.create import create_backup as _create
from milvus_backup.service.names import validate_backup_name
from milvus_backup.service.prune import PruneRequest, PruneResult
from milvus_backup.service.prune import prune_backups as _prune
from milvus_backup.service.references import Chain, ConsolidateResult
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.restore import RestoreRequest, RestoreResult, check_options
from milvus_backup.service.restore import restore_backup as _restore
from milvus_backup.service.run import Run
from milvus_backup.service.selection import parse_selection
from milvus_backup.service.verify import VerifyReport
from milvus_backup.service.verify import verify_backup as _verify

if TYPE_CHECKING:  # these read binlogs with pyarrow, loaded only by the commands that do
    from milvus_backup.service.export import ExportRequest, ExportResult
    from milvus_backup.service.inspect import InspectReport

logger = logging.getLogger(__name__)


def check(config: Config, on_step: Callable[[CheckStep], None] = lambda step: None) -> CheckReport:
    """Connect to Milvus, compare its storage with what it reports, look at the backup storage, copy a probe
    object from one to the other, try a short GC pause. Leaves nothing behind, not even a directory of backups."""
    with wiring.open_resources(config, milvus=True, backup_root="probe") as resources:
        return run_check(resources, on_step)


def create_backup(config: Config, request: CreateRequest, run: Run | None = None) -> CreateResult:
    with (
        wiring.open_resources(config, milvus=True, backup_root="create") as resources,
        _run(config, run, f"backup {request.name}") as r,
    ):
        return _create(resources, request, r)


def restore_backup(config: Config, request: RestoreRequest, run: Run | None = None) -> RestoreResult:
    check_options(request)  # contradicting options are a usage error, whatever the backup storage holds
    _backups_of(config, request.name)
    with wiring.open_resources(config, milvus=True) as resources, _run(config, run, f"restore of {request.name}") as r:
        return _restore(resources, request, r)


def verify_backup(config: Config, name: str, quick: bool = False, run: Run | None = None) -> VerifyReport:
    _backups_of(config, name)
    with wiring.open_resources(config, milvus=False) as resources, _run(config, run, f"verify of {name}") as r:
        return _verify(resources.backup, name, quick, r)


def inspect_backup(
    config: Config, name: str, collections: str = "", sample_rows: int = 0, run: Run | None = None
) -> InspectReport:
    """What the backup holds, read from its own files: per collection and partition the segments, rows inserted,
    deleted and live, bytes and fields, and `sample_rows` live rows of each collection. Needs only the backup
    storage: Milvus is not contacted."""
    from milvus_backup.service.inspect import inspect_backup as _inspect

    target = _backups_of(config, name)
    with _run(config, run, f"inspect of {name}") as r:
        return _inspect(target, name, r, collections, sample_rows)


def export_backup(config: Config, request: ExportRequest, out: str, run: Run | None = None) -> ExportResult:
    """Write the backup's live rows into `out` (a local directory, or a storage URI: see wiring.export_target) as
    Parquet or JSON Lines files (see service/export.py for the layout); an export cut off resumes where it stopped
    when run again. Needs only the backup storage: Milvus is not contacted."""
    from milvus_backup.service.export import export_backup as _export

    backups = _backups_of(config, request.name)
    target = wiring.export_target(out, config)
    with _run(config, run, f"export of {request.name}") as r:
        return _export(backups, request, target, r)


def list_backups(config: Config) -> list[BackupSummary]:
    """The backups, complete or not; none when the local directory of backups does not exist yet (the first
    create makes it)."""
    target = wiring.backup_storage(config)
    if _missing_directory(target):
        logger.info(
            "The directory of backups %s does not exist yet: no backups (the first create makes it).", target.describe()
        )
        return []
    return catalog.list_backups(target)


def get_backup(config: Config, name: str) -> BackupInfo:
    return catalog.get_backup(_backups_of(config, name), name)


def get_proofs(config: Config, name: str) -> dict[str, RowProof]:
    """ "db.collection" -> the row-count proof the backup's create recorded (empty when it recorded none)."""
    return catalog.proofs_of(catalog.read_manifest(_backups_of(config, name), name))


def get_manifest(config: Config, name: str) -> Manifest | None:
    """The backup's manifest.json (ours), or None for a backup made by the Go tool."""
    return catalog.read_manifest(_backups_of(config, name), name)


def delete_backup(config: Config, name: str) -> int:
    """Delete every object of the backup, complete or not; returns how many were deleted. Refused with
    BackupReferencedError (naming them) while other backups reference its bytes."""
    return catalog.delete_backup(_backups_of(config, name), name)


def prune_backups(config: Config, request: PruneRequest) -> PruneResult:
    """Remove the backups the request's retention policy does not keep (with `dry_run`, only say which)."""
    target = wiring.backup_storage(config)
    if _missing_directory(target):
        logger.info("The directory of backups %s does not exist yet: nothing to prune.", target.describe())
        return PruneResult(kept=[], removed=[], dry_run=request.dry_run, seconds=0.0)
    return _prune(target, request)


def run_schedule(config: Config, schedule: str, backup_name: str, run: Run) -> dict[str, Any]:
    """One run of server.schedules' `schedule`: create `backup_name` of its selection, then prune its backups by
    its retention (if it has one). Returns the job's result: `create`, and `prune` when it pruned."""
    spec = next(s for s in config.server.schedules if s.name == schedule)
    request = CreateRequest(
        name=backup_name,
        selection=parse_selection(",".join(spec.collections), ",".join(spec.databases)),
        incremental=spec.incremental,
    )
    result: dict[str, Any] = {"create": dataclasses.asdict(create_backup(config, request, run))}
    policy = wiring.retention(spec)
    if not policy.empty:
        pruned = prune_backups(config, PruneRequest(policy, prefix=wiring.schedule_prefix(spec)))
        result["prune"] = dataclasses.asdict(pruned)
        for warning in pruned.warnings:
            run.warn(f"prune: {warning}")
    return result


def delete_with_dependents(config: Config, name: str) -> list[tuple[str, int]]:
    """Delete the backup and every backup that references it; (backup, objects deleted) in the order deleted."""
    return catalog.delete_with_dependents(_backups_of(config, name), name)


def dependents(config: Config, name: str) -> list[str]:
    """The backups that reference bytes held in backup `name`'s folder (a backup they need)."""
    return catalog.dependents(_backups_of(config, name), name)


def backup_chain(config: Config, name: str) -> Chain:
    """Where a backup's bytes lie: its bases, the bytes it holds, the bytes it references in each other backup."""
    target = _backups_of(config, name)
    catalog.read_backup(target, name)
    return references.describe_chain(target, name)


def consolidate_backup(config: Config, name: str, run: Run | None = None) -> ConsolidateResult:
    """Copy into the backup's folder every object it references, so it no longer needs any other backup."""
    _backups_of(config, name)
    with wiring.open_resources(config, milvus=False) as resources, _run(config, run, f"consolidate {name}") as r:
        return references.consolidate(resources.backup, resources.settings, name, r)


def _missing_directory(target: StorageLocation) -> bool:
    path = target.storage.local_path("")
    return path is not None and not os.path.isdir(path)


def _backups_of(config: Config, name: str) -> StorageLocation:
    """The backup storage, where backup `name` must be: without the directory of backups (local storage, before
    the first create) no backup is there (BackupNotFoundError), and nothing creates the directory."""
    validate_backup_name(name)  # a bad name is a usage error wherever the backups are
    target = wiring.backup_storage(config)
    if _missing_directory(target):
        raise BackupNotFoundError(
            name=name,
            location=target.describe(),
            hint="The directory of backups does not exist: nothing was backed up there yet. Check "
            "backup.storage.rootPath; `milvus-backup create` makes the directory.",
        )
    return target


def _run(config: Config, run: Run | None, what: str) -> AbstractContextManager[Run]:
    """The caller's run (which the caller closes), else a new one closed on leaving."""
    return nullcontext(run) if run is not None else wiring.new_run(config, what=what)
