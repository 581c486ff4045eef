"""Backups: create, list, get_backup, delete, verify, inspect, prune."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from milvus_backup import library, wiring
from milvus_backup.api import schemas, views
from milvus_backup.api.context import ServerContext, new_request_id, server_context
from milvus_backup.api.mapping import create_request
from milvus_backup.api.routes import ERROR_RESPONSES
from milvus_backup.config import Config
from milvus_backup.errors import (
    BackupExistsError,
    BackupIncompleteError,
    BackupNotFoundError,
    IntegrityError,
    JobConflictError,
    JobNotFoundError,
    UsageError,
)
from milvus_backup.meta import layout
from milvus_backup.meta.model import BackupInfo
from milvus_backup.service import catalog
from milvus_backup.service.jobs import BACKUP, SUCCESS, VERIFY, Job
from milvus_backup.service.names import validate_backup_name
from milvus_backup.service.prune import PruneRequest, collection_names
from milvus_backup.service.retention import RetentionPolicy
from milvus_backup.service.run import Run

router = APIRouter(prefix="/api/v1", tags=["backups"], responses=ERROR_RESPONSES)

Context = Annotated[ServerContext, Depends(server_context)]


def _refuse_taken_name(config: Config, name: str) -> None:
    """A name is taken by a complete backup and by an incomplete one alike (create refuses both)."""
    try:
        library.get_backup(config, name)
    except BackupNotFoundError:
        return
    except BackupIncompleteError:
        pass
    raise BackupExistsError(name=name, location=wiring.backup_storage(config).describe())


def _meta_size(config: Config, name: str) -> int:
    """Bytes of the backup's meta folder (upstream's meta_size)."""
    target = wiring.backup_storage(config)
    return sum(o.size for o in target.storage.list(layout.backup_dir(target.root, name) + layout.META_DIR + "/"))


def _made(job: Job | None, backup_id: str) -> bool:
    """Whether `job` is the successful create that wrote the backup with this id (a job records the id it wrote;
    the name alone could be a later backup of the same name, made after a delete)."""
    return job is not None and job.state == SUCCESS and job.result.get("backup_id", backup_id) == backup_id


@router.post("/create", response_model=schemas.BackupInfoResponse)
def create(body: schemas.CreateBackupRequest, request: Request, ctx: Context) -> schemas.BackupInfoResponse:
    """Create a backup (upstream's fields). With `async` the answer comes at once: poll get_backup?backup_id=."""
    service_request = create_request(body)
    validate_backup_name(body.backup_name)
    _refuse_taken_name(ctx.config, body.backup_name)
    job = ctx.runner.store.add(
        new_request_id(request, body.requestId), BACKUP, body.backup_name, body.model_dump(by_alias=True)
    )
    written: list[BackupInfo] = []

    def work(run: Run) -> dict[str, Any]:
        result = views.create_result(library.create_backup(ctx.config, service_request, run))
        written.append(library.get_backup(ctx.config, body.backup_name))
        return {**result, "backup_id": written[0].id}

    if body.run_async:
        job = ctx.runner.start(job, work, timeout=body.timeout)
        return schemas.BackupInfoResponse(
            requestId=job.id, msg="create backup is executing asynchronously", data=views.backup_brief(job, None)
        )
    job = ctx.runner.run(job, work, timeout=body.timeout)
    return schemas.BackupInfoResponse(
        requestId=job.id,
        data=views.backup_brief(
            job, written[0], _meta_size(ctx.config, job.name), library.get_proofs(ctx.config, job.name)
        ),
    )


@router.get("/list", response_model=schemas.ListBackupsResponse)
def list_backups(request: Request, ctx: Context) -> schemas.ListBackupsResponse:
    """Every backup in backup storage, complete or not: upstream's fields (`id`, `state_code`, `size`,
    `start_time`...) and ours (`state`, `collections`, the latest verify job of each)."""
    store = ctx.runner.store
    items = []
    for summary in library.list_backups(ctx.config):
        job = store.latest(BACKUP, summary.name)
        if summary.state == catalog.COMPLETE:
            creator = job if _made(job, summary.id) else None
        else:
            creator = job if job is not None and job.state != SUCCESS else None
        items.append(views.backup_summary(summary, creator, store.latest(VERIFY, summary.name)))
    return schemas.ListBackupsResponse(requestId=new_request_id(request), data=items)


def _meta_if_complete(config: Config, name: str, job: Job | None) -> BackupInfo | None:
    """The meta, or None while the job that writes it runs or after it failed."""
    try:
        return library.get_backup(config, name)
    except (BackupNotFoundError, BackupIncompleteError):
        if job is None or job.state == SUCCESS:
            raise
        return None


def _by_backup_id(ctx: ServerContext, backup_id: str) -> schemas.BackupBrief:
    """`backup_id` is the create's job id (upstream's task id) or the backup's own id (its meta's, as list shows)."""
    job: Job | None
    try:
        job = ctx.runner.store.get(backup_id, kind=BACKUP)
        name = job.name
    except JobNotFoundError:
        summary = next((s for s in library.list_backups(ctx.config) if s.id == backup_id), None)
        if summary is None:
            raise JobNotFoundError(
                job_id=backup_id,
                hint="backup_id is a create's requestId or a backup's id as /api/v1/list shows it; no backup has "
                "this id either.",
            ) from None
        name = summary.name
        latest = ctx.runner.store.latest(BACKUP, name)
        job = latest if _made(latest, backup_id) else None
    info = _meta_if_complete(ctx.config, name, job)
    if info is not None and job is not None and not _made(job, info.id):
        # The job failed, or made an earlier backup of this name: what the name holds now is not its work.
        info = None
    if info is None:
        return views.backup_brief(job, None)
    return views.backup_brief(job, info, _meta_size(ctx.config, name), library.get_proofs(ctx.config, name))


@router.get("/get_backup", response_model=schemas.BackupInfoResponse)
def get_backup(
    request: Request, ctx: Context, backup_name: str = "", backup_id: str = ""
) -> schemas.BackupInfoResponse:
    """One backup: by `backup_id` (the create's job id, or the backup's id as list shows it) or by `backup_name`,
    which finds any backup in backup storage, also those this server did not create."""
    if backup_id:
        return schemas.BackupInfoResponse(requestId=new_request_id(request), data=_by_backup_id(ctx, backup_id))
    if not backup_name:
        raise UsageError(detail="give backup_name or backup_id")
    job = ctx.runner.store.latest(BACKUP, backup_name)
    info = _meta_if_complete(ctx.config, backup_name, job)
    # A complete backup speaks for itself; a job that failed (e.g. on this very name) is not its state.
    shown_job = job if info is None or _made(job, info.id) else None
    meta_size = _meta_size(ctx.config, backup_name) if info is not None else 0
    chain = library.backup_chain(ctx.config, backup_name) if info is not None else None
    return schemas.BackupInfoResponse(
        requestId=new_request_id(request),
        data=views.backup_brief(
            shown_job,
            info,
            meta_size,
            library.get_proofs(ctx.config, backup_name) if info is not None else None,
            chain,
        ),
    )


@router.delete("/delete", response_model=schemas.DeleteBackupResponse)
def delete(
    request: Request,
    ctx: Context,
    backup_name: Annotated[str, Query(min_length=1)],
    with_dependents: bool = False,
) -> schemas.DeleteBackupResponse:
    """Delete every object of a backup, complete or not (not while a job of this server is creating it). A backup
    that incremental backups reference is refused (409, BackupReferencedError naming them) unless
    `with_dependents`, which deletes them too (ours)."""
    job = ctx.runner.store.latest(BACKUP, backup_name)
    if job is not None and job.running:
        raise JobConflictError(
            detail=f"backup {backup_name!r} is being created by job {job.id!r}",
            hint="Cancel it first (POST /api/v1/cancel?id=...) or wait for it to end.",
        )
    if not with_dependents:
        removed = library.delete_backup(ctx.config, backup_name)
        return schemas.DeleteBackupResponse(requestId=new_request_id(request), data={"objects": removed})
    deleted = dict(library.delete_with_dependents(ctx.config, backup_name))
    return schemas.DeleteBackupResponse(
        requestId=new_request_id(request), data={"objects": sum(deleted.values()), **deleted}
    )


@router.post("/consolidate", response_model=schemas.ConsolidateBackupResponse)
def consolidate(
    body: schemas.ConsolidateBackupRequest, request: Request, ctx: Context
) -> schemas.ConsolidateBackupResponse:
    """Copy into an incremental backup's folder every object it references in other backups, so that it needs
    none of them (and the Go tool reads it). Ours."""
    result = library.consolidate_backup(ctx.config, body.backup_name)
    return schemas.ConsolidateBackupResponse(
        requestId=new_request_id(request, body.requestId), data=dataclasses.asdict(result)
    )


@router.post("/verify", response_model=schemas.JobResponse)
def verify(body: schemas.VerifyBackupRequest, request: Request, ctx: Context) -> schemas.JobResponse:
    """Re-read every object of a backup and compare it with the manifest (ours; the Go server has no verify).
    A damaged backup fails the job with IntegrityError (HTTP 422 when synchronous)."""
    validate_backup_name(body.backup_name)
    job = ctx.runner.store.add(
        new_request_id(request, body.requestId), VERIFY, body.backup_name, body.model_dump(by_alias=True)
    )

    def work(run: Run) -> dict[str, Any]:
        report = library.verify_backup(ctx.config, body.backup_name, body.quick, run)
        if not report.ok:
            raise IntegrityError(name=body.backup_name, detail=report.problems_in_brief())
        return views.verify_result(report)

    if body.run_async:
        job = ctx.runner.start(job, work, wait_for_checks=True, timeout=body.timeout)
        return schemas.JobResponse(requestId=job.id, msg="verify is executing asynchronously", data=views.job_view(job))
    return schemas.JobResponse(requestId=job.id, data=views.job_view(ctx.runner.run(job, work, timeout=body.timeout)))


@router.get("/inspect", response_model=schemas.InspectResponse)
def inspect(
    request: Request,
    ctx: Context,
    backup_name: Annotated[str, Query(min_length=1)],
    collections: Annotated[str, Query(description="Comma-separated `coll` or `db.coll`; default all.")] = "",
    rows: Annotated[int, Query(ge=0, le=1000, description="Live rows of each collection to include.")] = 0,
) -> schemas.InspectResponse:
    """What a backup holds, read from its own files without Milvus: per collection and partition the segments,
    rows inserted, deleted and live, bytes and fields (ours; the Go server has no inspect)."""
    report = library.inspect_backup(ctx.config, backup_name, collections, rows)
    return schemas.InspectResponse(requestId=new_request_id(request), data=dataclasses.asdict(report))


@router.post("/prune", response_model=schemas.PruneResponse)
def prune(body: schemas.PruneRequest, request: Request, ctx: Context) -> schemas.PruneResponse:
    """`milvus-backup prune` (ours): remove the backups a retention policy does not keep, and say why each other
    one stays. Runs to its end before answering."""
    policy = RetentionPolicy(
        body.keep_last, body.keep_hourly, body.keep_daily, body.keep_weekly, body.keep_monthly, body.keep_yearly
    )
    policy.validate()
    prune_request = PruneRequest(
        policy, prefix=body.prefix, collections=collection_names(body.collection_names), dry_run=body.dry_run
    )
    result = library.prune_backups(ctx.config, prune_request)
    return schemas.PruneResponse(
        requestId=new_request_id(request, body.requestId),
        data=schemas.PruneResult.model_validate(dataclasses.asdict(result)),
    )
