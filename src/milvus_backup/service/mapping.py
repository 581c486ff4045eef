"""Where each backed-up collection is restored: `--suffix` and `--rename` (`db1.c1:db2.c2`, `c1:c2`,
`db1.*:db2.*`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from milvus_backup.errors import FIELD_CHARS, UsageError, bounded
from milvus_backup.service.selection import DEFAULT_DB

_SUFFIX = re.compile(r"[A-Za-z0-9_]+")
#: A database or collection name as Milvus allows it (letters, digits, '_' and '$', not starting with a digit).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
#: Milvus's longest database or collection name.
MAX_NAME_LENGTH = 255


def _qualified(text: str) -> tuple[str, str]:
    db, dot, coll = text.strip().rpartition(".")
    return (db, coll) if dot else (DEFAULT_DB, text.strip())


@dataclass(frozen=True)
class NameMapping:
    suffix: str = ""
    collections: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)

    def target(self, db: str, collection: str) -> tuple[str, str]:
        db = db or DEFAULT_DB
        if (db, collection) in self.collections:
            return self.collections[(db, collection)]
        return self.databases.get(db, db), collection + self.suffix


@dataclass(frozen=True)
class Rename:
    old: str
    new: str
    #: How the door that received it names this item, for errors: `--rename 'a:b'`, `collection_renames['a']`.
    label: str


def split_renames(text: str, label: str = "--rename") -> list[Rename]:
    """The CLI's `db1.c1:db2.c2,c1:c2` form."""
    renames = []
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        old, sep, new = pair.partition(":")
        if not sep or ":" in new:
            raise UsageError(
                detail=f"{label} {bounded(pair, FIELD_CHARS)!r}: expected OLD:NEW",
                hint="e.g. -r db1.c1:db2.c1_new,c2:c3",
            )
        renames.append(Rename(old, new, f"{label} {bounded(pair, FIELD_CHARS)!r}"))
    return renames


def parse_mapping(
    suffix: str = "",
    renames: list[Rename] | None = None,
    suffix_label: str = "--suffix",
    rename_label: str = "--rename",
) -> NameMapping:
    """Errors name the options as the door calls them (`suffix_label`, `rename_label`, each rename's label)."""
    renames = renames or []
    if suffix and renames:
        raise UsageError(
            detail=f"{suffix_label} and {rename_label} cannot be combined",
            hint=f"Give the new names with {rename_label}.",
        )
    if suffix and not _SUFFIX.fullmatch(suffix):
        raise UsageError(detail=f"{suffix_label} {suffix!r}: only letters, digits and '_' are allowed")
    collections: dict[tuple[str, str], tuple[str, str]] = {}
    databases: dict[str, str] = {}
    for rename in renames:
        if not rename.old.strip() or not rename.new.strip():
            raise UsageError(detail=f"{rename.label}: both the old and the new name are needed")
        (old_db, old_coll), (new_db, new_coll) = _qualified(rename.old), _qualified(rename.new)
        for part in (old_db, old_coll, new_db, new_coll):
            if len(part) > MAX_NAME_LENGTH:
                raise UsageError(
                    detail=f"{rename.label}: a name of {len(part)} characters; Milvus allows {MAX_NAME_LENGTH}"
                )
            if part != "*" and not _NAME.fullmatch(part):
                raise UsageError(
                    detail=f"{rename.label}: {part!r} is no database or collection name",
                    hint="Give coll, db.coll or db.*; names hold letters, digits, '_' and '$' and do not start "
                    "with a digit.",
                )
        if (old_coll == "*") != (new_coll == "*"):
            raise UsageError(detail=f"{rename.label}: map a whole database as db1.* to db2.*")
        old = (old_db, old_coll)
        if old in collections or (old_coll == "*" and old_db in databases):
            raise UsageError(detail=f"{rename.label}: {rename.old.strip()} is renamed twice")
        if old_coll == "*":
            databases[old_db] = new_db
        else:
            collections[old] = (new_db, new_coll)
    return NameMapping(suffix, collections, databases)
