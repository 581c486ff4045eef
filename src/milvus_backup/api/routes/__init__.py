"""One router per resource: backups, restores, jobs, system (health, check), the web page."""

from typing import Any

from milvus_backup.api.schemas import ErrorResponse

#: Documented on every API route: the statuses a BackupToolError can map to (see docs/exit-codes.md).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (400, "bad input: a missing or invalid field, malformed JSON, contradicting options"),
        (401, "missing or wrong bearer token (when server.authToken is set)"),
        (403, "a body not labelled application/json, sent by a web page of another origin"),
        (404, "unknown backup, job, database or collection"),
        (409, "name conflict: the backup or target collection exists, a job holds the name, job cancelled"),
        (422, "the backup failed verification or needs a newer format"),
        (500, "internal error"),
        (502, "Milvus or storage failed"),
        (503, "Milvus or storage unreachable"),
    )
}
