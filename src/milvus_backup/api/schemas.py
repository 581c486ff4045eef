"""Request and response bodies, with upstream's JSON field names (snake_case or camelCase as its protos have them).

Unknown request fields are ignored, as the Go server ignores them, so requests written for it keep working.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BackupName = Field(min_length=1, max_length=128, description="Backup name: a letter or _, then letters, digits, _.")


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class DatabaseFilter(BaseModel):
    colls: list[str] = Field(default_factory=list, description='Collections; ["*"] means every one.')


class CreateBackupRequest(_Request):
    requestId: str = Field("", description="Becomes the job id (a uuid when empty).")
    backup_name: str = BackupName
    collection_names: list[str] = Field(default_factory=list, description="coll or db.coll")
    db_collections: str | dict[str, list[str]] = Field(
        "", description='{"db1":["c1"],"db2":[]} as an object or a JSON string; [] means the whole database.'
    )
    filter: dict[str, DatabaseFilter] = Field(
        default_factory=dict, description='Database -> {"colls": [...]}; wins over db_collections and collection_names.'
    )
    strategy: Literal["", "serial_flush", "skip_flush", "meta_only", "bulk_flush"] = ""
    force: bool = Field(False, description="No flush (= strategy skip_flush).")
    meta_only: bool = Field(False, description="Schema and indexes only (= strategy meta_only).")
    rbac: bool = False
    no_proof: bool = Field(
        False, description="Skip the row-count proof (the backup's live rows against Milvus's count(*)). Ours."
    )
    incremental: bool = Field(
        False, description="Reference the segments the base holds unchanged instead of copying them. Ours."
    )
    base: str = Field(
        "", description="The base of an incremental backup; empty: the newest backup of the same collections. Ours."
    )
    accept_unflushed_deletes: bool = Field(
        False,
        description="Milvus 2.2: copy without waiting for the deletes Milvus holds in memory; recorded in the "
        "backup's manifest. Ours.",
    )
    timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds the job may take; past them it stops, cleans up "
        "as after a failure and ends in state 4 (timeout). Ours.",
    )
    run_async: bool = Field(False, alias="async", description="Answer at once; poll get_backup?backup_id=.")


class RestoreBackupRequest(_Request):
    requestId: str = ""
    id: str = Field("", description="Becomes the job id (restore_<UTC time>_<nanos> when empty).")
    backup_name: str = BackupName
    collection_names: list[str] = Field(default_factory=list, description="Backed-up collections: coll or db.coll")
    db_collections: str | dict[str, list[str]] = Field(
        "", description='Backed-up {"db1":["c1"],"db2":[]}, object or JSON string; [] means the whole database.'
    )
    collection_suffix: str = Field("", description="Appended to every restored collection's name.")
    collection_renames: dict[str, str] = Field(
        default_factory=dict, description='{"db1.c1": "db2.c2", "c1": "c2", "db1.*": "db2.*"}'
    )
    metaOnly: bool = False
    restoreIndex: bool = False
    useAutoIndex: bool = False
    dropExistCollection: bool = False
    dropExistIndex: bool = False
    skipCreateCollection: bool = False
    rbac: bool = False
    verify: bool = Field(
        True,
        description="Check every file's checksum against the manifest before Milvus reads it; false checks sizes "
        "only. Ours.",
    )
    mode: Literal["", "import", "insert"] = Field(
        "",
        description="import: Milvus imports the binlogs; insert: the tool inserts the rows it reads from them; "
        '"": import where the target can, else insert (with a warning). Ours.',
    )
    keep_partial: bool = Field(
        False,
        description="After a failure, keep the collections restored so far instead of dropping them; the backup's "
        "restore journal marks them incomplete. Ours.",
    )
    timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds the job may take; past them it stops, cleans up "
        "as after a failure and ends in state 4 (timeout). Ours.",
    )
    run_async: bool = Field(False, alias="async", description="Answer once the checks passed; poll get_restore.")


class VerifyBackupRequest(_Request):
    requestId: str = ""
    backup_name: str = BackupName
    quick: bool = Field(False, description="Existence and size only, no content read.")
    timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds the job may take; past them it stops, cleans up "
        "as after a failure and ends in state 4 (timeout). Ours.",
    )
    run_async: bool = Field(False, alias="async")


class _Response(BaseModel):
    requestId: str = ""
    code: int = Field(0, description="0 on success; the HTTP status on failure.")
    msg: str = "success"


class ErrorResponse(_Response):
    error: str = Field(description="The error class, e.g. BackupNotFoundError.")
    hint: str | None = None


class BackupBrief(BaseModel):
    """Upstream's BackupInfoBrief: the job's fields and, once the backup is complete, its meta."""

    model_config = ConfigDict(extra="allow")
    id: str = Field("", description="The backup's id (`id` in its meta); the job's id while the job runs.")
    name: str = ""
    state_code: int = Field(description="0 initial, 1 executing, 2 success, 3 fail, 4 timeout")
    progress: int = Field(description="0-100")
    errorMessage: str = ""
    start_time: int = Field(0, description="Unix seconds: when the job started (0: no job of this server made it).")
    end_time: int = Field(0, description="Unix seconds: when the job ended (0 while it runs, or no job).")
    size: int = Field(0, description="Bytes of the backed-up binlogs.")
    milvus_version: str = ""
    backup_timestamp: int = Field(0, description="Milvus hybrid timestamp (physical ms << 18) the backup is as of.")
    collection_backups: list[dict[str, Any]] = Field(default_factory=list)
    database_backups: list[dict[str, Any]] = Field(default_factory=list)
    meta_size: int = Field(0, description="Bytes of the backup's meta files.")
    format: str = Field("", description='"" is the binlog format.')
    job_id: str = Field("", description="The job of this server that made the backup, if any (ours).")
    collection_progress: list[CollectionProgress] = Field(
        default_factory=list, description="Bytes copied by collection while the job runs (ours)."
    )
    proof: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="db.collection -> its row-count proof: state (proven, unproven, skipped), reason, backup_rows, "
        "count_before, count_after (ours).",
    )


class BackupInfoResponse(_Response):
    data: BackupBrief | None = None


class BackupSummary(BaseModel):
    """A backup in backup storage: the fields of upstream's list items, then ours."""

    id: str = Field("", description="The backup's id (`id` in its meta); the job's id while a job writes it.")
    name: str
    state_code: int = Field(
        description="2 complete; 1 while a job of this server writes it; 3 incomplete or unreadable"
    )
    errorMessage: str = Field("", description="Why the backup is incomplete or unreadable.")
    progress: int = Field(0, description="0-100")
    backup_timestamp: int = Field(0, description="Milvus hybrid timestamp (physical ms << 18) the backup is as of.")
    size: int = Field(0, description="Bytes of the backed-up binlogs.")
    start_time: int = Field(0, description="Unix seconds: when this server's job started it (0: not made here).")
    end_time: int = Field(0, description="Unix seconds: when this server's job finished it (0: not made here).")
    milvus_version: str = ""
    state: str = Field(description="complete, incomplete or unreadable (ours)")
    collections: list[str] = Field(default_factory=list, description="db.collection of each collection (ours)")
    created: str = Field("", description="backup_timestamp as ISO 8601, UTC (ours)")
    detail: str = Field("", description="Why it is incomplete or unreadable (ours)")
    unflushed_deletes_accepted: bool = Field(
        False, description="Made with accept_unflushed_deletes: deletes Milvus 2.2 held in memory may be missing (ours)"
    )
    last_verify: dict[str, Any] | None = Field(None, description="The latest verify job of this backup, if any (ours).")
    proof: dict[str, str] = Field(
        default_factory=dict, description="db.collection -> its row-count proof in brief (ours)."
    )
    base: str = Field("", description="The backup an incremental backup was made against (ours)")


class ListBackupsResponse(_Response):
    data: list[BackupSummary] = Field(default_factory=list)


class InspectResponse(_Response):
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="What the backup holds, read from its files: name, created, milvus_version, and per collection "
        "its fields, partitions (segments, bytes, rows inserted/deleted/live), totals and sample_rows. Ours.",
    )


class DeleteBackupResponse(_Response):
    data: dict[str, int] = Field(
        default_factory=dict,
        description="{'objects': how many were deleted}; with with_dependents, objects deleted by backup as well",
    )


class ConsolidateBackupRequest(_Request):
    requestId: str = ""
    backup_name: str = BackupName


class ConsolidateBackupResponse(_Response):
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="name, objects and bytes copied in, server_side_copies, former_owners, seconds",
    )


class CollectionRestoreTask(BaseModel):
    """Upstream's RestoreCollectionTask(Response), then ours."""

    id: str = Field(description="This collection's task id (stable: derived from the job id and the target).")
    state_code: int = Field(description="0 initial, 1 executing, 2 success, 3 fail, 4 timeout")
    errorMessage: str = ""
    start_time: int = Field(0, description="Unix seconds (the job's: its collections run together).")
    end_time: int = Field(0, description="Unix seconds, 0 while the job runs.")
    progress: int = Field(description="0-100: segments imported of the collection's segments")
    target_db_name: str = ""
    target_collection_name: str = ""
    restored_size: int = Field(0, description="Bytes of the backed-up segments imported so far.")
    to_restore_size: int = Field(0, description="Bytes of the backed-up segments to import (0 with metaOnly).")
    source: str = Field("", description="The backed-up db.collection (ours; known once the job ended).")
    segments: int = Field(0, description="Segments imported (ours).")
    rows: int = Field(0, description="Rows imported (ours).")
    indexes: int = Field(0, description="Indexes created (ours).")
    mode: str = Field("", description="How the data was restored: import or insert (ours; once the job ended).")


class RestoreTask(BaseModel):
    """Upstream's RestoreBackupTask(Response), then ours."""

    id: str
    state_code: int = Field(description="0 initial, 1 executing, 2 success, 3 fail, 4 timeout")
    errorMessage: str = ""
    start_time: int = Field(0, description="Unix seconds.")
    end_time: int = Field(0, description="Unix seconds, 0 while the job runs.")
    progress: int = Field(description="0-100")
    collection_restore_tasks: list[CollectionRestoreTask] = Field(default_factory=list)
    restored_size: int = Field(0, description="Bytes imported so far, over every collection.")
    to_restore_size: int = Field(0, description="Bytes to import, over every collection.")
    backup_name: str = Field("", description="The backup restored from (ours).")
    collection_progress: list[CollectionProgress] = Field(
        default_factory=list, description="Segments imported by collection while the job runs (ours)."
    )


class RestoreBackupResponse(_Response):
    data: RestoreTask | None = None


class CollectionProgress(BaseModel):
    name: str = Field(description="db.collection")
    unit: str = Field(description="bytes (backup) or segments (restore)")
    done: int
    total: int


class JobView(BaseModel):
    id: str
    kind: Literal["backup", "restore", "verify"]
    name: str = Field(description="The backup the job works on.")
    state_code: int
    state: str
    progress: int
    unit: str = Field(description="What done and total count: bytes or segments.")
    done: int
    total: int
    errorMessage: str = ""
    start_time: int = 0
    end_time: int = 0
    cancel_requested: bool = False
    collection_progress: list[CollectionProgress] = Field(
        default_factory=list, description="Progress by collection while the job runs (ours)."
    )
    request: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)


class JobResponse(_Response):
    data: JobView


class JobsResponse(_Response):
    data: list[JobView] = Field(default_factory=list)


class CheckStepView(BaseModel):
    name: str
    ok: bool
    detail: str
    #: The step passed with a warning (e.g. GC cannot be paused with this configuration).
    warning: bool = False


class CheckResult(BaseModel):
    milvus_version: str
    steps: list[CheckStepView]
    #: The details of the steps that passed with a warning, as `<step>: <detail>`.
    warnings: list[str] = []


class CheckResponse(_Response):
    data: CheckResult


class ScheduleView(BaseModel):
    name: str
    cron: str = Field(description="Evaluated in UTC; six fields means seconds last.")
    collections: list[str] = Field(default_factory=list)
    databases: list[str] = Field(default_factory=list)
    incremental: bool = False
    retention: dict[str, int] = Field(default_factory=dict, description="The keep_* counts that are set.")
    prune_prefix: str = Field("", description="The name prefix its prune selects; empty: it does not prune.")
    name_template: str
    catch_up: bool
    next_run: int = Field(description="Unix seconds; 0 while the server has not started the schedule.")
    last_run: JobView | None = Field(None, description="Its latest run (a backup job); null before the first.")


class SchedulesResponse(_Response):
    data: list[ScheduleView] = Field(default_factory=list)


class PruneRequest(_Request):
    requestId: str = ""
    keep_last: int = Field(0, ge=-1, description="Keep the N newest backups (-1: all).")
    keep_hourly: int = Field(0, ge=-1, description="Keep the newest backup of each of the N newest hours.")
    keep_daily: int = Field(0, ge=-1, description="... days.")
    keep_weekly: int = Field(0, ge=-1, description="... ISO weeks.")
    keep_monthly: int = Field(0, ge=-1, description="... months.")
    keep_yearly: int = Field(0, ge=-1, description="... years.")
    prefix: str = Field("", description="Only backups whose name starts with this.")
    collection_names: list[str] = Field(
        default_factory=list, description="Only backups of exactly these collections (coll or db.coll)."
    )
    dry_run: bool = Field(False, description="Say what would be removed; remove nothing.")


class PrunedBackup(BaseModel):
    name: str
    created: str = Field(description="ISO 8601, UTC; empty for an incomplete backup.")
    reasons: list[str] = Field(default_factory=list, description="Why it is kept; empty for a removed one.")


class PruneResult(BaseModel):
    kept: list[PrunedBackup]
    removed: list[PrunedBackup] = Field(description="Removed (with dry_run: would be removed).")
    dry_run: bool
    seconds: float
    warnings: list[str] = Field(default_factory=list)


class PruneResponse(_Response):
    data: PruneResult
