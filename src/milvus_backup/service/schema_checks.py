"""Can CreateCollection give back the backed-up schema, so that the binlogs' field ids match, and can Milvus read
the binlogs at all? Checked before anything is created, whatever the target's version (what a version lacks is
`compat.py`'s part)."""

from __future__ import annotations

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import CollectionBackupInfo, DatabaseBackupInfo

#: Milvus numbers a new collection's fields from here, in the order CreateCollection lists them, and `$meta` (the
#: dynamic field) after them (rootcoord's create-collection task).
FIRST_USER_FIELD_ID = 100
#: A database with these properties is an encryption zone (Milvus 2.6): its binlogs are encrypted, and an import
#: needs the zone's key (the Go tool fetches it from the management API and passes it as `ezk`).
ENCRYPTION_PROPERTIES = ("cipher.ezID", "cipher.key")


def check_recreatable(collection: CollectionBackupInfo) -> None:
    name = f"{collection.db_name or 'default'}.{collection.collection_name}"
    problems = []
    if collection.schema.struct_array_fields:
        names = ", ".join(str(f.get("name", "?")) for f in collection.schema.struct_array_fields)
        problems.append(f"struct fields ({names}; Milvus >= 2.6) are backed up but this tool does not recreate them")
    fields = [f for f in collection.schema.fields if not f.is_dynamic]
    for position, field in enumerate(fields):
        expected = FIRST_USER_FIELD_ID + position
        if field.field_id != expected:
            problems.append(
                f"field {field.name!r} has id {field.field_id}, but a new collection would give it {expected} and "
                "the binlogs would not match (fields added after the collection was created need "
                "AddCollectionField, which this tool does not call)"
            )
            break
    if problems:
        raise UnsupportedFormatError(
            detail=f"collection {name} cannot be recreated: " + "; ".join(problems),
            hint="Restore this backup with the Go milvus-backup (>= 0.5), which handles these schemas.",
        )


def check_readable(collection: CollectionBackupInfo, database: DatabaseBackupInfo | None) -> None:
    properties = {kv.key: kv.value for kv in database.properties} if database else {}
    if all(properties.get(key) for key in ENCRYPTION_PROPERTIES):
        raise UnsupportedFormatError(
            detail=f"collection {collection.db_name or 'default'}.{collection.collection_name} comes from an "
            "encrypted database (cipher.ezID): its binlogs need the encryption zone's key, which this tool does "
            "not carry",
            hint="Restore it with the Go milvus-backup, or with --meta_only for the schema alone.",
        )
