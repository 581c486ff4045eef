"""`check`: will backups work with this configuration? Every step reports; the first failure stops it."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from milvus_backup.errors import BackupToolError, CopyFailedError, MilvusRootEmptyError
from milvus_backup.meta.layout import check_probe_keys
from milvus_backup.service.resources import Resources
from milvus_backup.storage.transfer import copy_object

logger = logging.getLogger(__name__)

PROBE = b"milvus-backup check probe\n"


@dataclass(frozen=True)
class CheckStep:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class CheckReport:
    milvus_version: str
    steps: list[CheckStep]


def run_check(resources: Resources, on_step: Callable[[CheckStep], None] = lambda step: None) -> CheckReport:
    """Connect to Milvus, look at both storages, copy a probe object from one to the other.

    An empty Milvus storage root does not stop the other checks (they still tell the user something), but it
    fails the check at the end: it is the usual cause of backups that hold no data.
    """
    steps: list[CheckStep] = []

    def report(name: str, ok: bool, detail: str) -> None:
        step = CheckStep(name, ok, detail)
        steps.append(step)
        on_step(step)

    side = resources.need_milvus()
    milvus = side.client
    databases = milvus.list_databases()
    version = milvus.server_version
    report("milvus", True, f"connected to {milvus.address}, version {version}, {len(databases)} database(s)")

    source = side.storage
    source.storage.check_bucket()
    milvus_root_empty = next(iter(source.storage.list(source.root)), None) is None
    if milvus_root_empty:
        report("milvus storage", False, f"{source.describe()} is EMPTY: no Milvus data found there")
    else:
        report("milvus storage", True, f"{source.describe()} holds Milvus data")

    target = resources.backup
    target.storage.check_bucket()
    backups = target.storage.list_dirs(target.root)
    report("backup storage", True, f"{target.describe()} is reachable, {len(backups)} folder(s) below the root")

    token = uuid.uuid4().hex
    src_key, dst_key = check_probe_keys(source.root, target.root, token)
    mode = resources.settings.transfer_mode
    try:
        source.storage.put(src_key, PROBE)
        server_side = copy_object(source.storage, src_key, target.storage, dst_key, len(PROBE), mode).server_side
        copied = target.storage.get(dst_key)
        if copied != PROBE:
            raise CopyFailedError(src=src_key, dst=dst_key, detail="the copy's content differs from the probe")
        how = "server-side" if server_side else "streamed through milvus-backup"
        report("copy", True, f"probe object copied ({how}, transfer.mode {mode}) and read back")
    except BackupToolError as exc:
        report("copy", False, str(exc))
        raise
    finally:
        for storage, key in ((source.storage, src_key), (target.storage, dst_key)):
            with contextlib.suppress(BackupToolError):
                storage.delete(key)

    if milvus_root_empty:
        raise MilvusRootEmptyError(address=milvus.address, location=source.describe())
    return CheckReport(version, steps)
