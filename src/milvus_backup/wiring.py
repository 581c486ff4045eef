"""The only place that turns configuration into what the service works with: storage backends, a Milvus
connection, GC controls, settings, and a run's thread bound.

The CLI, the REST API and the library all get their resources from here, so the doors can never be wired apart,
and the service never sees the configuration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import shutil
import string
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from milvus_backup.config import Config, StorageConfig
from milvus_backup.config.model import ScheduleConfig
from milvus_backup.errors import BackupToolError, ConfigError, UsageError
from milvus_backup.meta.layout import root_prefix
from milvus_backup.milvus.protocol import GcControl, GcUnsupported, MilvusClient
from milvus_backup.progress import Progress
from milvus_backup.service.resources import MilvusSide, Resources, Settings, StorageLocation
from milvus_backup.service.retention import RetentionPolicy
from milvus_backup.service.run import Run
from milvus_backup.service.schedules import Schedule
from milvus_backup.storage.base import Storage

if TYPE_CHECKING:  # pyarrow, loaded only by export
    from milvus_backup.service.export import ExportTarget

S3_FAMILY = ("minio", "s3", "aws", "gcp", "aliyun", "tencent", "hwc")
GCS_SERVICE_HOST = "storage.googleapis.com"
MIB = 1024 * 1024


def open_storage(
    cfg: StorageConfig, *, multipart_copy_threshold_mib: int = 500, create_local_root: bool = False
) -> StorageLocation:
    if cfg.provider == "local":
        from milvus_backup.storage.local import LocalStorage

        # For local storage the root path is the directory itself (Milvus's localStorage.path, or the
        # directory of backups, which we create on demand as a user expects).
        root = Path(cfg.root_path or ".").absolute()
        if create_local_root:
            root.mkdir(parents=True, exist_ok=True)
        return StorageLocation(LocalStorage(root), "")
    auth = cfg.auth
    if cfg.provider in S3_FAMILY:
        from milvus_backup.storage.s3 import S3Storage

        storage: Storage = S3Storage(
            cfg.bucket_name,
            endpoint=f"{cfg.address}:{cfg.port}",
            use_ssl=cfg.use_ssl,
            region=cfg.region,
            access_key=auth.access_key_id if auth.type == "static" else "",
            secret_key=auth.secret_access_key.get_secret_value() if auth.type == "static" else "",
            session_token=auth.session_token.get_secret_value() if auth.type == "static" else "",
            auth=auth.type,  # type: ignore[arg-type]
            iam_endpoint=auth.endpoint,
            provider=cfg.provider,
            multipart_copy_threshold=multipart_copy_threshold_mib * MIB,
        )
    elif cfg.provider == "azure":
        from milvus_backup.storage.azure import AzureStorage

        storage = AzureStorage(
            cfg.bucket_name,
            account_name=cfg.account_name,
            account_key=auth.account_key.get_secret_value(),
            endpoint=_azure_endpoint(cfg),
            auth=auth.type,  # type: ignore[arg-type]
        )
    else:  # gcpnative
        from milvus_backup.storage.gcs import GcsStorage

        storage = GcsStorage(
            cfg.bucket_name,
            credentials_file=auth.credentials_file,
            endpoint=_gcs_endpoint(cfg),
        )
    return StorageLocation(storage, root_prefix(cfg.root_path))


def _is_emulator_host(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _azure_endpoint(cfg: StorageConfig) -> str | None:
    """Azurite and other emulators address the account in the path; Azure itself in the host name."""
    scheme = "https" if cfg.use_ssl else "http"
    if _is_emulator_host(cfg.address):
        return f"{scheme}://{cfg.address}:{cfg.port}/{cfg.account_name}"
    if cfg.address in ("", "localhost"):
        return None
    return f"{scheme}://{cfg.account_name}.blob.{cfg.address}"


def _gcs_endpoint(cfg: StorageConfig) -> str | None:
    if cfg.address in ("", GCS_SERVICE_HOST):
        return None
    scheme = "https" if cfg.use_ssl else "http"
    return f"{scheme}://{cfg.address}:{cfg.port}"


def settings(config: Config) -> Settings:
    return Settings(
        transfer_mode=config.transfer.mode,
        copy_concurrency=config.transfer.concurrency,
        backup_collections=config.backup.concurrency.collections,
        restore_collections=config.restore.concurrency.collections,
        import_jobs=config.restore.concurrency.import_jobs,
        pause_gc=config.backup.pause_gc,
        keep_temp_files=config.restore.keep_temp_files,
        unflushed_deletes_wait=config.backup.unflushed_deletes_wait,
    )


def new_run(
    config: Config,
    *,
    progress: Progress | None = None,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    what: str = "the run",
    on_checks_passed: Callable[[], None] | None = None,
) -> Run:
    """A run whose threads are bounded by transfer.concurrency: the copies are what needs the most of them."""
    return Run(
        progress=progress,
        threads=config.transfer.concurrency,
        timeout=timeout,
        cancel=cancel,
        what=what,
        on_checks_passed=on_checks_passed,
    )


def connect_milvus(config: Config) -> MilvusClient:
    from milvus_backup.milvus.client import MilvusConnection, MilvusParams

    grpc = config.milvus.grpc
    return MilvusConnection(
        MilvusParams(
            address=grpc.address,
            port=grpc.port,
            user=config.milvus.user,
            password=config.milvus.password.get_secret_value(),
            tls_mode=grpc.tls_mode,
            ca_cert_path=grpc.ca_cert_path,
            server_name=grpc.server_name,
            mtls_cert_path=grpc.mtls_cert_path,
            mtls_key_path=grpc.mtls_key_path,
        )
    )


def gc_controls(config: Config) -> list[GcControl]:
    """The management API first (Milvus >= 2.4), then DataCoord's GcControl (Milvus 2.3) when configured."""
    from milvus_backup.milvus.gc import DataCoordGc, ManagementGc

    controls: list[GcControl] = []
    if config.milvus.management.endpoint:
        controls.append(ManagementGc(config.milvus.management.endpoint))
    with contextlib.suppress(GcUnsupported):
        controls.append(DataCoordGc(config.milvus.data_coord.address))
    return controls


def milvus_storage(config: Config) -> StorageLocation:
    return open_storage(
        config.milvus.storage, multipart_copy_threshold_mib=config.transfer.multipart_copy_threshold_mib
    )


#: The URI scheme of an export into object storage, per provider of the backup storage (whose service and
#: credentials the export uses).
EXPORT_SCHEMES = {**dict.fromkeys(S3_FAMILY, "s3"), "azure": "az", "gcpnative": "gs"}


def export_target(out: str, config: Config) -> ExportTarget:
    """Where `export` writes: a local directory (made if missing), or `<scheme>://<bucket>/<folder>` in the backup
    storage's service, with its credentials (s3:// for the S3 family, az:// for Azure, gs:// for gcpnative)."""
    from milvus_backup.storage.export_dir import ExportDirectory, ExportObjects

    scheme, found, rest = out.partition("://")
    if not found:
        return ExportDirectory(out)
    cfg = config.backup.storage
    wanted = EXPORT_SCHEMES.get(cfg.provider)
    bucket, _, folder = rest.partition("/")
    if scheme != wanted or not bucket:
        raise UsageError(
            detail=f"--out {out!r}: an export into object storage goes to the backup storage's service "
            + (f"({cfg.provider}): {wanted}://<bucket>/<folder>" if wanted else "and it is a local directory here"),
            hint="Give a local directory, or a URI of the backup storage's service.",
        )
    location = open_storage(cfg.model_copy(update={"bucket_name": bucket, "root_path": folder}))
    location.storage.check_bucket()
    return ExportObjects(location.storage, location.root)


def backup_storage(config: Config, *, create_local_root: bool = False) -> StorageLocation:
    """The backup storage. Only a create makes a missing local directory of backups (`create_local_root`): the
    other commands only read, and create nothing."""
    return open_storage(
        config.backup.storage,
        multipart_copy_threshold_mib=config.transfer.multipart_copy_threshold_mib,
        create_local_root=create_local_root,
    )


#: What `open_resources` does with a local directory of backups that does not exist: leave it missing (the
#: commands that read), create it (create), or create it for the run and remove what it created (check: it copies
#: a probe into it, as a create would, and leaves nothing behind).
BackupRoot = Literal["existing", "create", "probe"]


@contextlib.contextmanager
def _probe_local_root(config: Config) -> Iterator[None]:
    """The missing directories of a local backup root, made for the run and removed after it (if still empty)."""
    if config.backup.storage.provider != "local":
        yield
        return
    root = Path(config.backup.storage.root_path or ".").absolute()
    made = [path for path in (root, *root.parents) if not path.exists()]
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield
    finally:
        # Deepest first. A directory a file was put into stays; empty ones the storage made inside (its folder of
        # temporary files) go with it.
        for path in made:
            if any(files for _, _, files in os.walk(path)):
                break
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def open_resources(config: Config, *, milvus: bool, backup_root: BackupRoot = "existing") -> Iterator[Resources]:
    """The backup storage and the settings; with `milvus`, also a connection to Milvus (closed on leaving), its
    storage and its GC controls. `backup_root` says what to do with a missing local directory of backups."""
    with _probe_local_root(config) if backup_root == "probe" else contextlib.nullcontext():
        backup = backup_storage(config, create_local_root=backup_root == "create")
        if not milvus:
            yield Resources(backup, settings(config))
            return
        client = connect_milvus(config)
        try:
            side = MilvusSide(client, milvus_storage(config), config.milvus.storage.local_path, gc_controls(config))
            yield Resources(backup, settings(config), side)
        finally:
            client.close()


def retention(spec: ScheduleConfig) -> RetentionPolicy:
    r = spec.retention
    return RetentionPolicy(r.keep_last, r.keep_hourly, r.keep_daily, r.keep_weekly, r.keep_monthly, r.keep_yearly)


def schedule_prefix(spec: ScheduleConfig) -> str:
    """The fixed start of the schedule's backup names (its template up to the first field other than
    {schedule}): what its prune selects."""
    prefix = ""
    for literal, field_name, _, _ in string.Formatter().parse(spec.name_template):
        prefix += literal
        if field_name is None:
            continue
        if field_name != "schedule":
            break
        prefix += spec.name
    return prefix


def schedules(config: Config) -> list[Schedule]:
    """server.schedules as the scheduler's schedules; a schedule that cannot run as written is a ConfigError."""
    specs = config.server.schedules
    found = []
    for i, spec in enumerate(specs):
        key = f"server.schedules[{i}] ({spec.name})"
        if [s.name for s in specs].count(spec.name) > 1:
            raise ConfigError(detail=f"{key}: two schedules are named {spec.name!r}")
        policy = retention(spec)
        prefix = schedule_prefix(spec)
        if not policy.empty:
            if not prefix:
                raise ConfigError(
                    detail=f"{key}: its retention prunes the backups whose names start as its nameTemplate "
                    f"{spec.name_template!r} does, but that template starts with no fixed text",
                    hint="Start the template with fixed text, e.g. '{schedule}_{date:%Y%m%d_%H%M%S}'.",
                )
            for other in specs:
                if other is not spec and schedule_prefix(other).startswith(prefix):
                    raise ConfigError(
                        detail=f"{key}: its retention would prune the backups of schedule {other.name!r} too (their "
                        f"names start with {prefix!r} as well)",
                        hint="Give each schedule a name template with its own fixed start.",
                    )
        schedule = Schedule(
            spec.name,
            spec.cron,
            spec.name_template,
            spec.catch_up,
            {
                "cron": spec.cron,
                "collections": spec.collections,
                "databases": spec.databases,
                "incremental": spec.incremental,
                "retention": {k: v for k, v in dataclasses.asdict(policy).items() if v},
                "prune_prefix": prefix if not policy.empty else "",
            },
        )
        try:
            schedule.validate()
        except BackupToolError as exc:
            raise ConfigError(detail=f"{key}: {exc.message}", hint=exc.hint) from exc
        found.append(schedule)
    return found
