"""milvus-backup: back up and restore Milvus collections.

The programmatic interface (see docs/library.md)::

    import milvus_backup

    config = milvus_backup.load_config("backup.yaml").config
    result = milvus_backup.create_backup(config, milvus_backup.CreateRequest(
        name="nightly", selection=milvus_backup.parse_selection(colls="books")))
    for backup in milvus_backup.list_backups(config): ...
    info = milvus_backup.get_backup(config, "nightly")
    report = milvus_backup.verify_backup(config, "nightly")
    restored = milvus_backup.restore_backup(config, milvus_backup.RestoreRequest(
        name="nightly", mapping=milvus_backup.parse_mapping(suffix="_restored")))
    milvus_backup.delete_backup(config, "nightly")
    report = milvus_backup.inspect_backup(config, "nightly")  # offline: the backup's own files
    exported = milvus_backup.export_backup(config, milvus_backup.ExportRequest(name="nightly"), "./out")
    pruned = milvus_backup.prune_backups(config, milvus_backup.PruneRequest(
        milvus_backup.RetentionPolicy(keep_daily=7, keep_weekly=4), prefix="nightly"))

Errors are `milvus_backup.errors.BackupToolError` subclasses. Names load lazily, so importing the package does
not load pymilvus and the storage SDKs until they are used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_config": "milvus_backup.config",
    "Config": "milvus_backup.config",
    "check": "milvus_backup.library",
    "create_backup": "milvus_backup.library",
    "restore_backup": "milvus_backup.library",
    "verify_backup": "milvus_backup.library",
    "list_backups": "milvus_backup.library",
    "get_backup": "milvus_backup.library",
    "delete_backup": "milvus_backup.library",
    "inspect_backup": "milvus_backup.library",
    "export_backup": "milvus_backup.library",
    "prune_backups": "milvus_backup.library",
    "PruneRequest": "milvus_backup.service.prune",
    "PruneResult": "milvus_backup.service.prune",
    "RetentionPolicy": "milvus_backup.service.retention",
    "new_run": "milvus_backup.wiring",
    "Run": "milvus_backup.service.run",
    "CreateRequest": "milvus_backup.service.create",
    "CreateResult": "milvus_backup.service.create",
    "RestoreRequest": "milvus_backup.service.restore",
    "RestoreResult": "milvus_backup.service.restore",
    "VerifyReport": "milvus_backup.service.verify",
    "BackupSummary": "milvus_backup.service.catalog",
    "InspectReport": "milvus_backup.service.inspect",
    "ExportRequest": "milvus_backup.service.export",
    "ExportResult": "milvus_backup.service.export",
    "CheckReport": "milvus_backup.service.check",
    "parse_selection": "milvus_backup.service.selection",
    "parse_filter": "milvus_backup.service.selection",
    "parse_mapping": "milvus_backup.service.mapping",
    "Rename": "milvus_backup.service.mapping",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'milvus_backup' has no attribute {name!r}")
