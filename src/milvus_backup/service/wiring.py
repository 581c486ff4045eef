"""The only place that turns configuration into storage backends and a Milvus connection.

The CLI and the REST API both get their resources from here, so the two doors can never be wired apart.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from milvus_backup.config import Config, StorageConfig
from milvus_backup.meta.layout import join, root_prefix
from milvus_backup.milvus.client import MilvusConnection, MilvusParams
from milvus_backup.storage.base import Storage

S3_FAMILY = ("minio", "s3", "aws", "gcp", "aliyun", "tencent", "hwc")
GCS_SERVICE_HOST = "storage.googleapis.com"
MIB = 1024 * 1024


@dataclass(frozen=True)
class StorageLocation:
    """A storage and the key prefix the tool works under in it (`files/`, `backup/`, or '')."""

    storage: Storage
    root: str

    def key(self, *parts: str) -> str:
        return join(self.root, *parts)

    def describe(self) -> str:
        return f"{self.storage.location}/{self.root}".rstrip("/")


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


def milvus_params(config: Config) -> MilvusParams:
    grpc = config.milvus.grpc
    return MilvusParams(
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


def connect_milvus(config: Config) -> MilvusConnection:
    return MilvusConnection(milvus_params(config))


def milvus_storage(config: Config) -> StorageLocation:
    return open_storage(config.milvus.storage, multipart_copy_threshold_mib=config.transfer.multipart_copy_threshold_mib)


def backup_storage(config: Config) -> StorageLocation:
    return open_storage(
        config.backup.storage,
        multipart_copy_threshold_mib=config.transfer.multipart_copy_threshold_mib,
        create_local_root=True,
    )
