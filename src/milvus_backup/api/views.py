"""Service results and jobs -> the response bodies of `schemas.py`."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from milvus_backup.api import schemas
from milvus_backup.meta.codec import to_dict
from milvus_backup.meta.manifest import RowProof
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service import catalog
from milvus_backup.service.create import CreateResult
from milvus_backup.service.jobs import FAIL, STATE_NAMES, SUCCESS, Job
from milvus_backup.service.references import Chain
from milvus_backup.service.restore import RestoreResult
from milvus_backup.service.verify import VerifyReport

# A brief leaves out what can be large (segments and their binlogs); `milvus-backup get` prints everything.
_LEFT_OUT_OF_BRIEF = ("partition_backups", "l0_segments")


def collection_progress(job: Job) -> list[schemas.CollectionProgress]:
    return [
        schemas.CollectionProgress(name=name, unit=job.unit, done=done, total=total)
        for name, (done, total) in job.parts.items()
    ]


def job_view(job: Job) -> schemas.JobView:
    return schemas.JobView(
        id=job.id,
        kind=job.kind,  # type: ignore[arg-type]  # a job's kind is one of the three the store writes
        name=job.name,
        state_code=job.state,
        state=STATE_NAMES[job.state],
        progress=job.progress,
        unit=job.unit,
        done=job.done,
        total=job.total,
        errorMessage=job.error,
        start_time=int(job.start_time),
        end_time=int(job.end_time),
        cancel_requested=job.cancel_requested,
        collection_progress=collection_progress(job),
        request=job.request,
        result=job.result,
    )


def backup_brief(
    job: Job | None,
    info: BackupInfo | None,
    meta_size: int = 0,
    proofs: dict[str, RowProof] | None = None,
    chain: Chain | None = None,
) -> schemas.BackupBrief:
    """The job's state (or, for a backup no job of this server made, `success`) plus the meta when complete. The
    `id` is the backup's own (its meta's) once the meta is written; before, the job's. `chain` (ours) says where
    the backup's bytes lie."""
    fields: dict[str, Any] = {"state_code": SUCCESS, "progress": 100}
    if job is not None:
        fields.update(
            id=job.id,
            job_id=job.id,
            name=job.name,
            state_code=job.state,
            progress=job.progress,
            errorMessage=job.error,
            start_time=int(job.start_time),
            end_time=int(job.end_time),
            collection_progress=collection_progress(job),
        )
    if info is not None:
        meta = to_dict(info)
        meta.pop("state_code", None)
        meta.pop("rbac_meta", None)
        meta["collection_backups"] = [
            {k: v for k, v in c.items() if k not in _LEFT_OUT_OF_BRIEF} for c in meta.get("collection_backups", [])
        ]
        fields.update(meta, meta_size=meta_size)
        fields["proof"] = {key: dataclasses.asdict(p) for key, p in (proofs or {}).items()}
    if chain is not None:
        fields["chain"] = {k: v for k, v in dataclasses.asdict(chain).items() if k != "name"}
    return schemas.BackupBrief(**fields)


def _percent(done: int, total: int) -> int:
    return 100 * done // total if total else 0


def restore_task(job: Job, sizes: dict[str, int] | None = None) -> schemas.RestoreTask:
    """Upstream's restore task view of a restore job. A collection's bytes are its backed-up segments' sizes: the
    result's once the job succeeded, else `sizes` (target db.collection -> bytes, from the backup's meta), and
    its restored bytes grow with the segments imported."""
    succeeded = job.state == SUCCESS
    results = {c["target"]: c for c in job.result.get("collections", [])}
    targets = list(results) or list(job.parts)
    collections = []
    for target in targets:
        result = results.get(target, {})
        done, total = job.parts.get(target, (0, 0))
        size = result.get("size", (sizes or {}).get(target, 0))
        db, _, name = target.partition(".")
        collections.append(
            schemas.CollectionRestoreTask(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"milvus-backup:restore:{job.id}/{target}")),
                state_code=job.state,
                errorMessage=job.error,
                start_time=int(job.start_time),
                end_time=int(job.end_time),
                progress=100 if succeeded else _percent(done, total),
                target_db_name=db,
                target_collection_name=name,
                restored_size=size if succeeded else size * done // total if total else 0,
                to_restore_size=size,
                source=result.get("source", ""),
                segments=result.get("segments", done),
                rows=result.get("rows", 0),
                indexes=result.get("indexes", 0),
                mode=result.get("mode", ""),
            )
        )
    return schemas.RestoreTask(
        id=job.id,
        state_code=job.state,
        errorMessage=job.error,
        start_time=int(job.start_time),
        end_time=int(job.end_time),
        progress=job.progress,
        collection_restore_tasks=collections,
        restored_size=sum(c.restored_size for c in collections),
        to_restore_size=sum(c.to_restore_size for c in collections),
        backup_name=job.name,
        collection_progress=collection_progress(job),
    )


def backup_summary(
    summary: catalog.BackupSummary, creator: Job | None, last_verify: Job | None
) -> schemas.BackupSummary:
    """A list item. `creator` is the job of this server that wrote this backup (or is writing it), if any: its
    times are the backup's start and end, and while it runs the backup is `executing`."""
    verify = None
    if last_verify is not None:
        verify = {
            "id": last_verify.id,
            "state": STATE_NAMES[last_verify.state],
            "ok": None if last_verify.running else last_verify.state == SUCCESS,
            "end_time": int(last_verify.end_time),
            "errorMessage": last_verify.error,
        }
    fields: dict[str, Any] = dataclasses.asdict(summary)
    if summary.state == catalog.COMPLETE:
        fields.update(state_code=SUCCESS, progress=100)
    elif creator is not None and creator.running:
        fields.update(id=creator.id, state_code=creator.state, progress=creator.progress)
    else:
        # Incomplete or unreadable: the job that left it so says why, else the catalog does.
        fields.update(state_code=FAIL, errorMessage=(creator.error if creator is not None else "") or summary.detail)
    if creator is not None:
        fields.update(start_time=int(creator.start_time), end_time=int(creator.end_time))
    return schemas.BackupSummary(**fields, last_verify=verify)


def create_result(result: CreateResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def restore_result(result: RestoreResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def verify_result(report: VerifyReport) -> dict[str, Any]:
    return {
        "name": report.name,
        "mode": report.mode,
        "ok": report.ok,
        "collections": [dataclasses.asdict(c) for c in report.collections],
        "warnings": report.warnings,
        "proofs": {key: dataclasses.asdict(proof) for key, proof in report.proofs.items()},
    }
