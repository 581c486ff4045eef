"""The one exception tree of milvus-backup.

Every error the tool raises on purpose is a ``BackupToolError``. The class docstring's first line is the
message template (filled from the keyword arguments), ``exit_code`` is what the CLI exits with,
``http_status`` what the REST API answers, and ``hint`` what the user can do about it.

Exit codes are grouped in ranges: 0 success, 1 unexpected internal error, 2 usage, 3 configuration,
4 completed with warnings under --strict, 10-19 backups, 20-29 storage, 30-39 Milvus, 40-49 jobs and runs,
130 interrupted. Each range's codes belong to the classes below it; a unit test keeps them there.

* BackupToolError                       1 / 500
  x UsageError                          2 / 400
  x ConfigError                         3 / 400
  x WarningsAsErrorsError               4 / 422
  x BackupNotFoundError                10 / 404   backups 10-19
  x BackupExistsError                  11 / 409
  x BackupIncompleteError              12 / 409
  x IntegrityError                     13 / 422
    + RowProofError                    18 / 422
  x UnsupportedFormatError             14 / 422
  x UnflushedDeletesError              15 / 409
  x BinlogFormatError                  16 / 422
  x CollectionNotInBackupError         17 / 404
  x BackupReferencedError              19 / 409
  x StorageError                       20 / 502   storage 20-29
    + StorageUnavailableError          21 / 503
    + StorageAccessDeniedError         22 / 502
    + BucketNotFoundError              23 / 502
    + ObjectNotFoundError              24 / 404
    + InvalidKeyError                  25 / 400
    + CopyFailedError                  26 / 502
  x MilvusError                        30 / 502   Milvus 30-39
    + MilvusUnavailableError           31 / 503
    + MilvusAuthError                  32 / 502
    + DatabaseNotFoundError            33 / 404
    + CollectionNotFoundError          34 / 404
    + CollectionExistsError            35 / 409
    + SourceDataError                  37 / 502
    + MilvusRootMismatchError          38 / 502
    + MilvusTooOldError                39 / 422
  x JobConflictError                   40 / 409   jobs and runs 40-49
  x JobCancelledError                  41 / 409
  x JobNotFoundError                   42 / 404
  x DeadlineExceededError              43 / 504

Code 36 (an empty Milvus storage root) is no longer used: `check` now compares the root with what Milvus reports
(38), and an empty root is right for a Milvus that stores nothing yet.

An unknown non-zero exit code means failure. ``docs/exit-codes.md`` lists every code; a unit test keeps it
in step with this module.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: The most characters of one value (a name, a key) that a message shows, and of a detail or hint: input may be
#: arbitrarily long (a 10 MB collection name in a REST body), and a message never echoes it whole.
FIELD_CHARS = 256
DETAIL_CHARS = 4096


def bounded(value: Any, limit: int) -> Any:
    """`value`, or a string cut to `limit` characters saying how long it was."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}... ({len(value)} characters)"
    return value


class BackupToolError(Exception):
    """{detail}"""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    hint: str | None = None

    def __init__(self, hint: str | None = None, **fields: Any) -> None:
        self.fields = fields
        template = (self.__doc__ or "{detail}").strip().splitlines()[0]
        shown = {key: bounded(value, DETAIL_CHARS if key == "detail" else FIELD_CHARS) for key, value in fields.items()}
        super().__init__(template.format(**shown))
        if hint is not None:
            self.hint = bounded(hint, DETAIL_CHARS)

    @property
    def message(self) -> str:
        return str(self)


class UsageError(BackupToolError):
    """{detail}"""

    exit_code = 2
    http_status = 400


class ConfigError(BackupToolError):
    """Invalid configuration: {detail}"""

    exit_code = 3
    http_status = 400
    hint = "Run `milvus-backup config show` to see the effective values and where each comes from."


class WarningsAsErrorsError(BackupToolError):
    """{count} warning(s) with --strict: {detail}"""

    exit_code = 4
    http_status = 422
    hint = "The run itself completed; its warnings are in the output. Leave --strict out to accept them."


class BackupNotFoundError(BackupToolError):
    """Backup {name!r} not found in {location}."""

    exit_code = 10
    http_status = 404
    hint = "Run `milvus-backup list` to see the available backups."


class BackupExistsError(BackupToolError):
    """Backup {name!r} already exists in {location}."""

    exit_code = 11
    http_status = 409
    hint = "Choose another name, or delete the old backup with `milvus-backup delete -n NAME`."


class BackupIncompleteError(BackupToolError):
    """Backup {name!r} in {location} is incomplete: its meta was never written (the create failed or was killed)."""

    exit_code = 12
    http_status = 409
    hint = "Delete it with `milvus-backup delete -n NAME`, then create it again."


class IntegrityError(BackupToolError):
    """Backup {name!r} failed verification: {detail}"""

    exit_code = 13
    http_status = 422


class UnsupportedFormatError(BackupToolError):
    """{detail}"""

    exit_code = 14
    http_status = 422


class RowProofError(IntegrityError):
    """Backup {name!r} does not hold the rows Milvus shows: {detail}"""

    exit_code = 18
    http_status = 422
    hint = (
        "Nothing was kept. The backup's binlogs (their deletes applied) and Milvus's count(*) disagree: deletes "
        "Milvus had not yet written to its binlogs (Milvus 2.2 buffers them), or writes the count did not see. "
        "Create the backup again; --no-proof skips this check."
    )


class UnflushedDeletesError(BackupToolError):
    """Milvus {version} at {address} still holds deletes in memory (waited {seconds:g} s): deleted rows would return."""

    exit_code = 15
    http_status = 409
    hint = (
        "Milvus 2.2 writes the deletes of flushed segments only every dataNode.segment.syncPeriod (600 s by "
        "default; a flush does not write them). Retry later, give the wait longer (backup.unflushedDeletesWait), "
        "lower dataNode.segment.syncPeriod in milvus.yaml, or accept the risk with --accept-unflushed-deletes "
        "(recorded in the backup)."
    )


class BinlogFormatError(BackupToolError):
    """Cannot read binlog {key!r}: {detail}"""

    exit_code = 16
    http_status = 422
    hint = "The file is damaged or of a Milvus version this tool cannot read; `milvus-backup verify` checks it."


class CollectionNotInBackupError(BackupToolError):
    """Collection {collection!r} is not in backup {name!r} (it holds: {held})."""

    exit_code = 17
    http_status = 404
    hint = "`milvus-backup get -n NAME` lists the backup's collections (db_name and collection_name)."


class BackupReferencedError(BackupToolError):
    """Backup {name!r} holds data that other backups reference: {shown}."""

    exit_code = 19
    http_status = 409
    hint = (
        "Delete them with it (`milvus-backup delete -n NAME --with-dependents`), or first make each of them "
        "self-contained (`milvus-backup consolidate -n DEPENDENT`)."
    )

    def __init__(self, hint: str | None = None, *, name: str, dependents: list[str]) -> None:
        #: The backups that reference it, for callers that act on them (prune), not only for the message.
        self.dependents = list(dependents)
        super().__init__(hint, name=name, shown=", ".join(dependents))
        if hint is None:
            self.hint = (
                f"Delete them with it (`milvus-backup delete -n {name} --with-dependents`), or first make each of "
                f"them self-contained (`milvus-backup consolidate -n {dependents[0]}`, and so on)."
            )


class StorageError(BackupToolError):
    """Storage error on {location}: {detail}"""

    exit_code = 20
    http_status = 502


class StorageUnavailableError(StorageError):
    """Cannot reach storage {location}: {detail}"""

    exit_code = 21
    http_status = 503
    hint = "Check the storage address, port and useSSL in backup.yaml, and that the service is running."


class StorageAccessDeniedError(StorageError):
    """Access denied by storage {location}: {detail}"""

    exit_code = 22
    hint = "Check the access key, secret key (or account key / credentials file) for this storage."


class BucketNotFoundError(StorageError):
    """Bucket {bucket!r} does not exist on {location}.

    Local storage has directories, not buckets: with `directory=True` the message and hint are `DIRECTORY`'s.
    """

    exit_code = 23
    hint = "Check bucketName (or backupBucketName) in backup.yaml, or create the bucket."
    #: The message and hint for a missing directory of local storage (provider local).
    DIRECTORY: ClassVar[tuple[str, str]] = (
        "Directory {bucket!r} does not exist.",
        "With provider local, rootPath is a directory: milvus.storage.rootPath is Milvus's localStorage.path, "
        "backup.storage.rootPath the directory of backups (the first create makes it). Check the path, or create "
        "the directory.",
    )

    def __init__(self, hint: str | None = None, *, directory: bool = False, **fields: Any) -> None:
        super().__init__(hint, directory=directory, **fields)
        if directory:
            template, directory_hint = self.DIRECTORY
            self.args = (template.format(**fields),)
            if hint is None:
                self.hint = directory_hint


class ObjectNotFoundError(StorageError):
    """Object {key!r} not found on {location}."""

    exit_code = 24
    http_status = 404


class InvalidKeyError(StorageError):
    """Invalid object key {key!r}: {detail}"""

    exit_code = 25
    http_status = 400


class CopyFailedError(StorageError):
    """Copy of {src!r} to {dst!r} failed: {detail}"""

    exit_code = 26
    hint = (
        "With transfer.mode `direct` both storages must be one service that can copy between them; "
        "use `auto` or `streaming` when they differ."
    )


class MilvusError(BackupToolError):
    """Milvus at {address} failed: {detail}"""

    exit_code = 30
    http_status = 502


class MilvusUnavailableError(MilvusError):
    """Cannot reach Milvus at {address}: {detail}"""

    exit_code = 31
    http_status = 503
    hint = "Check milvus.address and milvus.port (v2: milvus.grpc.*) and that Milvus is running."


class MilvusAuthError(MilvusError):
    """Milvus at {address} refused the credentials: {detail}"""

    exit_code = 32
    hint = "Check milvus.user and milvus.password (env MILVUS_USER / MILVUS_PASSWORD)."


class DatabaseNotFoundError(MilvusError):
    """Database {database!r} does not exist in Milvus at {address}."""

    exit_code = 33
    http_status = 404


class CollectionNotFoundError(MilvusError):
    """Collection {collection!r} does not exist in database {database!r} of Milvus at {address}."""

    exit_code = 34
    http_status = 404


class CollectionExistsError(MilvusError):
    """Collection {collection!r} already exists in database {database!r} of Milvus at {address}."""

    exit_code = 35
    http_status = 409
    hint = (
        "Restore under another name (--suffix or --rename), replace it with --drop_exist_collection, or add the "
        "backup's data to it with --skip_create_collection."
    )


class SourceDataError(MilvusError):
    """Milvus storage {location} does not hold what Milvus reports: {detail}"""

    exit_code = 37
    hint = (
        "bucketName and rootPath (v2: milvus.storage.*) must match milvus.yaml; run `milvus-backup check`. "
        "Retry if Milvus was compacting."
    )


class MilvusRootMismatchError(MilvusError):
    """Milvus storage root {location} does not hold the files Milvus reports: {detail}"""

    exit_code = 38
    hint = (
        "bucketName and rootPath (v2: milvus.storage.*) must name where Milvus keeps its files: minio.bucketName and "
        "minio.rootPath in milvus.yaml, or localStorage.path for local storage; insert_log/ lies directly below it."
    )


class MilvusTooOldError(MilvusError):
    """Milvus at {address} is {version}, older than the oldest this tool supports ({minimum})."""

    exit_code = 39
    http_status = 422
    hint = "Upgrade Milvus, or back it up with a tool of its own age."


class JobConflictError(BackupToolError):
    """{detail}"""

    exit_code = 40
    http_status = 409


class JobCancelledError(BackupToolError):
    """Job {job_id!r} was cancelled."""

    exit_code = 41
    http_status = 409
    hint = "A cancelled backup removes what it copied and a restore its staged copies; start it again when ready."


class JobNotFoundError(BackupToolError):
    """No job {job_id!r} on this server."""

    exit_code = 42
    http_status = 404
    hint = "GET /api/v1/jobs lists the jobs this server knows."


class DeadlineExceededError(BackupToolError):
    """{what} did not finish within its timeout of {seconds:g} s."""

    exit_code = 43
    http_status = 504
    hint = (
        "Nothing it wrote was kept. Give a longer timeout (--timeout on the command line, timeout in a REST "
        "request), or none."
    )


def all_error_classes() -> list[type[BackupToolError]]:
    """Every class of the tree, root first, in definition order."""
    found: list[type[BackupToolError]] = []
    pending: list[type[BackupToolError]] = [BackupToolError]
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
