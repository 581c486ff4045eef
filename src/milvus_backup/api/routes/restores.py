"""Restores: restore, get_restore."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from milvus_backup import library
from milvus_backup.api import schemas, views
from milvus_backup.api.context import ServerContext, new_request_id, server_context
from milvus_backup.api.mapping import restore_request
from milvus_backup.api.routes import ERROR_RESPONSES
from milvus_backup.errors import BackupToolError
from milvus_backup.service.jobs import RESTORE, SUCCESS, Job
from milvus_backup.service.names import default_backup_name, validate_backup_name
from milvus_backup.service.run import Run

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["restores"], responses=ERROR_RESPONSES)

Context = Annotated[ServerContext, Depends(server_context)]


def _read_sizes(ctx: ServerContext, job: Job) -> dict[str, int]:
    sizes: dict[str, int] = {}
    try:
        body = schemas.RestoreBackupRequest.model_validate(job.request)
        if body.metaOnly:
            return sizes
        mapping = restore_request(body).mapping
        for coll in library.get_backup(ctx.config, job.name).collection_backups:
            db, name = mapping.target(coll.db_name, coll.collection_name)
            if f"{db}.{name}" in job.parts:
                sizes[f"{db}.{name}"] = sum(s.size for p in coll.partition_backups for s in p.segment_backups)
    except (BackupToolError, ValidationError) as exc:
        logger.info("restore job %s: the sizes of its collections are unknown (%s)", job.id, exc)
    return sizes


def _planned_sizes(ctx: ServerContext, job: Job) -> dict[str, int]:
    """Bytes each target collection of a running (or failed) restore job has to import: its backed-up segments'
    sizes, read from the backup's meta once per job. A job that succeeded carries them in its result."""
    if job.state == SUCCESS or not job.parts:
        ctx.restore_sizes.pop(job.id, None)
        return {}
    if job.id not in ctx.restore_sizes:
        ctx.restore_sizes[job.id] = _read_sizes(ctx, job)
    return ctx.restore_sizes[job.id]


def _task(ctx: ServerContext, job: Job) -> schemas.RestoreTask:
    return views.restore_task(job, _planned_sizes(ctx, job))


def _default_restore_id() -> str:
    """`restore_YYYY_MM_DD_HH_MM_SS_<nanos>` (UTC), upstream's restore task id."""
    return "restore" + default_backup_name().removeprefix("backup")


@router.post("/restore", response_model=schemas.RestoreBackupResponse)
def restore(body: schemas.RestoreBackupRequest, request: Request, ctx: Context) -> schemas.RestoreBackupResponse:
    """Restore collections from a backup. With `async` the answer comes once the restore's checks have passed
    (backup readable, options consistent, no target collection in the way): poll get_restore?id=."""
    service_request = restore_request(body)
    validate_backup_name(body.backup_name)
    job = ctx.runner.store.add(
        body.id or _default_restore_id(), RESTORE, body.backup_name, body.model_dump(by_alias=True)
    )

    def work(run: Run) -> dict[str, Any]:
        return views.restore_result(library.restore_backup(ctx.config, service_request, run))

    request_id = new_request_id(request, body.requestId)
    if body.run_async:
        job = ctx.runner.start(job, work, wait_for_checks=True, timeout=body.timeout)
        return schemas.RestoreBackupResponse(
            requestId=request_id, msg="restore backup is executing asynchronously", data=_task(ctx, job)
        )
    job = ctx.runner.run(job, work, timeout=body.timeout)
    return schemas.RestoreBackupResponse(requestId=request_id, data=_task(ctx, job))


@router.get("/get_restore", response_model=schemas.RestoreBackupResponse)
def get_restore(
    request: Request, ctx: Context, id: Annotated[str, Query(min_length=1)]
) -> schemas.RestoreBackupResponse:
    """A restore job's state and progress, also after a server restart."""
    job = ctx.runner.store.get(id, kind=RESTORE)
    return schemas.RestoreBackupResponse(requestId=new_request_id(request), data=_task(ctx, job))
