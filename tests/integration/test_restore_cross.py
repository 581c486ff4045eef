"""The guide's use cases 2-4: restore into another Milvus, and a restore that Milvus dies under.

The source is the S3-backed Milvus holding the fixture set; each test starts its own target Milvus.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pymilvus import MilvusClient

from tests.integration.compare import assert_same_rows, assert_same_search
from tests.integration.conftest import milvus_section, s3_client, unique, write_config
from tests.integration.test_backup import run
from tests.rig.milvus import MilvusInstance, S3StorageSpec, start_milvus
from tests.rig.seaweed import S3Server

pytestmark = pytest.mark.integration

TOOL = str(Path(sys.executable).parent / "milvus-backup")
COLLECTIONS = "c1,c2,db1.c1,db2.c4"


def storage_section(server: S3Server, bucket: str, root: str) -> dict:
    return {
        "provider": "minio",
        "address": server.host,
        "port": server.port,
        "bucketName": bucket,
        "rootPath": root,
        "auth": {"type": "static", "accessKeyID": server.access_key, "secretAccessKey": server.secret_key},
    }


def config_for(
    tmp_path: Path, milvus: MilvusInstance, milvus_s3: S3Server, backup_s3: S3Server, backup_bucket: str
) -> Path:
    spec = milvus.storage
    assert isinstance(spec, S3StorageSpec)
    section = milvus_section(milvus)
    section["storage"] = storage_section(milvus_s3, spec.bucket, spec.root_path)
    return write_config(
        tmp_path,
        {
            "configVersion": "v2",
            "milvus": section,
            "backup": {"storage": storage_section(backup_s3, backup_bucket, "backup")},
        },
    )


@pytest.fixture
def start_target(rig_dir: Path) -> Iterator:
    started: list[MilvusInstance] = []

    def start(server: S3Server, bucket: str, root: str) -> MilvusInstance:
        name = unique("target")
        instance = start_milvus(rig_dir / name, name=name, storage=S3StorageSpec.on(server, bucket, root))
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def restore_and_compare(
    capsys, source: MilvusInstance, target: MilvusInstance, config: Path, name: str, expected
) -> None:
    code, out, err = run(capsys, config, "restore", "-n", name, "--restore_index", "--load", "--json")
    assert code == 0, err
    restored = {c["target"]: c["rows"] for c in json.loads(out)["collections"]}
    assert restored == {key: len(expected.live_ids[key]) for key in ("default.c1", "default.c2", "db1.c1", "db2.c4")}
    for db, collection, pk in (
        ("default", "c1", "id"),
        ("default", "c2", "pk"),
        ("db1", "c1", "id"),
        ("db2", "c4", "id"),
    ):
        a = MilvusClient(uri=source.uri, db_name=db)
        b = MilvusClient(uri=target.uri, db_name=db)
        try:
            partitions = ["_default", "p1", "p2"] if (db, collection) == ("default", "c1") else None
            assert_same_rows(a, b, collection, collection, pk, partitions)
            if (db, collection) == ("default", "c1"):
                assert_same_search(a, b, "c1", "c1")
                assert b.get("c1", ids=list(expected.deleted_ids["default.c1"])) == []
                assert b.list_aliases("c1")["aliases"] == a.list_aliases("c1")["aliases"] == ["c1_alias"]
        finally:
            a.close()
            b.close()


def make_backup(capsys, config: Path) -> str:
    name = unique("cross_")
    code, _, err = run(capsys, config, "create", "-n", name, "-c", COLLECTIONS)
    assert code == 0, err
    return name


def staged_keys(server: S3Server, bucket: str) -> list[str]:
    listing = s3_client(server).list_objects_v2(Bucket=bucket, Prefix="restore-temp-")
    return [o["Key"] for o in listing.get("Contents", [])]


def test_use_case_2_two_instances_share_one_bucket(milvus_s3, dataset_s3, seaweedfs, start_target, tmp_path, capsys):
    # Milvus A keeps its data under files/, Milvus B under files_B/ of the same bucket; backups under backup/.
    target = start_target(seaweedfs, "milvus-bucket", "files_B")
    config_a = config_for(tmp_path, milvus_s3, seaweedfs, seaweedfs, "milvus-bucket")
    name = make_backup(capsys, config_a)
    config_b = config_for(tmp_path, target, seaweedfs, seaweedfs, "milvus-bucket")
    restore_and_compare(capsys, milvus_s3, target, config_b, name, dataset_s3)
    assert staged_keys(seaweedfs, "milvus-bucket") == []  # imported where it lies: nothing staged


def test_use_case_3_two_buckets_of_one_service(milvus_s3, dataset_s3, seaweedfs, start_target, tmp_path, capsys):
    bucket_a = unique("bucket-a-")
    s3_client(seaweedfs).create_bucket(Bucket=bucket_a)
    bucket_b = unique("bucket-b-")
    target = start_target(seaweedfs, bucket_b, "files")
    name = make_backup(capsys, config_for(tmp_path, milvus_s3, seaweedfs, seaweedfs, bucket_a))
    config_b = config_for(tmp_path, target, seaweedfs, seaweedfs, bucket_a)
    restore_and_compare(capsys, milvus_s3, target, config_b, name, dataset_s3)
    assert staged_keys(seaweedfs, bucket_b) == []  # staged server-side into bucket B, then removed


def test_use_case_4_two_s3_services(milvus_s3, dataset_s3, seaweedfs, seaweedfs_b, start_target, tmp_path, capsys):
    backup_bucket = unique("backups-")
    s3_client(seaweedfs).create_bucket(Bucket=backup_bucket)
    target = start_target(seaweedfs_b, "milvus-bucket", "files")
    name = make_backup(capsys, config_for(tmp_path, milvus_s3, seaweedfs, seaweedfs, backup_bucket))
    # Milvus B lives on the second S3 service; the backup stays on the first: the tool copies across.
    config_b = config_for(tmp_path, target, seaweedfs_b, seaweedfs, backup_bucket)
    restore_and_compare(capsys, milvus_s3, target, config_b, name, dataset_s3)
    assert staged_keys(seaweedfs_b, "milvus-bucket") == []


def test_restore_interrupted_by_killing_milvus(milvus_s3, dataset_s3, seaweedfs, start_target, tmp_path, capsys):
    backup_bucket = unique("backups-")
    s3_client(seaweedfs).create_bucket(Bucket=backup_bucket)
    target_bucket = unique("victim-")
    target = start_target(seaweedfs, target_bucket, "files")
    name = make_backup(capsys, config_for(tmp_path, milvus_s3, seaweedfs, seaweedfs, backup_bucket))
    config = config_for(tmp_path, target, seaweedfs, seaweedfs, backup_bucket)
    data = yaml.safe_load(config.read_text())
    data["restore"] = {"concurrency": {"importJobs": 1}}
    config.write_text(yaml.safe_dump(data))
    proc = subprocess.Popen(
        [TOOL, "--config", str(config), "restore", "-n", name, "-c", "c1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not staged_keys(seaweedfs, target_bucket):  # the restore is under way
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    target.kill()
    _, err = proc.communicate(timeout=180)
    assert proc.returncode in (31, 30), err
    assert "Error: " in err and "Milvus at 127.0.0.1" in err
    assert staged_keys(seaweedfs, target_bucket) == []  # no staging files left behind
    target.restart()
    code, _, err = run(capsys, config, "restore", "-n", name, "-c", "c1", "--drop_exist_collection")
    assert code == 0, err
    restored = MilvusClient(uri=target.uri)
    try:
        assert restored.get_collection_stats("c1")["row_count"] == len(dataset_s3.live_ids["default.c1"])
    finally:
        restored.close()
