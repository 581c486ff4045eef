"""Which databases and collections a command works on: the seed flags (`-c`, `-d`, `-a`) and `--filter`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from milvus_backup.errors import UsageError

DEFAULT_DB = "default"


@dataclass(frozen=True)
class Selection:
    """Database -> collection names; None means every collection of the database, [] its metadata only.
    An empty mapping with `everything` set means every database."""

    databases: dict[str, list[str] | None]
    everything: bool = False


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add(selection: dict[str, list[str] | None], db: str, collection: str | None) -> None:
    if collection is None:
        selection[db] = None
    elif selection.get(db, []) is not None:
        names = selection.setdefault(db, [])
        assert names is not None
        if collection and collection not in names:
            names.append(collection)


def parse_filter(text: str, label: str = "--filter") -> Selection:
    """`coll` (default database), `db.coll`, `db.*` (the whole database), `db.` (the database, no collections)."""
    selection: dict[str, list[str] | None] = {}
    for item in _split(text):
        db, dot, coll = item.rpartition(".")
        if not dot:
            _add(selection, DEFAULT_DB, item)
        elif not db:
            raise UsageError(detail=f"{label} {item!r}: expected coll, db.coll, db.* or db.")
        elif coll == "*":
            _add(selection, db, None)
        else:
            _add(selection, db, coll)  # "db." selects the database with no collections
    return Selection(selection)


def parse_database_collections(text: str, label: str = "--database_collections") -> Selection:
    """`-a '{"db1":["c1","c2"],"db2":[]}'`: an empty list means the whole database."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            detail=f"{label} is not valid JSON: {exc.msg} at character {exc.pos}",
            hint='Example: -a \'{"db1":["c1","c2"],"db2":[]}\'',
        ) from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in data.values()
    ):
        raise UsageError(
            detail=f"{label} must map database names to lists of collection names",
            hint='Example: -a \'{"db1":["c1","c2"],"db2":[]}\'',
        )
    blank = [repr(db) for db, names in data.items() if any(not n.strip() for n in names)]
    if blank:
        raise UsageError(
            detail=f"{label}: an empty collection name in database {blank[0]}",
            hint='Example: -a \'{"db1":["c1","c2"],"db2":[]}\'',
        )
    selection: dict[str, list[str] | None] = {}
    for db, names in data.items():
        for name in names or [None]:
            _add(selection, db or DEFAULT_DB, name)
    return Selection(selection)


def parse_selection(
    colls: str = "",
    databases: str = "",
    database_collections: str = "",
    filter_: str = "",
    *,
    filter_label: str = "--filter",
    database_collections_label: str = "--database_collections",
) -> Selection:
    """The seed flags and --filter into one selection. Precedence as upstream: --filter, then -a, then -c/-d
    (which combine). Errors name the options by the door's labels."""
    if filter_:
        return parse_filter(filter_, filter_label)
    if database_collections:
        return parse_database_collections(database_collections, database_collections_label)
    if not colls and not databases:
        return Selection({}, everything=True)
    selection: dict[str, list[str] | None] = {}
    for db in _split(databases):
        _add(selection, db, None)
    for item in _split(colls):
        db, dot, coll = item.rpartition(".")
        _add(selection, db if dot else DEFAULT_DB, coll if dot else item)
    return Selection(selection)
