"""The v1 `backup.yaml` schema (what milvus-backup 0.5.x shipped), translated into v2 keys.

Keys are matched case-insensitively, as upstream's viper does. Values keep the source they came from, so an
error or `config show` names the v1 key the user actually wrote.
"""

from __future__ import annotations

from typing import Any

from milvus_backup.config.model import PROVIDER_ALIASES
from milvus_backup.config.source import Setting, as_bool
from milvus_backup.errors import ConfigError

# v1 key -> v2 key, for the keys that only moved.
RENAMES: dict[str, str] = {
    "log.level": "log.level",
    "log.console": "log.console",
    "log.file.filename": "log.file.path",
    "log.file.rootPath": "log.file.path",
    "log.file.maxSize": "log.file.maxSizeMiB",
    "log.file.maxDays": "log.file.maxDays",
    "log.file.maxBackups": "log.file.maxBackups",
    "http.debugMode": "server.debugMode",
    "http.swaggerBasePath": "server.swaggerBasePath",
    "cloud.address": "zillizCloud.endpoint",
    "cloud.apikey": "zillizCloud.apiKey",
    "milvus.address": "milvus.grpc.address",
    "milvus.port": "milvus.grpc.port",
    "milvus.user": "milvus.user",
    "milvus.password": "milvus.password",
    "milvus.caCertPath": "milvus.grpc.caCertPath",
    "milvus.serverName": "milvus.grpc.serverName",
    "milvus.mtlsCertPath": "milvus.grpc.mtlsCertPath",
    "milvus.mtlsKeyPath": "milvus.grpc.mtlsKeyPath",
    "milvus.rpcChannelName": "milvus.replicate.rpcChannelName",
    "milvus.etcd.rootPath": "milvus.etcd.rootPath",
    "minio.multipartCopyThresholdMiB": "transfer.multipartCopyThresholdMiB",
    "backup.parallelism.copydata": "transfer.concurrency",
    "backup.parallelism.backupCollection": "backup.concurrency.collections",
    "backup.parallelism.backupSegment": "backup.concurrency.segments",
    "backup.parallelism.restoreCollection": "restore.concurrency.collections",
    "backup.parallelism.importJob": "restore.concurrency.importJobs",
    "backup.keepTempFiles": "restore.keepTempFiles",
    "backup.gcPause.enable": "backup.pauseGC",
    "backup.gcPause.address": "milvus.management.endpoint",
    # Ours, the same in both schemas: Milvus 2.3 pauses GC only through DataCoord's gRPC port; the REST server.
    "milvus.dataCoord.address": "milvus.dataCoord.address",
    "server.address": "server.address",
    "server.jobsDir": "server.jobsDir",
    "server.authToken": "server.authToken",
    "server.publicMetrics": "server.publicMetrics",
    "server.maxBodyBytes": "server.maxBodyBytes",
}

# Storage keys per side: v1 key without the `minio.` prefix -> v2 key below `<side>.storage.`.
_STORAGE_PLAIN = {
    "address": "address",
    "port": "port",
    "region": "region",
    "useSSL": "useSSL",
    "bucketName": "bucketName",
    "rootPath": "rootPath",
}
_STORAGE_CREDENTIALS = ("accessKeyID", "secretAccessKey", "token", "gcpCredentialJSON", "useIAM", "iamEndpoint")


def _backup_name(name: str) -> str:
    return "backup" + name[0].upper() + name[1:]


def _side_keys(side: str) -> list[str]:
    names = list(_STORAGE_PLAIN) + list(_STORAGE_CREDENTIALS)
    return [f"minio.{_backup_name(n) if side == 'backup' else n}" for n in names]


PROVIDER_KEYS = {
    "milvus": ("minio.storageType", "storage.storageType", "minio.cloudProvider"),
    "backup": ("minio.backupStorageType", "storage.backupStorageType"),
}
SPECIAL = [
    "milvus.tlsMode",
    "milvus.etcd.endpoints",
    "minio.crossStorage",
    *PROVIDER_KEYS["milvus"],
    *PROVIDER_KEYS["backup"],
    *_side_keys("milvus"),
    *_side_keys("backup"),
]
# Accepted for compatibility, with no effect in this tool.
DROPPED = [
    "http.enabled",
    "http.simpleResponse",
    "backup.gcPause.seconds",
    "backup.maxSegmentGroupSize",
    "milvus.authorizationEnabled",
]

V1_KEYS: list[str] = list(dict.fromkeys([*RENAMES, *SPECIAL, *DROPPED]))
V1_KEYS_LOWER = {key.lower(): key for key in V1_KEYS}

ENV: dict[str, str] = {
    "MILVUS_ADDRESS": "milvus.address",
    "MILVUS_PORT": "milvus.port",
    "MILVUS_USER": "milvus.user",
    "MILVUS_PASSWORD": "milvus.password",
    "MILVUS_TLS_MODE": "milvus.tlsMode",
    "MILVUS_CA_CERT_PATH": "milvus.caCertPath",
    "MILVUS_SERVER_NAME": "milvus.serverName",
    "MILVUS_MTLS_CERT_PATH": "milvus.mtlsCertPath",
    "MILVUS_MTLS_KEY_PATH": "milvus.mtlsKeyPath",
    "MILVUS_RPC_CHANNEL_NAME": "milvus.rpcChannelName",
    "MINIO_ADDRESS": "minio.address",
    "MINIO_PORT": "minio.port",
    "MINIO_REGION": "minio.region",
    "MINIO_ACCESS_KEY": "minio.accessKeyID",
    "MINIO_SECRET_KEY": "minio.secretAccessKey",
    "MINIO_TOKEN": "minio.token",
    "GCP_KEY_JSON": "minio.gcpCredentialJSON",
    "MINIO_USE_SSL": "minio.useSSL",
    "MINIO_BUCKET_NAME": "minio.bucketName",
    "MINIO_ROOT_PATH": "minio.rootPath",
    "MINIO_USE_IAM": "minio.useIAM",
    "MINIO_IAM_ENDPOINT": "minio.iamEndpoint",
    "MINIO_BACKUP_ADDRESS": "minio.backupAddress",
    "MINIO_BACKUP_PORT": "minio.backupPort",
    "MINIO_BACKUP_REGION": "minio.backupRegion",
    "MINIO_BACKUP_ACCESS_KEY": "minio.backupAccessKeyID",
    "MINIO_BACKUP_SECRET_KEY": "minio.backupSecretAccessKey",
    "MINIO_BACKUP_TOKEN": "minio.backupToken",
    "BACKUP_GCP_KEY_JSON": "minio.backupGcpCredentialJSON",
    "MINIO_BACKUP_USE_SSL": "minio.backupUseSSL",
    "MINIO_BACKUP_BUCKET_NAME": "minio.backupBucketName",
    "MINIO_BACKUP_ROOT_PATH": "minio.backupRootPath",
    "MINIO_BACKUP_USE_IAM": "minio.backupUseIAM",
    "MINIO_BACKUP_IAM_ENDPOINT": "minio.backupIamEndpoint",
    "BACKUP_PARALLELISM_COPYDATA": "backup.parallelism.copydata",
    "BACKUP_PARALLELISM_BACKUP_COLLECTION": "backup.parallelism.backupCollection",
    "BACKUP_PARALLELISM_RESTORE_COLLECTION": "backup.parallelism.restoreCollection",
    "BACKUP_KEEP_TEMP_FILES": "backup.keepTempFiles",
    "BACKUP_GC_PAUSE_ENABLE": "backup.gcPause.enable",
    "BACKUP_GC_PAUSE_ADDRESS": "backup.gcPause.address",
    "MILVUS_BACKUP_SERVER_TOKEN": "server.authToken",
}

_TLS_MODES = {0: "disabled", 1: "server", 2: "mutual"}


def translate(values: dict[str, Setting], warnings: list[str]) -> dict[str, Setting]:
    """v1 settings (canonical v1 key -> Setting) -> v2 settings (v2 key -> Setting)."""
    out: dict[str, Setting] = {}
    for v1_key, v2_key in RENAMES.items():
        if v1_key in values:
            out[v2_key] = values[v1_key]
    if "milvus.tlsMode" in values:
        out["milvus.grpc.tlsMode"] = _tls_mode(values, warnings)
    if "milvus.etcd.endpoints" in values:
        setting = values["milvus.etcd.endpoints"]
        raw = setting.value
        endpoints = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",") if p.strip()]
        out["milvus.etcd.endpoints"] = setting.with_value(endpoints)
    if "minio.crossStorage" in values:
        setting = values["minio.crossStorage"]
        out["transfer.mode"] = setting.with_value("streaming" if as_bool(setting) else "auto")
    milvus_provider = _provider(values, "milvus", None)
    _storage(values, "milvus", milvus_provider, out)
    _storage(values, "backup", _provider(values, "backup", milvus_provider), out)
    return out


def _tls_mode(values: dict[str, Setting], warnings: list[str]) -> Setting:
    setting = values["milvus.tlsMode"]
    try:
        mode = _TLS_MODES[int(setting.value)]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            detail=f"{setting.source.describe()}: tlsMode must be 0, 1 or 2, not {setting.value!r}"
        ) from None
    if mode == "mutual" and not (_text(values, "milvus.mtlsCertPath") and _text(values, "milvus.mtlsKeyPath")):
        warnings.append("milvus.tlsMode is 2 but mtlsCertPath/mtlsKeyPath are not both set: using one-way TLS (1).")
        mode = "server"
    return setting.with_value(mode)


def _text(values: dict[str, Setting], key: str) -> str:
    setting = values.get(key)
    return "" if setting is None or setting.value is None else str(setting.value)


def _provider(values: dict[str, Setting], side: str, inherited: Setting | None) -> Setting | None:
    for key in PROVIDER_KEYS[side]:
        if key in values:
            setting = values[key]
            name = str(setting.value).strip().lower()
            return setting.with_value(PROVIDER_ALIASES.get(name, name))
    return inherited


def _storage(values: dict[str, Setting], side: str, provider: Setting | None, out: dict[str, Setting]) -> None:
    prefix = f"{side}.storage."

    def get(name: str) -> Setting | None:
        return values.get(f"minio.{_backup_name(name) if side == 'backup' else name}")

    for v1_name, v2_name in _STORAGE_PLAIN.items():
        setting = get(v1_name)
        if setting is not None:
            out[prefix + v2_name] = setting
    if provider is not None and (side == "milvus" or provider.source.key in PROVIDER_KEYS["backup"]):
        out[prefix + "provider"] = provider
    kind = "minio" if provider is None else provider.value
    access, secret, token = get("accessKeyID"), get("secretAccessKey"), get("token")
    if kind == "local":
        return
    if kind == "azure":
        _put(out, prefix + "accountName", access)
        _put(out, prefix + "auth.accountKey", secret)
        out[prefix + "auth.type"] = Setting("sharedKey", provider.source)  # type: ignore[union-attr]
        return
    if kind == "gcpnative":
        credentials = get("gcpCredentialJSON")
        if credentials is not None and str(credentials.value):
            _put(out, prefix + "auth.credentialsFile", credentials)
            out[prefix + "auth.type"] = credentials.with_value("serviceAccount")
        else:
            out[prefix + "auth.type"] = Setting("default", provider.source)  # type: ignore[union-attr]
        return
    use_iam = get("useIAM")
    if use_iam is not None and as_bool(use_iam):
        out[prefix + "auth.type"] = use_iam.with_value("iam")
        _put(out, prefix + "auth.endpoint", get("iamEndpoint"))
        return
    _put(out, prefix + "auth.accessKeyID", access)
    _put(out, prefix + "auth.secretAccessKey", secret)
    _put(out, prefix + "auth.sessionToken", token)


def _put(out: dict[str, Setting], key: str, setting: Setting | None) -> None:
    if setting is not None:
        out[key] = setting


def canonical(key: str) -> str | None:
    return V1_KEYS_LOWER.get(key.lower())


def describe_replacements() -> dict[str, Any]:
    """v1 key -> v2 key, for warnings about v1 keys found in a v2 file."""
    return {v1.lower(): v2 for v1, v2 in RENAMES.items()}
