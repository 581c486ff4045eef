"""Restores: restore, get_restore."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from milvus_backup import library
from milvus_backup.api import schemas, views
from milvus_backup.api.context import ServerContext, new_request_id, server_context
from milvus_backup.api.mapping import restore_request
from milvus_backup.api.routes import ERROR_RESPONSES
from milvus_backup.service.jobs import RESTORE
from milvus_backup.service.names import default_backup_name, validate_backup_name
from milvus_backup.service.run import Run

router = APIRouter(prefix="/api/v1", tags=["restores"], responses=ERROR_RESPONSES)

Context = Annotated[ServerContext, Depends(server_context)]


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
            requestId=request_id, msg="restore backup is executing asynchronously", data=views.restore_task(job)
        )
    job = ctx.runner.run(job, work, timeout=body.timeout)
    return schemas.RestoreBackupResponse(requestId=request_id, data=views.restore_task(job))


@router.get("/get_restore", response_model=schemas.RestoreBackupResponse)
def get_restore(
    request: Request, ctx: Context, id: Annotated[str, Query(min_length=1)]
) -> schemas.RestoreBackupResponse:
    """A restore job's state and progress, also after a server restart."""
    job = ctx.runner.store.get(id, kind=RESTORE)
    return schemas.RestoreBackupResponse(requestId=new_request_id(request), data=views.restore_task(job))
