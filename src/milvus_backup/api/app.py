"""`create_app(config, jobs_dir)`: the FastAPI application of `milvus-backup server`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from milvus_backup import library, wiring
from milvus_backup.api.auth import BearerTokenMiddleware
from milvus_backup.api.body import BodyLimitMiddleware, JsonBodyMiddleware
from milvus_backup.api.context import ServerContext
from milvus_backup.api.errors import install_error_handlers
from milvus_backup.api.metrics import ServerMetrics
from milvus_backup.api.query import refuse_unknown_query_parameters
from milvus_backup.api.routes import backups, jobs, page, restores, system
from milvus_backup.api.routes import schedules as schedule_routes
from milvus_backup.api.webhook import FailureWebhook
from milvus_backup.config import Config
from milvus_backup.service.jobs import JobRunner, JobStore
from milvus_backup.service.schedules import STOP_SECONDS, Scheduler

#: Where the docs pages' scripts and styles are served (open without the token, like the pages).
DOCS_ASSETS = "/docs/assets"


def create_app(config: Config, jobs_dir: Path) -> FastAPI:
    """The app, with its job database in `jobs_dir`. Jobs a previous server left running are marked failed; the
    schedules of server.schedules run while the app runs (they catch up on start)."""
    schedules = wiring.schedules(config)
    store = JobStore(jobs_dir)
    store.fail_interrupted()
    metrics = ServerMetrics(store)
    runner = JobRunner(store, metrics, threads=config.transfer.concurrency)
    webhook = config.server.failure_webhook
    scheduler = Scheduler(
        schedules,
        runner,
        lambda schedule, backup_name, run: library.run_schedule(config, schedule.name, backup_name, run),
        FailureWebhook(webhook) if webhook else lambda failure: None,
    )
    metrics.watch_schedules(scheduler.next_run)
    base = config.server.swagger_base_path

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        yield
        scheduler.stop()
        runner.stop(STOP_SECONDS)
        store.close()

    # Swagger UI (/docs) and ReDoc (/redoc) from assets in an installed package, not a CDN: they work offline.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="milvus-backup",
        version=version("milvus-backup"),
        debug=config.server.debug_mode,
        description="Back up and restore Milvus collections: upstream's /api/v1 endpoints, durable jobs. "
        "Request bodies are read as JSON whatever their Content-Type, as the Go server reads them.",
        servers=[{"url": base}] if base else None,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    app.state.context = ServerContext(config, runner, scheduler)
    install_error_handlers(app)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=config.server.max_body_bytes)
    token = config.server.auth_token.get_secret_value()
    if token:
        app.add_middleware(BearerTokenMiddleware, token=token, public_metrics=config.server.public_metrics)
    for module in (backups, restores, jobs, schedule_routes, system, page):
        app.include_router(module.router)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
