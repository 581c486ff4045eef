"""Where each backed-up collection is restored: `--suffix` and `--rename` (`db1.c1:db2.c2`, `c1:c2`,
`db1.*:db2.*`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from milvus_backup.errors import UsageError
from milvus_backup.service.selection import DEFAULT_DB

_SUFFIX = re.compile(r"[A-Za-z0-9_]+")


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


def parse_mapping(suffix: str = "", rename: str = "") -> NameMapping:
    if suffix and rename:
        raise UsageError(detail="--suffix and --rename cannot be combined", hint="Give the new names with --rename.")
    if suffix and not _SUFFIX.fullmatch(suffix):
        raise UsageError(detail=f"--suffix {suffix!r}: only letters, digits and '_' are allowed")
    collections: dict[tuple[str, str], tuple[str, str]] = {}
    databases: dict[str, str] = {}
    for pair in (p for p in rename.split(",") if p.strip()):
        old, sep, new = pair.partition(":")
        if not sep or not old.strip() or not new.strip():
            raise UsageError(detail=f"--rename {pair!r}: expected OLD:NEW", hint="e.g. -r db1.c1:db2.c1_new,c2:c3")
        (old_db, old_coll), (new_db, new_coll) = _qualified(old), _qualified(new)
        if (old_coll == "*") != (new_coll == "*"):
            raise UsageError(detail=f"--rename {pair!r}: map a whole database as db1.*:db2.*")
        if old_coll == "*":
            databases[old_db] = new_db
        else:
            collections[(old_db, old_coll)] = (new_db, new_coll)
    return NameMapping(suffix, collections, databases)
