"""Service results and jobs -> the response bodies of `schemas.py`."""

from __future__ import annotations

import dataclasses
from typing import Any

from milvus_backup.api import schemas
from milvus_backup.meta.codec import to_dict
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service import catalog
from milvus_backup.service.create import CreateResult
from milvus_backup.service.jobs import STATE_NAMES, SUCCESS, Job
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


def backup_brief(job: Job | None, info: BackupInfo | None) -> schemas.BackupBrief:
    """The job's state (or, for a backup no job of this server made, `success`) plus the meta when complete."""
    fields: dict[str, Any] = {"state_code": SUCCESS, "progress": 100}
    if info is not None:
        meta = to_dict(info)
        meta.pop("state_code", None)
        meta.pop("rbac_meta", None)
        meta["collection_backups"] = [
            {k: v for k, v in c.items() if k not in _LEFT_OUT_OF_BRIEF} for c in meta.get("collection_backups", [])
        ]
        fields.update(meta)
    if job is not None:
        fields.update(
            id=job.id,
            name=job.name,
            state_code=job.state,
            progress=job.progress,
            errorMessage=job.error,
            start_time=int(job.start_time),
            end_time=int(job.end_time),
            collection_progress=collection_progress(job),
        )
    return schemas.BackupBrief(**fields)


def restore_task(job: Job) -> schemas.RestoreTask:
    collections = [
        schemas.CollectionRestoreTask(
            id=job.id,
            state_code=job.state,
            progress=100 if job.state == SUCCESS else job.progress,
            target_db_name=c["target"].split(".", 1)[0],
            target_collection_name=c["target"].split(".", 1)[1],
            source=c["source"],
            segments=c["segments"],
            rows=c["rows"],
            indexes=c["indexes"],
        )
        for c in job.result.get("collections", [])
    ]
    return schemas.RestoreTask(
        id=job.id,
        backup_name=job.name,
        state_code=job.state,
        progress=job.progress,
        errorMessage=job.error,
        start_time=int(job.start_time),
        end_time=int(job.end_time),
        collection_restore_tasks=collections,
        collection_progress=collection_progress(job),
    )


def backup_summary(summary: catalog.BackupSummary, last_verify: Job | None) -> schemas.BackupSummary:
    verify = None
    if last_verify is not None:
        verify = {
            "id": last_verify.id,
            "state": STATE_NAMES[last_verify.state],
            "ok": None if last_verify.running else last_verify.state == SUCCESS,
            "end_time": int(last_verify.end_time),
            "errorMessage": last_verify.error,
        }
    return schemas.BackupSummary(**dataclasses.asdict(summary), last_verify=verify)


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
    }
