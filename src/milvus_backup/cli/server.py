"""`milvus-backup server`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from milvus_backup.errors import BackupToolError

EPILOG = """[b]Examples[/b]

  milvus-backup server

  milvus-backup server -p 9090 --config /etc/milvus-backup/backup.yaml

  MILVUS_BACKUP_SERVER_TOKEN=s3cret milvus-backup server --set server.address=0.0.0.0

Serves upstream's REST API under /api/v1 (create, list, get_backup, delete, restore, get_restore, check), plus
/api/v1/jobs, /api/v1/cancel, /api/v1/verify, /api/v1/prune and /api/v1/schedules, Swagger UI at /docs,
Prometheus metrics at /metrics and a web page at /. Listens on server.address (127.0.0.1 unless configured). Jobs
are kept in server.jobsDir and survive a restart. Runs the backups of server.schedules while it runs (see
docs/config.md). See docs/rest.md.

[b]Exit status[/b]: 0 stopped cleanly; 3 invalid configuration (a schedule that cannot run included); 1 the port
could not be opened.
"""

DEFAULT_PORT = 8080


def _default_port() -> int:
    """Upstream's default: $SERVER_PORT, else 8080."""
    value = os.environ.get("SERVER_PORT", "")
    return int(value) if value.isdigit() else DEFAULT_PORT


def server(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option(
            "-p",
            "--port",
            min=1,
            max=65535,
            default_factory=_default_port,
            show_default="$SERVER_PORT or 8080",
            help="Port to listen on.",
        ),
    ],
) -> None:
    """Serve the REST API, its Swagger UI, Prometheus metrics and a web page."""
    import uvicorn

    from milvus_backup.api.app import create_app

    config = ctx.obj.load().config
    app = create_app(config, Path(config.server.jobs_dir))
    host = config.server.address
    runner = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False))
    runner.run()
    if not runner.started:  # uvicorn logged why (usually: the port is taken)
        raise BackupToolError(
            detail=f"could not listen on {host}:{port}", hint="Choose another port with -p, or stop what listens there."
        )
