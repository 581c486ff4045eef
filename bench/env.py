"""The benchmark's servers (the test rig's launchers) and the backup.yaml for each side."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

from milvus_backup.config import Config, load_config
from tests.rig.milvus import LocalStorageSpec, MilvusInstance, S3StorageSpec, start_milvus
from tests.rig.seaweed import S3Server, start_seaweedfs

S3_KEYS = ("benchaccess", "benchsecret123")
MILVUS_BUCKET = "milvus-bucket"


@dataclass
class Side:
    """One Milvus and the configuration the tool uses against it."""

    kind: str  # "local" or "s3"
    milvus: MilvusInstance
    config_path: Path
    s3: S3Server | None = None

    @property
    def config(self) -> Config:
        return load_config(str(self.config_path), env={}).config

    def s3_client(self) -> Any:
        assert self.s3 is not None
        return boto3.client(
            "s3",
            endpoint_url=self.s3.url,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
            region_name="us-east-1",
        )


def _milvus_section(milvus: MilvusInstance) -> dict[str, Any]:
    return {
        "grpc": {"address": milvus.host, "port": milvus.port},
        "management": {"endpoint": f"http://{milvus.host}:{milvus.metrics_port}"},
        "dataCoord": {"address": f"{milvus.host}:{milvus.datacoord_port}"},
    }


def write_local_config(work: Path, milvus: MilvusInstance, concurrency: int) -> Path:
    section = _milvus_section(milvus)
    section["storage"] = {"provider": "local", "rootPath": str(milvus.local_storage_path)}
    data = {
        "configVersion": "v2",
        "milvus": section,
        "backup": {"storage": {"rootPath": str(work / "backups")}},
        "transfer": {"concurrency": concurrency},
    }
    path = work / "local.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def write_s3_config(work: Path, milvus: MilvusInstance, s3: S3Server, concurrency: int) -> Path:
    section = _milvus_section(milvus)
    section["storage"] = {
        "provider": "minio",
        "address": s3.host,
        "port": s3.port,
        "bucketName": MILVUS_BUCKET,
        "rootPath": "files",
        "auth": {"type": "static", "accessKeyID": s3.access_key, "secretAccessKey": s3.secret_key},
    }
    # Backups in Milvus's own bucket (outside its rootPath): a restore then imports them where they lie.
    data = {
        "configVersion": "v2",
        "milvus": section,
        "backup": {"storage": {"rootPath": "backup"}},
        "transfer": {"concurrency": concurrency},
    }
    path = work / "s3.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


#: Milvus's automatic compaction is off: the incremental figure adds data and "compacts nothing" (a compaction
#: would rewrite segments at a time of Milvus's choosing, and every figure after it would measure other segments).
MILVUS_SETTINGS = {"dataCoord.compaction.enableAutoCompaction": False}


@contextlib.contextmanager
def servers(work: Path, kinds: list[str], concurrency: int) -> Iterator[dict[str, Side]]:
    started: list[Any] = []
    sides: dict[str, Side] = {}
    try:
        if "local" in kinds:
            local = start_milvus(
                work / "milvus_local", name="bench-local", storage=LocalStorageSpec(), settings=MILVUS_SETTINGS
            )
            started.append(local)
            sides["local"] = Side("local", local, write_local_config(work, local, concurrency))
        if "s3" in kinds:
            s3 = start_seaweedfs(work / "seaweedfs", *S3_KEYS)
            started.append(s3)
            milvus = start_milvus(
                work / "milvus_s3",
                name="bench-s3",
                storage=S3StorageSpec.on(s3, MILVUS_BUCKET),
                settings=MILVUS_SETTINGS,
            )
            started.append(milvus)
            sides["s3"] = Side("s3", milvus, write_s3_config(work, milvus, s3, concurrency), s3)
        yield sides
    finally:
        for server in reversed(started):
            server.stop()
