"""Every command as a Python function of a `Config`: open what the command needs, run the service, close it.

The CLI and the REST server call these too, so a program gets exactly what they get. Each function takes an
optional `Run` (progress, cancel token, timeout, thread bound: see `wiring.new_run`); without one it makes its
own from the configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from milvus_backup import wiring
from milvus_backup.config import Config
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service import catalog
from milvus_backup.service.catalog import BackupSummary
from milvus_backup.service.check import CheckReport, CheckStep, run_check
from milvus_backup.service.create import CreateRequest, CreateResult
from milvus_backup.service.create import create_backup as _create
from milvus_backup.service.restore import RestoreRequest, RestoreResult
from milvus_backup.service.restore import restore_backup as _restore
from milvus_backup.service.run import Run
from milvus_backup.service.verify import VerifyReport
from milvus_backup.service.verify import verify_backup as _verify


def check(config: Config, on_step: Callable[[CheckStep], None] = lambda step: None) -> CheckReport:
    """Connect to Milvus, look at both storages, copy a probe object from one to the other."""
    with wiring.open_resources(config, milvus=True) as resources:
        return run_check(resources, on_step)


def create_backup(config: Config, request: CreateRequest, run: Run | None = None) -> CreateResult:
    with wiring.open_resources(config, milvus=True) as resources, _run(config, run, f"backup {request.name}") as r:
        return _create(resources, request, r)


def restore_backup(config: Config, request: RestoreRequest, run: Run | None = None) -> RestoreResult:
    with wiring.open_resources(config, milvus=True) as resources, _run(config, run, f"restore of {request.name}") as r:
        return _restore(resources, request, r)


def verify_backup(config: Config, name: str, quick: bool = False, run: Run | None = None) -> VerifyReport:
    with wiring.open_resources(config, milvus=False) as resources, _run(config, run, f"verify of {name}") as r:
        return _verify(resources.backup, name, quick, r)


def list_backups(config: Config) -> list[BackupSummary]:
    return catalog.list_backups(wiring.backup_storage(config))


def get_backup(config: Config, name: str) -> BackupInfo:
    return catalog.get_backup(wiring.backup_storage(config), name)


def delete_backup(config: Config, name: str) -> int:
    """Delete every object of the backup, complete or not; returns how many were deleted."""
    return catalog.delete_backup(wiring.backup_storage(config), name)


def _run(config: Config, run: Run | None, what: str) -> AbstractContextManager[Run]:
    """The caller's run (which the caller closes), else a new one closed on leaving."""
    return nullcontext(run) if run is not None else wiring.new_run(config, what=what)
