"""`verify`: is every object of a backup still there, with its size and (unless quick) its content checksum?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from milvus_backup.config import Config
from milvus_backup.meta import layout
from milvus_backup.meta.model import BackupInfo, Binlog
from milvus_backup.progress import NullProgress, Progress
from milvus_backup.service import wiring
from milvus_backup.service.catalog import read_backup, read_manifest
from milvus_backup.service.copying import checksum_of

FULL, QUICK, SIZES_ONLY = "checksums", "sizes", "sizes (no manifest: made by another tool)"


@dataclass
class CollectionCheck:
    collection: str
    objects: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    name: str
    mode: str
    collections: list[CollectionCheck]

    @property
    def ok(self) -> bool:
        return not any(c.problems for c in self.collections)


def _log_id(log: Binlog) -> int:
    """Old backups carry no log_id: the file name of its source path is the id."""
    return log.log_id or int(log.log_path.rsplit("/", 1)[-1])


def _expected_from_meta(info: BackupInfo) -> dict[str, int]:
    """Backup-relative key -> size, from the meta alone (for backups without our manifest)."""
    expected: dict[str, int] = {}
    for coll in info.collection_backups:
        segments = [s for p in coll.partition_backups for s in p.segment_backups] + coll.l0_segments
        for seg in segments:
            for fb in seg.binlogs:
                for log in fb.binlogs:
                    key = layout.backup_insert_key("", "", seg.collection_id, seg.partition_id, seg.group_id,
                                                   seg.segment_id, fb.field_id, _log_id(log))
                    expected[key] = log.log_size
            for fb in seg.deltalogs:
                for log in fb.binlogs:
                    key = layout.backup_delta_key("", "", seg.collection_id, seg.partition_id, seg.group_id,
                                                  seg.segment_id, _log_id(log))
                    expected[key] = log.log_size
    return expected


def verify_backup(config: Config, name: str, quick: bool = False, progress: Progress | None = None) -> VerifyReport:
    progress = progress or NullProgress()
    target = wiring.backup_storage(config)
    info = read_backup(target, name)
    manifest = read_manifest(target, name)
    if manifest is not None:
        expected = {o.key: (o.size, o.checksum) for o in manifest.objects}
        mode = QUICK if quick else FULL
    else:
        expected = {key: (size, "") for key, size in _expected_from_meta(info).items()}
        mode = SIZES_ONLY
    names = {c.collection_id: f"{c.db_name or 'default'}.{c.collection_name}" for c in info.collection_backups}
    checks: dict[str, CollectionCheck] = {n: CollectionCheck(n) for n in names.values()}
    by_collection: dict[str, list[str]] = defaultdict(list)
    for key in expected:
        # binlogs/<insert_log|delta_log>/<collection id>/...
        coll = names.get(int(key.split("/")[2]), key.split("/")[2])
        by_collection[coll].append(key)
        checks.setdefault(coll, CollectionCheck(coll))
    backup_dir = layout.backup_dir(target.root, name)
    found = {i.key[len(backup_dir):]: i.size for i in target.storage.list(backup_dir + layout.BINLOG_DIR + "/")}
    progress.start(sum(size for size, _ in expected.values()), "bytes", f"verify {name}")
    for coll, keys in by_collection.items():
        check = checks[coll]
        for key in sorted(keys):
            size, checksum = expected[key]
            check.objects += 1
            check.bytes += size
            if key not in found:
                check.problems.append(f"{key}: missing")
            elif found[key] != size:
                check.problems.append(f"{key}: {found[key]} bytes, expected {size}")
            elif mode == FULL and checksum_of(target.storage, backup_dir + key, trust_service=False,
                                              algorithm=checksum.split(":", 1)[0]) != checksum:
                check.problems.append(f"{key}: content differs (checksum mismatch)")
            progress.advance(size)
    progress.finish()
    return VerifyReport(name, mode, sorted(checks.values(), key=lambda c: c.collection))
