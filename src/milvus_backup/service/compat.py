"""Can this Milvus hold what the backup holds? Checked before anything is created."""

from __future__ import annotations

import re

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import CollectionBackupInfo

# Data types (schemapb.DataType) and the Milvus version that first had them.
_SCALARS = {
    1: "Bool",
    2: "Int8",
    3: "Int16",
    4: "Int32",
    5: "Int64",
    10: "Float",
    11: "Double",
    20: "String",
    21: "VarChar",
    22: "Array",
    23: "JSON",
}
TYPE_SINCE: dict[int, tuple[str, tuple[int, int]]] = {
    **{code: (name, (2, 0)) for code, name in _SCALARS.items()},
    100: ("BinaryVector", (2, 0)),
    101: ("FloatVector", (2, 0)),
    102: ("Float16Vector", (2, 4)),
    103: ("BFloat16Vector", (2, 4)),
    104: ("SparseFloatVector", (2, 4)),
    105: ("Int8Vector", (2, 6)),
    24: ("Geometry", (2, 6)),
    25: ("Text", (2, 6)),
    26: ("Timestamptz", (2, 6)),
}
VECTOR_TYPES = {100, 101, 102, 103, 104, 105}


def parse_version(text: str) -> tuple[int, int, int]:
    """'v2.3.5-lite' -> (2, 3, 5); anything unreadable is taken as new (99, 0, 0), as upstream does."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return (99, 0, 0)
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


#: Import with `backup=true` (reading binlogs in place) appeared in Milvus 2.2.
IMPORTS_BACKUPS_SINCE = (2, 2)


def imports_backups(server_version: str) -> bool:
    """Whether the target reads a backup's binlogs itself (Import with backup=true). Milvus Lite has no Import
    at all; its version reads `milvus_lite-3.2.2` (the embedded Milvus 2.3.5's `v2.3.5-lite` does import)."""
    if server_version.lower().startswith("milvus_lite"):
        return False
    return parse_version(server_version)[:2] >= IMPORTS_BACKUPS_SINCE


def check_restorable(collection: CollectionBackupInfo, server_version: str) -> None:
    version = parse_version(server_version)[:2]
    name = f"{collection.db_name or 'default'}.{collection.collection_name}"
    problems = []
    vectors = 0
    for field in collection.schema.fields:
        known = TYPE_SINCE.get(field.data_type)
        if known is None:
            problems.append(f"field {field.name!r} has data type {field.data_type}, unknown to this tool")
            continue
        type_name, since = known
        if version < since:
            problems.append(f"field {field.name!r} is a {type_name}, which needs Milvus >= {since[0]}.{since[1]}")
        if field.data_type in VECTOR_TYPES:
            vectors += 1
        if (field.nullable or field.default_value_base64) and version < (2, 5):
            problems.append(f"field {field.name!r} is nullable or has a default value, which needs Milvus >= 2.5")
    if vectors > 1 and version < (2, 4):
        problems.append(f"{vectors} vector fields; Milvus before 2.4 allows one")
    if collection.schema.functions and version < (2, 5):
        problems.append("functions (BM25, embeddings) need Milvus >= 2.5")
    segments = [s for p in collection.partition_backups for s in p.segment_backups] + collection.l0_segments
    if any(s.is_l0 for s in segments) and version < (2, 4):
        problems.append("L0 delete segments need Milvus >= 2.4")
    if any(s.storage_version >= 2 for s in segments) and version < (2, 6):
        problems.append("storage format v2 segments need Milvus >= 2.6")
    if problems:
        raise UnsupportedFormatError(
            detail=f"collection {name} cannot be restored into Milvus {server_version}: " + "; ".join(problems),
            hint="Restore into a Milvus at least as new as the one the backup was made from.",
        )
