"""Helpers shared by the integration tests: backup.yaml files pointing at the rig's servers, and data."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.rig.faultproxy import FaultProxy
from tests.rig.milvus import MilvusInstance, S3StorageSpec
from tests.rig.seaweed import S3Server


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def s3_client(server: S3Server, secret: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret or server.secret_key,
        region_name="us-east-1",
    )


def milvus_section(milvus: MilvusInstance, **grpc: Any) -> dict[str, Any]:
    return {
        "grpc": {"address": milvus.host, "port": milvus.port, **grpc},
        "management": {"endpoint": f"http://{milvus.host}:{milvus.metrics_port}"},
        "dataCoord": {"address": f"{milvus.host}:{milvus.datacoord_port}"},
    }


def local_config(milvus: MilvusInstance, backup_root: Path) -> dict[str, Any]:
    """v2 config for the local-storage Milvus, backups in a directory."""
    assert milvus.local_storage_path is not None
    section = milvus_section(milvus)
    section["storage"] = {"provider": "local", "rootPath": str(milvus.local_storage_path)}
    return {"configVersion": "v2", "milvus": section, "backup": {"storage": {"rootPath": str(backup_root)}}}


def s3_config(milvus: MilvusInstance, backup_bucket: str, backup_root: str = "backup") -> dict[str, Any]:
    """v2 config for the S3-backed Milvus, backups in another bucket of the same S3 service."""
    spec = milvus.storage
    assert isinstance(spec, S3StorageSpec)
    section = milvus_section(milvus)
    section["storage"] = {
        "provider": "minio",
        "address": spec.host,
        "port": spec.port,
        "bucketName": spec.bucket,
        "rootPath": spec.root_path,
        "auth": {"type": "static", "accessKeyID": spec.access_key, "secretAccessKey": spec.secret_key},
    }
    return {
        "configVersion": "v2",
        "milvus": section,
        "backup": {"storage": {"bucketName": backup_bucket, "rootPath": backup_root}},
    }


def write_config(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / f"{unique('backup-')}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def fill_collection(milvus: MilvusInstance, name: str, rows: int = 500, dim: int = 8) -> None:
    """A small flushed collection, so the Milvus storage root holds binlogs."""
    client = milvus.client()
    try:
        if client.has_collection(name):
            return
        client.create_collection(name, dimension=dim, auto_id=False)
        rng = random.Random(1)
        client.insert(name, [{"id": i, "vector": [rng.random() for _ in range(dim)]} for i in range(rows)])
        client.flush(name)
    finally:
        client.close()


@pytest.fixture(scope="session")
def filled_milvus_local(milvus_local: MilvusInstance) -> MilvusInstance:
    fill_collection(milvus_local, "rig_seed")
    return milvus_local


@pytest.fixture(scope="session")
def filled_milvus_s3(milvus_s3: MilvusInstance) -> MilvusInstance:
    fill_collection(milvus_s3, "rig_seed")
    return milvus_s3


@pytest.fixture
def backup_bucket(seaweedfs: S3Server) -> str:
    name = unique("backups-")
    s3_client(seaweedfs).create_bucket(Bucket=name)
    return name


@dataclass
class Deployment:
    """One Milvus with the backup fixture set, and how to write a backup.yaml for it."""

    kind: str
    milvus: MilvusInstance
    expected: Any
    seaweedfs: S3Server | None

    @property
    def create_flags(self) -> tuple[str, ...]:
        """Flags the restore tests' creates add. On 2.2 a create waits up to a minute for Milvus's channel
        checkpoints even when no delete is held; the fixture set's deletes were written long before (its Milvus
        syncs every second), and the tests check that deleted rows stay deleted, so these creates skip the wait.
        test_milvus22.py tests the wait itself."""
        return ("--accept-unflushed-deletes",) if self.kind == "v2.2" else ()

    def config(self, tmp_path: Path, **extra: Any) -> Path:
        if self.kind in ("local", "v2.2"):
            data = local_config(self.milvus, tmp_path / "backups")
        else:
            assert self.seaweedfs is not None
            bucket = unique("backups-")
            s3_client(self.seaweedfs).create_bucket(Bucket=bucket)
            data = s3_config(self.milvus, bucket)
        for section, values in extra.items():
            data.setdefault(section, {}).update(values)
        return write_config(tmp_path, data)


@pytest.fixture(scope="session")
def dataset_local(milvus_local: MilvusInstance) -> Any:
    from tests.integration.dataset import build_dataset

    return build_dataset(milvus_local.uri)


@pytest.fixture(scope="session")
def dataset_s3(milvus_s3: MilvusInstance) -> Any:
    from tests.integration.dataset import build_dataset

    return build_dataset(milvus_s3.uri)


@pytest.fixture(scope="session")
def dataset_22(milvus_22: MilvusInstance) -> Any:
    from tests.integration.dataset import build_dataset

    return build_dataset(milvus_22.uri, arrays=False)


#: The deployment fixture's params: Milvus 2.3.5 with local storage and with S3, and Milvus 2.2.16 (local storage).
_FIXTURES = {
    "local": ("milvus_local", "dataset_local"),
    "s3": ("milvus_s3", "dataset_s3"),
    "v2.2": ("milvus_22", "dataset_22"),
}


@pytest.fixture(scope="session", params=list(_FIXTURES))
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """The fixture set in the local-storage Milvus, the S3-backed Milvus and Milvus 2.2.16 (each built once)."""
    kind = request.param
    milvus_fixture, dataset_fixture = _FIXTURES[kind]
    expected = request.getfixturevalue(dataset_fixture)
    milvus = request.getfixturevalue(milvus_fixture)
    seaweed = request.getfixturevalue("seaweedfs") if kind == "s3" else None
    return Deployment(kind, milvus, expected, seaweed)


FAULT_SOURCE = "faults_src"
FAULT_SOURCE_ROWS = 400
FAULT_DELETED = 10


def small_collection(milvus: MilvusInstance, name: str) -> str:
    """A small collection for the fault and kill tests: two flushed segments and a delete (so a backup holds
    insert and delta logs), loaded so that restored copies can be compared row by row."""
    client = milvus.client()
    try:
        if not client.has_collection(name):
            client.create_collection(name, dimension=8, auto_id=False)
            rng = random.Random(7)
            half = FAULT_SOURCE_ROWS // 2
            for start in (0, half):
                rows = [{"id": i, "vector": [rng.random() for _ in range(8)]} for i in range(start, start + half)]
                client.insert(name, rows)
                client.flush(name)
            client.delete(name, filter=f"id < {FAULT_DELETED}")
            client.flush(name)
        client.load_collection(name)
    finally:
        client.close()
    return name


@pytest.fixture(scope="session")
def fault_source(milvus_s3: MilvusInstance) -> str:
    return small_collection(milvus_s3, FAULT_SOURCE)


@pytest.fixture(scope="session")
def fault_proxy(seaweedfs: S3Server) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of the session's SeaweedFS; tests set its plan and gates, and clear them."""
    proxy = FaultProxy(seaweedfs.host, seaweedfs.port)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def milvus_read_proxy(seaweedfs: S3Server) -> Iterator[FaultProxy]:
    """A second fault proxy in front of the session's SeaweedFS, through which the tool reads Milvus's storage."""
    proxy = FaultProxy(seaweedfs.host, seaweedfs.port)
    yield proxy
    proxy.stop()
