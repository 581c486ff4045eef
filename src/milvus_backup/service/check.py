"""`check`: will backups work with this configuration? Every step reports; a failure fails the check.

The Milvus storage is cross-checked against Milvus itself: the segments Milvus reports as flushed must have their
insert logs under the configured root (a non-empty root proves nothing: the parent of Milvus's root is not empty
either). A root that does not hold them is looked for one level down and beside it, so the error can name the root
to set. A Milvus that stores nothing yet (a fresh restore target) passes: there is nothing to compare.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from milvus_backup.errors import (
    BackupToolError,
    CollectionNotFoundError,
    CopyFailedError,
    DatabaseNotFoundError,
    MilvusRootMismatchError,
    SourceDataError,
)
from milvus_backup.meta.layout import check_probe_keys, join
from milvus_backup.milvus.protocol import GcControl, GcUnsupported, MilvusClient, Segment
from milvus_backup.service.resources import Resources, StorageLocation
from milvus_backup.storage.transfer import copy_object

logger = logging.getLogger(__name__)

PROBE = b"milvus-backup check probe\n"
#: Collections with flushed segments whose insert logs are looked for: one is proof enough, a few are surer.
COLLECTIONS_COMPARED = 3
#: Collections asked for their segments at most, looking for ones with flushed data (one call each).
COLLECTIONS_LOOKED_AT = 200
#: Partitions of one collection whose segment folders are listed (a partition key makes hundreds).
PARTITIONS_COMPARED = 8
#: Folders tried as Milvus's real root when the configured one does not hold its files.
CANDIDATE_ROOTS = 50
#: The trial GC pause: long enough to prove the pause, short enough to be harmless if the resume fails.
GC_PAUSE_SECONDS = 5


@dataclass(frozen=True)
class CheckStep:
    name: str
    ok: bool
    detail: str
    #: The step passed, but something will not work as well as it could (e.g. GC cannot be paused).
    warning: bool = False


@dataclass(frozen=True)
class CheckReport:
    milvus_version: str
    steps: list[CheckStep]
    #: The details of the steps that passed with a warning, as `<step>: <detail>`.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Flushed:
    """A collection with flushed segments (L0 segments left out: they have no insert logs)."""

    db: str
    name: str
    segments: list[Segment]

    @property
    def label(self) -> str:
        return f"{self.db}.{self.name}"


def run_check(
    resources: Resources,
    on_step: Callable[[CheckStep], None] = lambda step: None,
    gc_pause_seconds: int = GC_PAUSE_SECONDS,
) -> CheckReport:
    """Connect to Milvus, compare its storage with what it reports, look at the backup storage, copy a probe
    object from one to the other, try a short GC pause.

    A Milvus storage root that does not hold Milvus's files does not stop the other checks (they still tell the
    user something), but it fails the check at the end: it is the usual cause of failed or empty backups.
    """
    steps: list[CheckStep] = []

    def report(name: str, ok: bool, detail: str, warning: bool = False) -> None:
        step = CheckStep(name, ok, detail, warning)
        steps.append(step)
        on_step(step)

    side = resources.need_milvus()
    milvus = side.client
    databases = milvus.list_databases()
    version = milvus.server_version
    report("milvus", True, f"connected to {milvus.address}, version {version}, {len(databases)} database(s)")

    source = side.storage
    source.storage.check_bucket()
    root_error: BackupToolError | None = None
    try:
        report("milvus storage", True, _compare_root(milvus, source))
    except (MilvusRootMismatchError, SourceDataError) as exc:
        report("milvus storage", False, str(exc))
        root_error = exc

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

    if not resources.settings.pause_gc:
        report("gc pause", True, "not tried: backup.pauseGC is false, so backups do not pause Milvus GC")
    else:
        ok, detail = _try_gc_pause(side.gc_controls, version, gc_pause_seconds)
        report("gc pause", True, detail, warning=not ok)

    if root_error is not None:
        raise root_error
    return CheckReport(version, steps, [f"{s.name}: {s.detail}" for s in steps if s.warning])


# -- the Milvus storage against Milvus -------------------------------------------------------------------------


def _flushed_collections(milvus: MilvusClient) -> tuple[list[_Flushed], int, bool]:
    """Up to COLLECTIONS_COMPARED collections with flushed segments; how many collections were looked at, and
    whether the looking stopped at COLLECTIONS_LOOKED_AT."""
    found: list[_Flushed] = []
    looked = 0
    for db in milvus.list_databases():
        try:
            names = milvus.list_collections(db)
        except DatabaseNotFoundError:  # dropped meanwhile
            continue
        for name in names:
            if looked == COLLECTIONS_LOOKED_AT:
                return found, looked, True
            looked += 1
            try:
                segments = [s for s in milvus.persistent_segments(db, name) if not s.is_l0]
            except (CollectionNotFoundError, DatabaseNotFoundError):  # dropped meanwhile
                continue
            if segments:
                found.append(_Flushed(db, name, segments))
                if len(found) == COLLECTIONS_COMPARED:
                    return found, looked, False
    return found, looked, False


def _groups(collection: _Flushed) -> dict[tuple[int, int], list[Segment]]:
    """(collection id, partition id) -> its flushed segments, for the first PARTITIONS_COMPARED partitions."""
    groups: dict[tuple[int, int], list[Segment]] = defaultdict(list)
    for seg in sorted(collection.segments, key=lambda s: (s.partition_id, s.segment_id)):
        key = (seg.collection_id, seg.partition_id)
        if key in groups or len(groups) < PARTITIONS_COMPARED:
            groups[key].append(seg)
    return groups


def _segment_folder(root: str, seg: Segment) -> str:
    return join(root, "insert_log", str(seg.collection_id), str(seg.partition_id), str(seg.segment_id)) + "/"


def _present(location: StorageLocation, root: str, group: tuple[int, int]) -> set[str]:
    """The segment folders below `<root>insert_log/<collection>/<partition>/` that hold an object."""
    collection_id, partition_id = group
    return set(location.storage.list_dirs(join(root, "insert_log", str(collection_id), str(partition_id)) + "/"))


def _compare_root(milvus: MilvusClient, source: StorageLocation) -> str:
    """The step's detail when the root holds the insert logs of the flushed segments Milvus reports (or Milvus
    reports none); `MilvusRootMismatchError` when it holds none of them, `SourceDataError` when only some."""
    where = source.describe()
    collections, looked, capped = _flushed_collections(milvus)
    if not collections:
        scope = f"the first {looked} collections" if capped else f"{looked} collection(s)"
        if next(iter(source.storage.list(source.root)), None) is None:
            return (
                f"{where} holds nothing yet, and nothing is stored yet: no flushed segments in {scope} (a new or "
                "empty Milvus, e.g. a restore target); there is nothing to compare the root with"
            )
        return (
            f"{where} not compared with Milvus: no flushed segments in {scope}, so nothing is stored yet that the "
            "root must hold"
        )
    checked = 0
    for collection in collections:
        groups = _groups(collection)
        wanted = [seg for segs in groups.values() for seg in segs]
        missing = []
        for group, segs in groups.items():
            present = _present(source, source.root, group)
            missing += [seg for seg in segs if str(seg.segment_id) not in present]
        if len(missing) == len(wanted):
            raise _mismatch(source, collection, groups)
        if missing:
            seg = missing[0]
            raise SourceDataError(
                location=where,
                detail=f"{len(missing)} of the {len(wanted)} flushed segments of {collection.label} checked have no "
                f"insert logs (segment {seg.segment_id}: nothing under {_segment_folder(source.root, seg)})",
            )
        checked += len(wanted)
    labels = ", ".join(c.label for c in collections)
    return f"{where} holds the insert logs of the {checked} flushed segment(s) Milvus reports for {labels}"


def _mismatch(
    source: StorageLocation, collection: _Flushed, groups: dict[tuple[int, int], list[Segment]]
) -> MilvusRootMismatchError:
    group, segments = next(iter(groups.items()))
    seg = segments[0]
    expected = _segment_folder("", seg)
    detail = (
        f"{collection.label} has {len(collection.segments)} flushed segment(s), and none of them is there (segment "
        f"{seg.segment_id} should be at {expected} below the root)"
    )
    found = _find_root(source, group, {str(s.segment_id) for s in segments})
    if found is None:
        hint = (
            f"Milvus keeps its files under <root>/{expected}, and nothing at or beside {source.describe()} holds "
            "them. Set bucketName and rootPath (v2: milvus.storage.*) to minio.bucketName and minio.rootPath of "
            "milvus.yaml (for local storage, rootPath to Milvus's localStorage.path)."
        )
    else:
        shown = f"{source.storage.location}/{found}"
        local = source.storage.local_path(found.rstrip("/"))
        value = local if local is not None else found.rstrip("/")
        hint = f"found Milvus's files under {shown}: set rootPath (v2: milvus.storage.rootPath) to {value}"
    return MilvusRootMismatchError(location=source.describe(), detail=detail, hint=hint)


def _find_root(source: StorageLocation, group: tuple[int, int], segment_ids: set[str]) -> str | None:
    """A prefix one level below the root, the root's parent, or one beside the root (same parent) whose
    `insert_log/<collection>/<partition>/` holds any of `segment_ids`: Milvus's real root, when the configured
    one is its parent, a child or a sibling."""
    root = source.root
    candidates = [join(root, name) + "/" for name in source.storage.list_dirs(root)[:CANDIDATE_ROOTS]]
    if root:
        parent = root.rstrip("/").rpartition("/")[0]
        parent = parent + "/" if parent else ""
        siblings = [join(parent, name) + "/" for name in source.storage.list_dirs(parent)[:CANDIDATE_ROOTS]]
        candidates += [parent] + [s for s in siblings if s != root]
    for candidate in candidates:
        if _present(source, candidate, group) & segment_ids:
            return candidate
    return None


# -- pausing GC -----------------------------------------------------------------------------------------------


def _milvus_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def gc_pause_key(version: str) -> str:
    """The configuration key that lets a backup pause GC on this Milvus version."""
    minor = _milvus_minor(version)
    if minor is not None and minor < (2, 4):
        return (
            f"milvus.dataCoord.address (host:port of DataCoord's gRPC port, dataCoord.port in milvus.yaml, 13333 by "
            f"default: Milvus {version} has no management route to pause GC)"
        )
    if minor is not None:
        return "milvus.management.endpoint (Milvus's management HTTP endpoint, port 9091 by default)"
    return "milvus.management.endpoint (Milvus >= 2.4) or milvus.dataCoord.address (Milvus 2.3)"


def _try_gc_pause(controls: list[GcControl], version: str, seconds: int) -> tuple[bool, str]:
    """Pause GC for `seconds` and resume it through the first control that works, as a backup would; (whether
    it worked, the step's detail)."""
    reasons = []
    for control in controls:
        try:
            control.pause(seconds)
        except GcUnsupported as exc:
            reasons.append(str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - any failure to pause is a finding of the check
            reasons.append(f"{control.name}: {exc}")
            continue
        try:
            control.resume()
        except Exception as exc:  # noqa: BLE001 - the pause ends by itself
            return False, (
                f"GC paused through the {control.name}, but resuming failed ({exc}); it resumes by itself within "
                f"{seconds} s"
            )
        return True, f"GC paused for {seconds} s and resumed through the {control.name}, as a backup does"
    return False, (
        f"GC cannot be paused with this configuration, so backups run without the pause (relying on Milvus keeping "
        f"dropped files for dataCoord.gc.dropTolerance): set {gc_pause_key(version)}. Reasons: "
        f"{'; '.join(reasons) or 'no GC control configured'}"
    )
