"""Backends for the storage contract suite, each on a real local server started by tests/conftest.py (and the
in-memory test double, `tests/fakes/memory_storage.py`, which every other test suite may lean on).

A `Kit` makes storages of one backend: on a fresh bucket, on a bucket that does not exist, with wrong
credentials. Every bucket name is unique, so tests never see each other's objects.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from milvus_backup.storage.base import Storage

#: "memory-unordered" is the in-memory storage listing in descending key order, two keys a page: the base
#: class must hand out its listings sorted all the same.
BACKENDS = ["local", "memory", "memory-unordered", "s3", "azure", "gcs"]


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def closed_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Kit:
    name: str
    #: A storage on a new, empty bucket; keyword arguments go to the backend's constructor.
    new: Callable[..., Storage]
    #: A storage whose bucket does not exist.
    missing: Callable[[], Storage]
    #: A storage on an existing bucket, with credentials the service refuses (None: the backend has none).
    bad_credentials: Callable[[], Storage] | None = None
    #: A storage on a port where nothing listens (None: not tested for this backend).
    unreachable: Callable[[], Storage] | None = None
    #: The secret the storages are built with (None: the backend has none).
    secret: str | None = None


def local_kit(tmp_path: Path) -> Kit:
    from milvus_backup.storage.local import LocalStorage

    def new(**kwargs: Any) -> Storage:
        root = tmp_path / unique_name("bucket")
        root.mkdir()
        return LocalStorage(root, **kwargs)

    return Kit("local", new=new, missing=lambda: LocalStorage(tmp_path / unique_name("missing")))


def memory_kit(name: str, **options: Any) -> Kit:
    from tests.fakes.memory_storage import MemoryStorage

    def new(**kwargs: Any) -> Storage:
        return MemoryStorage(unique_name("bucket"), **{**options, **kwargs})

    return Kit(name, new=new, missing=lambda: MemoryStorage(unique_name("missing"), missing=True, **options))


def s3_kit(server: Any) -> Kit:
    import boto3
    from botocore.config import Config

    from milvus_backup.storage.s3 import S3Storage

    admin = boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )

    def make(bucket: str, **kwargs: Any) -> S3Storage:
        args: dict[str, Any] = dict(
            endpoint=f"{server.host}:{server.port}",
            use_ssl=False,
            access_key=server.access_key,
            secret_key=server.secret_key,
            provider="minio",
        )
        args.update(kwargs)
        return S3Storage(bucket, **args)

    def new(**kwargs: Any) -> Storage:
        bucket = unique_name()
        admin.create_bucket(Bucket=bucket)
        return make(bucket, **kwargs)

    def bad_credentials() -> Storage:
        bucket = unique_name()
        admin.create_bucket(Bucket=bucket)
        return make(bucket, secret_key=server.secret_key + "-wrong", max_attempts=1)

    def unreachable() -> Storage:
        return make(unique_name(), endpoint=f"127.0.0.1:{closed_port()}", max_attempts=1, connect_timeout=2)

    return Kit(
        "s3",
        new=new,
        missing=lambda: make(unique_name("missing")),
        bad_credentials=bad_credentials,
        unreachable=unreachable,
        secret=server.secret_key,
    )


def azure_kit(server: Any) -> Kit:
    from azure.storage.blob import BlobServiceClient

    from milvus_backup.storage.azure import AzureStorage

    admin = BlobServiceClient.from_connection_string(server.connection_string)

    def make(container: str, **kwargs: Any) -> AzureStorage:
        args: dict[str, Any] = dict(
            account_name=server.account_name, account_key=server.account_key, endpoint=server.blob_url
        )
        args.update(kwargs)
        return AzureStorage(container, **args)

    def new(**kwargs: Any) -> Storage:
        container = unique_name()
        admin.create_container(container)
        return make(container, **kwargs)

    def bad_credentials() -> Storage:
        container = unique_name()
        admin.create_container(container)
        wrong_key = "A" * 86 + "=="  # well-formed base64, not the account's key
        return make(container, account_key=wrong_key, max_attempts=1)

    def unreachable() -> Storage:
        url = f"http://127.0.0.1:{closed_port()}/{server.account_name}"
        return make(unique_name(), endpoint=url, max_attempts=1, connect_timeout=2)

    return Kit(
        "azure",
        new=new,
        missing=lambda: make(unique_name("missing")),
        bad_credentials=bad_credentials,
        unreachable=unreachable,
        secret=server.account_key,
    )


def gcs_kit(server: Any) -> Kit:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from milvus_backup.storage.gcs import GcsStorage

    admin = storage.Client(
        project=server.project, credentials=AnonymousCredentials(), client_options={"api_endpoint": server.url}
    )

    def make(bucket: str, **kwargs: Any) -> GcsStorage:
        return GcsStorage(bucket, endpoint=server.url, project=server.project, **kwargs)

    def new(**kwargs: Any) -> Storage:
        bucket = unique_name()
        admin.create_bucket(bucket)
        return make(bucket, **kwargs)

    # fake-gcs-server accepts any credentials (or none), so there is no wrong-credentials storage; and an
    # unreachable endpoint would only fail after google-cloud-storage's 120 s retry deadline.
    return Kit("gcs", new=new, missing=lambda: make(unique_name("missing")))


def make_kit(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Kit:
    """Servers are requested lazily, so a test of the local backend starts none."""
    if name == "local":
        return local_kit(tmp_path)
    if name == "memory":
        return memory_kit(name)
    if name == "memory-unordered":
        return memory_kit(name, unordered=True, page_size=2)
    if name == "s3":
        return s3_kit(request.getfixturevalue("seaweedfs"))
    if name == "azure":
        return azure_kit(request.getfixturevalue("azurite"))
    if name == "gcs":
        return gcs_kit(request.getfixturevalue("fake_gcs"))
    raise AssertionError(f"unknown backend {name}")
