"""What every route needs: the configuration and the job runner, kept on the app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fastapi import Request

from milvus_backup.api.errors import request_id
from milvus_backup.config import Config
from milvus_backup.service.jobs import JobRunner
from milvus_backup.service.schedules import Scheduler


@dataclass(frozen=True)
class ServerContext:
    config: Config
    runner: JobRunner
    scheduler: Scheduler
    #: Restore job id -> bytes to restore by target collection, read once from the backup's meta while the job runs.
    restore_sizes: dict[str, dict[str, int]] = field(default_factory=dict)


def server_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


def new_request_id(request: Request, given: str = "") -> str:
    """The body's requestId, else upstream's `request_id` header, else a fresh uuid."""
    return given or request_id(request) or str(uuid.uuid4())
