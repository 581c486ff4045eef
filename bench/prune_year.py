"""`python -m bench.prune_year`: `prune` over a simulated year of nightly backups on local storage.

The 365 backups are written directly with the meta/ module (each its meta files only, one collection, no
binlogs): prune reads metas and deletes folders, so the data's size does not matter to it. The figure that
matters is prune's time against `list`'s on the same folder (prune is a list plus a policy plus deletes), in the
same process. Run `--days N` for another history length.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from milvus_backup.meta import codec, layout
from milvus_backup.meta.model import BackupInfo, CollectionBackupInfo
from milvus_backup.service import catalog
from milvus_backup.service.prune import PruneRequest, prune_backups
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.retention import RetentionPolicy
from milvus_backup.storage.local import LocalStorage

#: The policy of the docs' nightly example.
POLICY = RetentionPolicy(keep_daily=7, keep_weekly=4, keep_monthly=12)


def write_meta_only_backup(
    target: StorageLocation, name: str, when: datetime, collections: tuple[str, ...] = ("default.coll",)
) -> None:
    """A complete backup made at `when` (UTC) of `collections` ("db.coll"), holding its meta files only."""
    info = BackupInfo(
        id=str(uuid.uuid4()),
        state_code=2,
        name=name,
        backup_timestamp=int(when.timestamp() * 1000) << 18,
        collection_backups=[
            CollectionBackupInfo(db_name=db, collection_name=coll)
            for db, coll in (c.split(".", 1) for c in collections)
        ],
    )
    for file, data in codec.encode_files(info).items():
        target.storage.put(layout.meta_key(target.root, name, file), data)


def nightly_year(target: StorageLocation, days: int, end: datetime) -> None:
    for day in range(days):
        when = end - timedelta(days=day)
        write_meta_only_backup(target, f"nightly_{when:%Y%m%d_%H%M%S}", when)


def measure(days: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="milvus-backup-prune-") as tmp:
        target = StorageLocation(LocalStorage(Path(tmp)), "")
        nightly_year(target, days, datetime(2026, 12, 31, 2, 0, tzinfo=timezone.utc))
        started = time.perf_counter()
        listed = catalog.list_backups(target)
        list_seconds = time.perf_counter() - started
        dry = prune_backups(target, PruneRequest(POLICY, dry_run=True))
        result = prune_backups(target, PruneRequest(POLICY))
        assert len(listed) == days and len(result.removed) == len(dry.removed) and not result.warnings
        return {
            "backups": days,
            "kept": len(result.kept),
            "removed": len(result.removed),
            "list (s)": list_seconds,
            "prune --dry-run (s)": dry.seconds,
            "prune (s)": result.seconds,
            "prune ÷ list": result.seconds / list_seconds,
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prune_year", description=__doc__)
    parser.add_argument("--days", type=int, default=365, help="Nightly backups to simulate (default 365).")
    figures = measure(parser.parse_args().days)
    print("| figure | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")


if __name__ == "__main__":
    main()
