"""The test rig's servers are real and usable: each fixture gets one end-to-end check."""

from __future__ import annotations

import dataclasses
import random
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from tests.rig.azurite import AzuriteServer
from tests.rig.fakegcs import GcsServer
from tests.rig.milvus import MilvusInstance, S3StorageSpec
from tests.rig.seaweed import S3Server

pytestmark = pytest.mark.integration

DIM = 8
ROWS = 100
T = TypeVar("T")


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_seaweedfs_put_get_and_auth(seaweedfs: S3Server) -> None:
    s3 = seaweedfs.client()
    bucket = _name("rig-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello seaweed")
    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello seaweed"

    wrong = seaweedfs.client(secret_key="not-the-secret")
    for call in (
        lambda: wrong.list_buckets(),
        lambda: wrong.get_object(Bucket=bucket, Key="a/b.txt"),
        lambda: wrong.put_object(Bucket=bucket, Key="x", Body=b"x"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] in ("AccessDenied", "SignatureDoesNotMatch")


def test_seaweedfs_b_is_independent(seaweedfs: S3Server, seaweedfs_b: S3Server) -> None:
    assert seaweedfs_b.port != seaweedfs.port
    bucket = _name("rig-b-")
    seaweedfs_b.client().create_bucket(Bucket=bucket)
    assert bucket not in {b["Name"] for b in seaweedfs.client().list_buckets()["Buckets"]}
    # Each server knows only its own credentials.
    with_a_keys = dataclasses.replace(seaweedfs_b, access_key=seaweedfs.access_key, secret_key=seaweedfs.secret_key)
    with pytest.raises(ClientError) as err:
        with_a_keys.client().list_buckets()
    assert err.value.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")


def test_azurite_blob_roundtrip(azurite: AzuriteServer) -> None:
    service = azurite.client()
    container = service.create_container(_name("rig"))
    payload = random.randbytes(3 * 1024 * 1024 + 17)
    container.upload_blob("dir/blob.bin", payload)
    assert container.download_blob("dir/blob.bin").readall() == payload
    assert [b.name for b in container.list_blobs(name_starts_with="dir/")] == ["dir/blob.bin"]
    assert azurite.blob_url.endswith("/devstoreaccount1")


def test_fake_gcs_roundtrip(fake_gcs: GcsServer) -> None:
    client = fake_gcs.client()
    bucket = client.create_bucket(_name("rig-"))
    small = bucket.blob("dir/small.txt")
    small.upload_from_string(b"hello gcs")
    # Chunked (resumable) upload: needs -external-url to point back at the server.
    big = bucket.blob("dir/big.bin", chunk_size=256 * 1024)
    payload = random.randbytes(1024 * 1024 + 5)
    big.upload_from_string(payload)
    assert bucket.blob("dir/small.txt").download_as_bytes() == b"hello gcs"
    assert bucket.blob("dir/big.bin").download_as_bytes() == payload
    assert sorted(b.name for b in client.list_blobs(bucket.name)) == ["dir/big.bin", "dir/small.txt"]


def _create_collection(client: Any, collection: str) -> None:
    """int64 pk + 8-d float vector; no index, so nothing gets loaded (unlike the quick setup)."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection(collection, schema=schema)


def _create_and_fill(instance: MilvusInstance, collection: str) -> int:
    """Create the collection, insert ROWS rows, flush, add an index; return the collection id."""
    client = instance.client()
    try:
        _create_collection(client, collection)
        rows = [{"pk": i, "vec": [random.random() for _ in range(DIM)]} for i in range(ROWS)]
        assert client.insert(collection, rows)["insert_count"] == ROWS
        client.flush(collection)
        index = client.prepare_index_params()
        index.add_index("vec", index_type="FLAT", metric_type="L2")
        client.create_index(collection, index)
        assert int(client.get_collection_stats(collection)["row_count"]) == ROWS
        return int(client.describe_collection(collection)["collection_id"])
    finally:
        client.close()


def _wait_for(check: Callable[[], T], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _local_binlogs(instance: MilvusInstance, collection_id: int) -> list[Path]:
    assert instance.local_storage_path is not None
    root = instance.local_storage_path / "insert_log" / str(collection_id)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _s3_binlogs(s3: S3Server, spec: S3StorageSpec, collection_id: int) -> list[str]:
    prefix = f"{spec.root_path}/insert_log/{collection_id}/"
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=spec.bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _count(instance: MilvusInstance, collection: str) -> int:
    client = instance.client()
    try:
        client.load_collection(collection)
        res = client.query(collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])
    finally:
        client.close()


def test_two_milvus_instances_write_binlogs_and_survive_kill(
    milvus_local: MilvusInstance, milvus_s3: MilvusInstance, seaweedfs: S3Server
) -> None:
    assert milvus_local.port != milvus_s3.port
    assert milvus_local.datacoord_port not in (milvus_s3.datacoord_port, milvus_local.port)
    assert milvus_local.uri == f"http://127.0.0.1:{milvus_local.port}"
    assert milvus_s3.local_storage_path is None
    assert isinstance(milvus_s3.storage, S3StorageSpec)

    for instance in (milvus_local, milvus_s3):
        with urllib.request.urlopen(f"http://127.0.0.1:{instance.metrics_port}/healthz", timeout=5) as resp:
            assert b"OK" in resp.read()
        with socket.create_connection(("127.0.0.1", instance.datacoord_port), timeout=5):
            pass

    collection = _name("rig_")
    local_id = _create_and_fill(milvus_local, collection)
    s3_id = _create_and_fill(milvus_s3, collection)

    # Flush returns once segments are sealed and persisted; files are visible right after.
    local_files = _wait_for(lambda: _local_binlogs(milvus_local, local_id))
    assert local_files, f"no binlogs under {milvus_local.local_storage_path}/insert_log/{local_id}"
    # insert_log/{coll}/{part}/{seg}/{field}/{log}: field 100 (pk), 101 (vec), system fields 0 and 1
    assert milvus_local.local_storage_path is not None
    local_fields = {p.relative_to(milvus_local.local_storage_path).parts[4] for p in local_files}
    assert {"0", "1", "100", "101"} <= local_fields
    s3_keys = _wait_for(lambda: _s3_binlogs(seaweedfs, milvus_s3.storage, s3_id))
    assert s3_keys, f"no keys under files/insert_log/{s3_id}/ in milvus-bucket"
    fields = {key.split("/")[5] for key in s3_keys}
    assert {"0", "1", "100", "101"} <= fields

    # The local instance is unaware of the S3 one's collection and vice versa: separate etcd.
    other = _name("only_s3_")
    client = milvus_s3.client()
    try:
        _create_collection(client, other)
    finally:
        client.close()
    client = milvus_local.client()
    try:
        assert other not in client.list_collections()
    finally:
        client.close()

    milvus_local.kill()
    assert not milvus_local.running
    milvus_local.restart()
    assert milvus_local.running
    client = milvus_local.client()
    try:
        assert int(client.get_collection_stats(collection)["row_count"]) == ROWS
    finally:
        client.close()
    assert _count(milvus_local, collection) == ROWS
    # The other instance was untouched by the kill.
    client = milvus_s3.client()
    try:
        assert int(client.get_collection_stats(collection)["row_count"]) == ROWS
    finally:
        client.close()
