"""`verify`: is every object of a backup still there, with its size and (unless quick) its content checksum?"""

from __future__ import annotations

from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field

from milvus_backup.errors import BinlogFormatError
from milvus_backup.meta import layout
from milvus_backup.meta.manifest import Manifest, RowProof
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service.catalog import proofs_of, read_backup, read_manifest
from milvus_backup.service.copying import checksum_of
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.service.segments import relative_keys
from milvus_backup.storage.base import ObjectInfo

FULL, QUICK, SIZES_ONLY = "checksums", "sizes", "sizes (no manifest: made by another tool)"
#: Without a manifest, a full check reads each binlog's structure (meta/binlog.check_structure).
STRUCTURE = "sizes and binlog structure (no manifest: made by another tool)"


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
    #: "db.collection" -> the row-count proof its create recorded (none for backups without one).
    proofs: dict[str, RowProof] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(c.problems for c in self.collections)

    def problems_in_brief(self, shown: int = 5) -> str:
        """`N problem(s): the first few; and M more`, for an error message."""
        problems = [problem for check in self.collections for problem in check.problems]
        more = f" and {len(problems) - shown} more" if len(problems) > shown else ""
        return f"{len(problems)} problem(s): {'; '.join(problems[:shown])}{more}"


def _expected_from_meta(info: BackupInfo) -> dict[str, int]:
    """Backup-relative key -> size, from the meta alone (for backups without our manifest)."""
    expected: dict[str, int] = {}
    for coll in info.collection_backups:
        for seg in [s for p in coll.partition_backups for s in p.segment_backups] + coll.l0_segments:
            expected.update((key, log.log_size) for key, log in relative_keys(seg).items())
    return expected


def verify_backup(target: StorageLocation, name: str, quick: bool = False, run: Run | None = None) -> VerifyReport:
    if run is None:
        with Run(what=f"verify of {name}") as own_run:
            return verify_backup(target, name, quick, own_run)
    info = read_backup(target, name)
    manifest = read_manifest(target, name)
    run.checks_passed()
    report = check_objects(target, info, manifest, run, read_content=not quick)
    report.proofs = proofs_of(manifest)
    return report


def check_objects(
    target: StorageLocation,
    info: BackupInfo,
    manifest: Manifest | None,
    run: Run,
    *,
    read_content: bool,
    collection_ids: set[int] | None = None,
    trust_listing: bool = False,
) -> VerifyReport:
    """Each object of the backup (of `collection_ids` only, if given) against the manifest: present, of its size,
    and with `read_content`, of its checksum. `trust_listing` takes an MD5 that the storage's listing states (an S3
    ETag) for the content's, instead of reading the bytes: it proves the object is the one that was written, not
    that the service still holds it intact. A backup without a manifest (made by another tool) is checked by size
    from its meta and, with `read_content`, by each binlog's structure, with a warning saying so. An object an
    incremental backup references is checked where its bytes lie, in the folder of the backup that holds them."""
    name = info.name
    # Backup-relative key -> (size, checksum, the backup whose folder holds it: "" for this backup's own).
    expected: dict[str, tuple[int, str, str]]
    if manifest is not None:
        expected = {o.key: (o.size, o.checksum, o.backup) for o in manifest.objects}
        mode = FULL if read_content else QUICK
    else:
        expected = {key: (size, "", "") for key, size in _expected_from_meta(info).items()}
        mode = STRUCTURE if read_content else SIZES_ONLY
        run.warn(
            f"backup {name} has no manifest (made by another tool): its files were checked by "
            + (
                "size and binlog structure (whole events, Parquet payloads that decode, their page CRCs where "
                "written); a changed value that leaves these whole cannot be found without a manifest's checksums"
                if read_content
                else "size only"
            )
        )
    names = {c.collection_id: f"{c.db_name or 'default'}.{c.collection_name}" for c in info.collection_backups}
    checks: dict[str, CollectionCheck] = {}
    by_collection: dict[str, list[str]] = defaultdict(list)
    for key in expected:
        # binlogs/<insert_log|delta_log>/<collection id>/...
        folder = key.split("/")[2]
        if collection_ids is not None and int(folder) not in collection_ids:
            continue
        by_collection[names.get(int(folder), folder)].append(key)
    for collection_id, coll in names.items():
        if collection_ids is None or collection_id in collection_ids:
            checks[coll] = CollectionCheck(coll)
    checks.update((coll, CollectionCheck(coll)) for coll in by_collection if coll not in checks)
    backup_dir = layout.backup_dir(target.root, name)
    # A verify looks at the whole folder; a restore's check (of some collections) at the binlogs Milvus would read.
    listed = backup_dir if collection_ids is None else f"{backup_dir}{layout.BINLOG_DIR}/"
    own = {i.key[len(backup_dir) :]: i for i in target.storage.list(listed)}
    for key in sorted(own.keys() - expected.keys()):
        # What Milvus would import along with the backup's own files (a temporary file a killed write left, a
        # file copied in by hand) is a problem of its collection; anything else of ours is expected.
        if key.startswith(layout.BINLOG_DIR + "/"):
            folder = key.split("/")[2] if key.count("/") >= 3 else ""
            in_scope = collection_ids is None or (folder.isdigit() and int(folder) in collection_ids)
            if in_scope:
                coll = names.get(int(folder), folder) if folder.isdigit() else folder or key
                checks.setdefault(coll, CollectionCheck(coll)).problems.append(
                    f"{key}: not part of the backup (not in its {'manifest' if manifest else 'meta'})"
                )
        elif collection_ids is None and not _is_ours(key):
            run.warn(f"backup {name} holds {key}, which is not part of it")
    # The objects by (the backup whose folder holds them, key): this backup's own, and those of the backups it
    # references, one listing per folder.
    found: dict[tuple[str, str], ObjectInfo] = {("", key): info for key, info in own.items()}
    for owner in sorted({entry[2] for entry in expected.values()} - {""}):
        folder = layout.backup_dir(target.root, owner)
        found.update(((owner, i.key[len(folder) :]), i) for i in target.storage.list(folder + layout.BINLOG_DIR + "/"))
    total = sum(expected[key][0] for keys in by_collection.values() for key in keys)
    run.progress.start(total, "bytes", f"verify {name}")

    def problem(key: str) -> str | None:
        size, checksum, owner = expected[key]
        listed = found.get((owner, key))
        shown = f"{key} (in backup {owner})" if owner else key
        found_problem = None
        if listed is None:
            found_problem = f"{shown}: missing"
        elif listed.size != size:
            found_problem = f"{shown}: {listed.size} bytes, expected {size}"
        elif mode == FULL and checksum != _content_checksum(target, listed.key, listed, checksum, trust_listing):
            found_problem = f"{shown}: content differs (checksum mismatch)"
        elif mode == STRUCTURE:
            found_problem = _structure_problem(target, listed.key, key)
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


def _is_ours(key: str) -> bool:
    """The meta files, the create's lock and the restore journals: a backup's folder holds them besides its data."""
    top, _, rest = key.partition("/")
    if top == layout.META_DIR:
        return rest in (*layout.META_FILES, layout.MANIFEST_FILE, layout.REFERENCES_FILE)
    if top == layout.RESTORES_DIR:
        return "/" not in rest and rest.endswith(".json")
    return key == layout.LOCK_FILE


def _structure_problem(target: StorageLocation, key: str, relative: str) -> str | None:
    # pyarrow only here, for backups without a manifest: the command line leaves it out of `verify` otherwise.
    from milvus_backup.meta.binlog import BinlogFile, check_structure

    # binlogs/insert_log/<coll>/<part>[/<group>]/<seg>/<field>/<log>; a delta log's names no field
    parts = relative.split("/")
    field_id = int(parts[-2]) if parts[1] == "insert_log" else None
    try:
        with closing(target.storage.open_read(key)) as stream:
            check_structure(BinlogFile(stream, relative), field_id)
    except BinlogFormatError as exc:
        return f"{relative}: not a whole binlog ({exc.fields.get('detail', exc.message)})"
    return None


def _content_checksum(target: StorageLocation, key: str, listed: ObjectInfo, expected: str, trust_listing: bool) -> str:
    algorithm = expected.split(":", 1)[0]
    if trust_listing and algorithm == "md5" and listed.md5:
        return f"md5:{listed.md5}"
    return checksum_of(target.storage, key, trust_service=False, algorithm=algorithm)
