"""milvus-backup: back up and restore Milvus collections.

The programmatic interface (see docs/library.md)::

    import milvus_backup

    config = milvus_backup.load_config("backup.yaml").config
    result = milvus_backup.create_backup(config, milvus_backup.CreateRequest(
        name="nightly", selection=milvus_backup.parse_selection(colls="books")))
    for backup in milvus_backup.list_backups(config): ...
    info = milvus_backup.get_backup(config, "nightly")
    report = milvus_backup.verify_backup(config, "nightly")
    milvus_backup.delete_backup(config, "nightly")

Errors are `milvus_backup.errors.BackupToolError` subclasses. Names load lazily, so importing the package does
not load pymilvus and the storage SDKs until they are used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_config": "milvus_backup.config",
    "Config": "milvus_backup.config",
    "CreateRequest": "milvus_backup.service.create",
    "CreateResult": "milvus_backup.service.create",
    "create_backup": "milvus_backup.service.create",
    "parse_selection": "milvus_backup.service.selection",
    "list_backups": "milvus_backup.service.catalog",
    "get_backup": "milvus_backup.service.catalog",
    "delete_backup": "milvus_backup.service.catalog",
    "verify_backup": "milvus_backup.service.verify",
    "run_check": "milvus_backup.service.check",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'milvus_backup' has no attribute {name!r}")
