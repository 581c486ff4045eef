"""Run inside a user and mount namespace (see tests/small_fs.py): a create into a local backup storage on a tmpfs
of each given size, printing one JSON line per size: the error, and what was left on that file system.

`python -m tests.unit.service.full_disk_create <work dir> <sizes KiB, comma list> [<backup.yaml> <collection>]`:
on the fakes, or with a backup.yaml, against the Milvus it names (its backup root is replaced by each tmpfs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from milvus_backup import library
from milvus_backup.config import load_config
from milvus_backup.errors import BackupToolError
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.selection import parse_selection
from milvus_backup.storage.local import LocalStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT, fill_source


def on_fakes(work: Path) -> Callable[[Path], None]:
    (work / "milvus").mkdir()
    source = fill_source(FakeMilvus(LocalStorage(work / "milvus")))

    def create(mount: Path) -> None:
        backup = StorageLocation(LocalStorage(mount), BACKUP_ROOT)
        create_backup(Resources(backup, Settings(), source.side()), CreateRequest("full"))

    return create


def on_milvus(config_path: str, collection: str) -> Callable[[Path], None]:
    def create(mount: Path) -> None:
        config = load_config(config_path, [f"backup.storage.rootPath={mount}"], explicit=True).config
        library.create_backup(config, CreateRequest("full", parse_selection(collection)))

    return create


def main(work: Path, sizes: list[int], create: Callable[[Path], None]) -> None:
    for size in sizes:
        mount = work / f"fs{size}"
        mount.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}k", "tmpfs", str(mount)], check=True)
        outcome: dict[str, object] = {"size_kib": size, "location": mount.as_uri(), "error": None}
        try:
            create(mount)
        except BackupToolError as exc:
            outcome.update(error=type(exc).__name__, message=exc.message)
        outcome["left"] = sorted(str(Path(d, f).relative_to(mount)) for d, _, files in os.walk(mount) for f in files)
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    work, sizes = Path(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")]
    main(work, sizes, on_milvus(*sys.argv[3:5]) if len(sys.argv) > 3 else on_fakes(work))
