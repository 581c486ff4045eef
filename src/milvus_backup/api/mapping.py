"""Upstream's JSON requests -> the service's requests, field by field as the CLI maps its flags."""

from __future__ import annotations

import json

from milvus_backup.api.schemas import CreateBackupRequest, RestoreBackupRequest
from milvus_backup.errors import FIELD_CHARS, bounded
from milvus_backup.service.create import CreateRequest, strategy_from_flags
from milvus_backup.service.mapping import Rename, parse_mapping
from milvus_backup.service.restore import RestoreRequest
from milvus_backup.service.selection import parse_selection


def _database_collections(value: str | dict[str, list[str]]) -> str:
    """Upstream takes db_collections as a JSON string or an object; one parser reads the string form."""
    return json.dumps(value) if isinstance(value, dict) else value


def _filter(body: CreateBackupRequest) -> str:
    """Upstream's `{"db": {"colls": ["c1"]}}` as the --filter string (`["*"]` is the whole database, `[]` the
    database's metadata only)."""
    items = []
    for db, spec in body.filter.items():
        if "*" in spec.colls:
            items.append(f"{db}.*")
        elif not spec.colls:
            items.append(f"{db}.")
        else:
            items.extend(f"{db}.{coll}" for coll in spec.colls)
    return ",".join(items)


def create_request(body: CreateBackupRequest) -> CreateRequest:
    selection = parse_selection(
        ",".join(body.collection_names),
        "",
        _database_collections(body.db_collections),
        _filter(body),
        filter_label="filter",
        database_collections_label="db_collections",
    )
    return CreateRequest(
        name=body.backup_name,
        selection=selection,
        strategy=strategy_from_flags(
            body.strategy, body.force, body.meta_only, labels=("strategy", "force", "meta_only")
        ),
        rbac=body.rbac,
        proof=not body.no_proof,
        incremental=body.incremental,
        base=body.base,
        accept_unflushed_deletes=body.accept_unflushed_deletes,
    )


def restore_request(body: RestoreBackupRequest) -> RestoreRequest:
    renames = [
        Rename(old, new, f"collection_renames[{bounded(old, FIELD_CHARS)!r}]")
        for old, new in body.collection_renames.items()
    ]
    return RestoreRequest(
        name=body.backup_name,
        selection=parse_selection(
            ",".join(body.collection_names),
            "",
            _database_collections(body.db_collections),
            database_collections_label="db_collections",
        ),
        mapping=parse_mapping(body.collection_suffix, renames, "collection_suffix", "collection_renames"),
        meta_only=body.metaOnly,
        restore_index=body.restoreIndex,
        use_auto_index=body.useAutoIndex,
        drop_exist_collection=body.dropExistCollection,
        drop_exist_index=body.dropExistIndex,
        skip_create_collection=body.skipCreateCollection,
        rbac=body.rbac,
        verify=body.verify,
        mode=body.mode,
        keep_partial=body.keep_partial,
    )
