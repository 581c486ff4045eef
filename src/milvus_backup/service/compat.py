"""What each Milvus version can do, in one table: field types and features by the full version (major, minor,
patch) that first had them. A restore is checked against it before anything is created; a backup asks it how the
server handles deletes and GC."""

from __future__ import annotations

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import CollectionBackupInfo
from milvus_backup.milvus.protocol import parse_version

Version = tuple[int, int, int]

# Data types (schemapb.DataType) and the Milvus version that first had them.
_SCALARS = {1: "Bool", 2: "Int8", 3: "Int16", 4: "Int32", 5: "Int64", 10: "Float", 11: "Double", 20: "String"}
TYPE_SINCE: dict[int, tuple[str, Version]] = {
    **{code: (name, (2, 0, 0)) for code, name in _SCALARS.items()},
    21: ("VarChar", (2, 1, 0)),
    23: ("JSON", (2, 2, 9)),
    22: ("Array", (2, 3, 0)),
    100: ("BinaryVector", (2, 0, 0)),
    101: ("FloatVector", (2, 0, 0)),
    102: ("Float16Vector", (2, 4, 0)),
    103: ("BFloat16Vector", (2, 4, 0)),
    104: ("SparseFloatVector", (2, 4, 0)),
    105: ("Int8Vector", (2, 6, 0)),
    24: ("Geometry", (2, 6, 0)),
    25: ("Text", (2, 6, 0)),
    26: ("Timestamptz", (2, 6, 0)),
}
VECTOR_TYPES = {100, 101, 102, 103, 104, 105}

#: Features besides field types, and the Milvus version that first had them.
FEATURE_SINCE: dict[str, Version] = {
    "dynamic field": (2, 2, 9),
    "partition key": (2, 2, 9),
    "databases": (2, 2, 9),
    # Before 2.3 a flush leaves the deletes of already flushed segments in the DataNode's memory, until
    # dataNode.segment.syncPeriod passes.
    "deletes written at flush": (2, 3, 0),
    # Before 2.3 an import applies a delete to every row of its key, also to one inserted after it (an upsert).
    "imports apply deletes by timestamp": (2, 3, 0),
    "GC pause through DataCoord GcControl": (2, 3, 0),
    "GC pause through the management API": (2, 4, 0),
    "several vector fields": (2, 4, 0),
    "L0 delete segments": (2, 4, 0),
    "nullable fields and default values": (2, 5, 0),
    "functions": (2, 5, 0),
    "storage format v2": (2, 6, 0),
}


def has(server_version: str, feature: str) -> bool:
    return parse_version(server_version) >= FEATURE_SINCE[feature]


def shown(version: Version) -> str:
    return ".".join(str(part) for part in version)


def gc_pause_offer(server_version: str) -> str:
    """What this Milvus offers to pause GC, for the warning of a backup that could not pause it."""
    if has(server_version, "GC pause through the management API"):
        return "Milvus >= 2.4 pauses GC through milvus.management.endpoint (the management API)"
    if has(server_version, "GC pause through DataCoord GcControl"):
        return "Milvus 2.3 pauses GC through DataCoord's GcControl: set milvus.dataCoord.address"
    return (
        f"Milvus {server_version} offers no way to pause GC; only dataCoord.gc.dropTolerance in milvus.yaml "
        "(10800 s by default) keeps dropped segments' files"
    )


#: Import with `backup=true` (reading binlogs in place) appeared in Milvus 2.2.
IMPORTS_BACKUPS_SINCE = (2, 2)


def imports_backups(server_version: str) -> bool:
    """Whether the target reads a backup's binlogs itself (Import with backup=true). Milvus Lite has no Import
    at all; its version reads `milvus_lite-3.2.2` (the embedded Milvus 2.3.5's `v2.3.5-lite` does import)."""
    if server_version.lower().startswith("milvus_lite"):
        return False
    return parse_version(server_version)[:2] >= IMPORTS_BACKUPS_SINCE


def check_restorable(collection: CollectionBackupInfo, server_version: str) -> None:
    version = parse_version(server_version)
    name = f"{collection.db_name or 'default'}.{collection.collection_name}"
    problems = []

    def needs(what: str, since: Version) -> None:
        if version < since:
            problems.append(f"{what}, which needs Milvus >= {shown(since)}")

    vectors = 0
    for field in collection.schema.fields:
        known = TYPE_SINCE.get(field.data_type)
        if known is None:
            problems.append(f"field {field.name!r} has data type {field.data_type}, unknown to this tool")
            continue
        type_name, since = known
        needs(f"field {field.name!r} is a {type_name}", since)
        if field.data_type in VECTOR_TYPES:
            vectors += 1
        if field.is_partition_key:
            needs(f"field {field.name!r} is a partition key", FEATURE_SINCE["partition key"])
        if field.nullable or field.default_value_base64:
            needs(
                f"field {field.name!r} is nullable or has a default value",
                FEATURE_SINCE["nullable fields and default values"],
            )
    if collection.schema.enable_dynamic_field:
        needs("the schema has a dynamic field", FEATURE_SINCE["dynamic field"])
    if vectors > 1 and version < FEATURE_SINCE["several vector fields"]:
        problems.append(f"{vectors} vector fields; Milvus before 2.4 allows one")
    if collection.schema.functions:
        needs("functions (BM25, embeddings)", FEATURE_SINCE["functions"])
    segments = [s for p in collection.partition_backups for s in p.segment_backups] + collection.l0_segments
    if any(s.is_l0 for s in segments):
        needs("L0 delete segments", FEATURE_SINCE["L0 delete segments"])
    if any(s.storage_version >= 2 for s in segments):
        needs("storage format v2 segments", FEATURE_SINCE["storage format v2"])
    if problems:
        raise UnsupportedFormatError(
            detail=f"collection {name} cannot be restored into Milvus {server_version}: " + "; ".join(problems),
            hint="Restore into a Milvus at least as new as the one the backup was made from.",
        )
