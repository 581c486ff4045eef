"""The row-count proof of a create: the live rows of the copied binlogs (deletes applied) against Milvus's own
`count(*)`, taken before the flush and again after the copy.

Equal counts before and after mean the collection showed the same number of rows all along (a write and a delete
of as many rows in between would go unseen; the proof does not claim more). The segments' row counts that Milvus
reports include deleted rows, so this is the one check that sees what a user sees."""

from __future__ import annotations

import logging

from milvus_backup.errors import MilvusError, RowProofError
from milvus_backup.meta.manifest import PROVEN, SKIPPED, UNPROVEN, RowProof
from milvus_backup.meta.model import CollectionBackupInfo
from milvus_backup.milvus.protocol import MilvusClient
from milvus_backup.service.compat import parse_version
from milvus_backup.service.row_source import RowSource
from milvus_backup.service.run import Run

logger = logging.getLogger(__name__)

#: Milvus's count(*) query appeared in 2.3; on 2.2 a count would have to page through every primary key.
COUNT_SINCE = (2, 3)


def collection_key(coll: CollectionBackupInfo) -> str:
    return f"{coll.db_name or 'default'}.{coll.collection_name}"


def skipped(colls: list[CollectionBackupInfo], reason: str) -> dict[str, RowProof]:
    return {collection_key(c): RowProof(SKIPPED, reason) for c in colls}


def counts_before(
    milvus: MilvusClient, colls: list[CollectionBackupInfo], strategy: str, run: Run, limit: int
) -> dict[str, int | str]:
    """Per collection, Milvus's count(*) before the flush, or why there is none."""
    if strategy == "skip_flush":
        why = "not flushed (strategy skip_flush): Milvus counts rows that the backup does not hold"
        return {collection_key(c): why for c in colls}
    if parse_version(milvus.server_version)[:2] < COUNT_SINCE:
        why = f"Milvus {milvus.server_version} has no count(*) (it appeared in 2.3)"
        return {collection_key(c): why for c in colls}

    def count(coll: CollectionBackupInfo) -> int | str:
        if coll.load_state != "Loaded":
            return f"not loaded ({coll.load_state or 'NotLoad'}): Milvus counts the rows of a loaded collection only"
        return _count(milvus, coll)

    return dict(zip([collection_key(c) for c in colls], run.map(count, colls, limit=limit), strict=True))


def _count(milvus: MilvusClient, coll: CollectionBackupInfo) -> int | str:
    try:
        return milvus.count_rows(coll.db_name or "default", coll.collection_name)
    except MilvusError as exc:
        return f"count(*) failed: {exc}"


def prove(
    name: str,
    milvus: MilvusClient,
    colls: list[CollectionBackupInfo],
    before: dict[str, int | str],
    source: RowSource,
    run: Run,
    limit: int,
) -> dict[str, RowProof]:
    """Count again, read the backup's live rows where a comparison can be made, and compare. A collection whose
    rows differ fails the create (RowProofError); one that cannot be compared is recorded unproven, with a
    warning that says why."""

    def one(coll: CollectionBackupInfo) -> RowProof:
        key = collection_key(coll)
        counted = before[key]
        if isinstance(counted, str):
            return RowProof(UNPROVEN, counted)
        after = _count(milvus, coll)
        if isinstance(after, str):
            return RowProof(UNPROVEN, after, count_before=counted)
        if after != counted:
            why = f"rows changed during the backup: count(*) {counted} before the flush, {after} after the copy"
            return RowProof(UNPROVEN, why, count_before=counted, count_after=after)
        live = source.count(coll, run)
        if live != counted:
            raise RowProofError(
                name=name,
                detail=f"{key}: its binlogs hold {live} live row(s), Milvus counts {counted} (before the flush and "
                "after the copy alike)",
            )
        return RowProof(PROVEN, backup_rows=live, count_before=counted, count_after=after)

    proofs = dict(zip([collection_key(c) for c in colls], run.map(one, colls, limit=limit), strict=True))
    for key, proof in proofs.items():
        if proof.state == UNPROVEN:
            run.warn(f"{key}: row count not proven: {proof.reason}")
        else:
            logger.info("%s: row count %s", key, proof.brief())
    return proofs
