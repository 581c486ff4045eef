"""The effective configuration, in the shape of upstream's v2 `backup.yaml`.

Python names are snake_case; the YAML keys (upstream's, camelCase) are the aliases. A v1 file is translated
into this shape before validation (see `v1.py`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

Port = Annotated[int, Field(ge=1, le=65535)]
Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]

PROVIDERS = ("local", "minio", "s3", "aws", "gcp", "gcpnative", "azure", "aliyun", "tencent", "hwc")
Provider = Literal["local", "minio", "s3", "aws", "gcp", "gcpnative", "azure", "aliyun", "tencent", "hwc"]
AuthType = Literal["static", "iam", "sharedKey", "serviceAccount", "default"]
TlsMode = Literal["disabled", "server", "mutual"]
TransferMode = Literal["auto", "direct", "streaming"]

# Upstream accepts these spellings of a provider (v1 `storageType`).
PROVIDER_ALIASES = {"ali": "aliyun", "alibaba": "aliyun", "alicloud": "aliyun", "tc": "tencent"}

# Which auth types each provider accepts, and which credentials each auth type reads.
AUTH_TYPES_BY_PROVIDER: dict[str, tuple[str, ...]] = {
    "azure": ("sharedKey", "default"),
    "gcpnative": ("serviceAccount", "default"),
}
DEFAULT_AUTH_TYPES = ("static", "iam", "default")
CREDENTIALS_BY_AUTH_TYPE: dict[str, tuple[str, ...]] = {
    "static": ("accessKeyID", "secretAccessKey", "sessionToken"),
    "iam": ("endpoint",),
    "sharedKey": ("accountKey",),
    "serviceAccount": ("credentialsFile",),
    "default": (),
}


class _Section(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class LogFileConfig(_Section):
    path: str = "logs/backup.log"
    max_size_mib: Positive = Field(300, alias="maxSizeMiB")
    max_days: NonNegative = 0
    max_backups: NonNegative = 0


class LogConfig(_Section):
    level: Literal["debug", "info", "warn", "error", "panic", "fatal"] = "info"
    console: bool = True
    file: LogFileConfig = LogFileConfig()


Count = Annotated[int, Field(ge=-1)]
#: A schedule's name: it names its backups (the default name template) and labels its metrics.
ScheduleName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]


class RetentionConfig(_Section):
    """What a schedule's prune keeps after each run (`milvus-backup prune --keep-*`; -1 unlimited); all 0: no prune."""

    keep_last: Count = 0
    keep_hourly: Count = 0
    keep_daily: Count = 0
    keep_weekly: Count = 0
    keep_monthly: Count = 0
    keep_yearly: Count = 0


class ScheduleConfig(_Section):
    name: ScheduleName
    #: Five fields (minute hour day month weekday), or six with seconds last; evaluated in UTC.
    cron: str
    #: coll or db.coll; with `databases`, what `create -c` / `-d` take. Both empty: everything.
    collections: list[str] = []
    databases: list[str] = []
    incremental: bool = False
    retention: RetentionConfig = RetentionConfig()
    #: str.format with `schedule` (the name) and `date` (the due time, UTC).
    name_template: str = "{schedule}_{date:%Y%m%d_%H%M%S}"
    #: Run once at start-up when a due time passed while the server was down.
    catch_up: bool = True


class ServerConfig(_Section):
    debug_mode: bool = False
    swagger_base_path: str = ""
    #: Interface `milvus-backup server` listens on (ours, not upstream's: it listens on every interface).
    address: str = "127.0.0.1"
    #: Folder of the server's job database (SQLite), relative to the working directory unless absolute.
    jobs_dir: str = ".milvus-backup/jobs"
    #: When set, every REST call except health needs `Authorization: Bearer <token>`.
    auth_token: SecretStr = SecretStr("")
    #: With a token: serve /metrics and the API docs (/docs, /redoc, /openapi.json) without it.
    public_metrics: bool = False
    #: Largest request body the server reads, in bytes; a larger one is answered 413.
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    #: Backups the server makes on its own, on cron schedules (ours).
    schedules: list[ScheduleConfig] = []
    #: URL a JSON POST goes to when a scheduled run fails; empty: none (ours).
    failure_webhook: str = ""


class GrpcConfig(_Section):
    address: str = "localhost"
    port: Port = 19530
    tls_mode: TlsMode = "disabled"
    ca_cert_path: str = ""
    server_name: str = ""
    mtls_cert_path: str = ""
    mtls_key_path: str = ""


class EndpointConfig(_Section):
    endpoint: str = ""


class ManagementConfig(_Section):
    endpoint: str = "http://localhost:9091"


class ReplicateConfig(_Section):
    rpc_channel_name: str = "by-dev-replicate-msg"


class DataCoordConfig(_Section):
    #: host:port of DataCoord's gRPC port (dataCoord.port), to pause GC on Milvus 2.3 (ours, not upstream's).
    address: str = ""


class EtcdConfig(_Section):
    endpoints: list[str] = ["localhost:2379"]
    root_path: str = "by-dev"


class StorageAuthConfig(_Section):
    type: AuthType = "static"
    access_key_id: str = Field("minioadmin", alias="accessKeyID")
    secret_access_key: SecretStr = SecretStr("minioadmin")
    session_token: SecretStr = SecretStr("")
    account_key: SecretStr = SecretStr("")
    credentials_file: str = ""
    endpoint: str = ""


class StorageConfig(_Section):
    provider: Provider = "minio"
    address: str = "localhost"
    port: Port = 9000
    region: str = ""
    use_ssl: bool = Field(False, alias="useSSL")
    account_name: str = ""
    bucket_name: str = "a-bucket"
    root_path: str = "files"
    local_path: str = ""
    milvus_address: str = ""
    milvus_port: NonNegative = 0
    auth: StorageAuthConfig = StorageAuthConfig()


class MilvusConfig(_Section):
    user: str = ""
    password: SecretStr = SecretStr("")
    grpc: GrpcConfig = GrpcConfig()
    rest: EndpointConfig = EndpointConfig()
    management: ManagementConfig = ManagementConfig()
    data_coord: DataCoordConfig = DataCoordConfig()
    replicate: ReplicateConfig = ReplicateConfig()
    etcd: EtcdConfig = EtcdConfig()
    storage: StorageConfig = StorageConfig()


class BackupConcurrencyConfig(_Section):
    collections: Positive = 4
    segments: Positive = 1024


class BackupStorageConfig(StorageConfig):
    root_path: str = "backup"


class BackupConfig(_Section):
    storage: BackupStorageConfig = BackupStorageConfig()
    concurrency: BackupConcurrencyConfig = BackupConcurrencyConfig()
    pause_gc: bool = Field(True, alias="pauseGC")
    unflushed_deletes_wait: Positive = 720


class RestoreConcurrencyConfig(_Section):
    collections: Positive = 2
    import_jobs: Positive = 768


class RestoreConfig(_Section):
    concurrency: RestoreConcurrencyConfig = RestoreConcurrencyConfig()
    max_segments_per_import_job: Positive = 256
    keep_temp_files: bool = False


class TransferConfig(_Section):
    mode: TransferMode = "auto"
    concurrency: Positive = 128
    multipart_copy_threshold_mib: Positive = Field(500, alias="multipartCopyThresholdMiB")


class ZillizCloudConfig(_Section):
    endpoint: str = "https://api.cloud.zilliz.com"
    api_key: SecretStr = SecretStr("")


class Config(_Section):
    config_version: Literal["v2"] = "v2"
    log: LogConfig = LogConfig()
    server: ServerConfig = ServerConfig()
    milvus: MilvusConfig = MilvusConfig()
    backup: BackupConfig = BackupConfig()
    restore: RestoreConfig = RestoreConfig()
    transfer: TransferConfig = TransferConfig()
    zilliz_cloud: ZillizCloudConfig = ZillizCloudConfig()
