"""Schedules (ours): what server.schedules runs, when each runs next and how its latest run went."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from milvus_backup.api import schemas, views
from milvus_backup.api.context import ServerContext, new_request_id, server_context
from milvus_backup.api.routes import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["schedules"], responses=ERROR_RESPONSES)

Context = Annotated[ServerContext, Depends(server_context)]


@router.get("/schedules", response_model=schemas.SchedulesResponse)
def list_schedules(request: Request, ctx: Context) -> schemas.SchedulesResponse:
    """Every schedule of server.schedules: its cron, what it backs up and keeps, its next run (Unix seconds) and
    its latest run (a backup job, as GET /api/v1/jobs/{id} shows it)."""
    store, scheduler = ctx.runner.store, ctx.scheduler
    items = []
    for schedule in scheduler.schedules:
        latest = store.scheduled(schedule.name)
        items.append(
            schemas.ScheduleView(
                name=schedule.name,
                cron=schedule.cron,
                name_template=schedule.name_template,
                catch_up=schedule.catch_up,
                next_run=int(scheduler.next_run(schedule.name) or 0),
                last_run=views.job_view(latest[0]) if latest else None,
                **{k: v for k, v in schedule.describes.items() if k != "cron"},
            )
        )
    return schemas.SchedulesResponse(requestId=new_request_id(request), data=items)
