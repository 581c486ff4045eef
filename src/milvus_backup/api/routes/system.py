"""Health and `check`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from milvus_backup.api import schemas
from milvus_backup.api.context import ServerContext, new_request_id, server_context
from milvus_backup.api.routes import ERROR_RESPONSES
from milvus_backup.library import check as run_check

router = APIRouter(tags=["system"])

Context = Annotated[ServerContext, Depends(server_context)]

HELLO = "Hello, This is backup service"


@router.get("/api/v1/hello", response_class=PlainTextResponse)
def hello() -> str:
    """Upstream's health answer (no auth)."""
    return HELLO


@router.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    """Health for load balancers and orchestrators (no auth)."""
    return "ok"


@router.get("/api/v1/check", response_model=schemas.CheckResponse, responses=ERROR_RESPONSES)
def check(request: Request, ctx: Context) -> schemas.CheckResponse:
    """`milvus-backup check`: Milvus against its storage, the backup storage, a probe copy and a trial GC pause.
    A failure answers with its error; warnings are in `data.warnings`."""
    report = run_check(ctx.config)
    steps = [schemas.CheckStepView(name=s.name, ok=s.ok, detail=s.detail, warning=s.warning) for s in report.steps]
    data = schemas.CheckResult(milvus_version=report.milvus_version, steps=steps, warnings=report.warnings)
    return schemas.CheckResponse(requestId=new_request_id(request), data=data)
