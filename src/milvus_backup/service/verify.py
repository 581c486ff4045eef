"""`verify`: is every object of a backup still there, with its size and (unless quick) its content checksum?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from milvus_backup.meta import layout
from milvus_backup.meta.model import BackupInfo, Binlog
from milvus_backup.service.catalog import read_backup, read_manifest
from milvus_backup.service.copying import checksum_of
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run

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
    warnings: list[str] = field(default_factory=list)

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
                    key = layout.backup_insert_key(
                        "",
                        "",
                        seg.collection_id,
                        seg.partition_id,
                        seg.group_id,
                        seg.segment_id,
                        fb.field_id,
                        _log_id(log),
                    )
                    expected[key] = log.log_size
            for fb in seg.deltalogs:
                for log in fb.binlogs:
                    key = layout.backup_delta_key(
                        "", "", seg.collection_id, seg.partition_id, seg.group_id, seg.segment_id, _log_id(log)
                    )
                    expected[key] = log.log_size
    return expected


def verify_backup(target: StorageLocation, name: str, quick: bool = False, run: Run | None = None) -> VerifyReport:
    if run is None:
        with Run(what=f"verify of {name}") as own_run:
            return verify_backup(target, name, quick, own_run)
    info = read_backup(target, name)
    manifest = read_manifest(target, name)
    run.checks_passed()
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
    found = {i.key[len(backup_dir) :]: i.size for i in target.storage.list(backup_dir + layout.BINLOG_DIR + "/")}
    run.progress.start(sum(size for size, _ in expected.values()), "bytes", f"verify {name}")

    def problem(key: str) -> str | None:
        size, checksum = expected[key]
        found_size = found.get(key)
        found_problem = None
        if found_size is None:
            found_problem = f"{key}: missing"
        elif found_size != size:
            found_problem = f"{key}: {found_size} bytes, expected {size}"
        elif (
            mode == FULL
            and checksum_of(target.storage, backup_dir + key, trust_service=False, algorithm=checksum.split(":", 1)[0])
            != checksum
        ):
            found_problem = f"{key}: content differs (checksum mismatch)"
        run.progress.advance(size)
        return found_problem

    for coll, keys in by_collection.items():
        check = checks[coll]
        keys.sort()
        check.objects += len(keys)
        check.bytes += sum(expected[key][0] for key in keys)
        # Reading every byte is the slow part: the run's threads share it.
        check.problems.extend(p for p in run.map(problem, keys) if p is not None)
    run.progress.finish()
    return VerifyReport(name, mode, sorted(checks.values(), key=lambda c: c.collection), run.warnings)
