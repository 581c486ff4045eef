"""Jobs (ours): every backup, restore and verify this server ran, and cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from milvus_backup.api import schemas, views
from milvus_backup.api.context import ServerContext, new_request_id, server_context
from milvus_backup.api.routes import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=ERROR_RESPONSES)

Context = Annotated[ServerContext, Depends(server_context)]


@router.get("/jobs", response_model=schemas.JobsResponse)
def list_jobs(
    request: Request,
    ctx: Context,
    kind: Literal["backup", "restore", "verify"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> schemas.JobsResponse:
    """The latest jobs, newest first."""
    jobs = ctx.runner.store.recent(limit, kind)
    return schemas.JobsResponse(requestId=new_request_id(request), data=[views.job_view(j) for j in jobs])


@router.get("/jobs/{job_id}", response_model=schemas.JobResponse)
def get_job(job_id: str, request: Request, ctx: Context) -> schemas.JobResponse:
    return schemas.JobResponse(requestId=new_request_id(request), data=views.job_view(ctx.runner.store.get(job_id)))


@router.post("/cancel", response_model=schemas.JobResponse)
def cancel(request: Request, ctx: Context, id: Annotated[str, Query(min_length=1)]) -> schemas.JobResponse:
    """Ask a running job to stop. It stops at its next progress report (a backup between two copies, a restore
    between two imports) and cleans up: a backup removes what it copied, a restore its staged copies. A job
    that has already ended answers 409."""
    job = ctx.runner.cancel(id)
    return schemas.JobResponse(requestId=new_request_id(request), msg="cancel requested", data=views.job_view(job))
