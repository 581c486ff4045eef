"""Edges against the real servers: a full backup disk, bodies cut short, claiming a name without a conditional
create, the restore journal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from milvus_backup import wiring
from milvus_backup.config import load_config
from milvus_backup.errors import JobConflictError
from milvus_backup.meta import layout
from milvus_backup.service.claim import claimed, holder
from milvus_backup.service.resources import StorageLocation
from milvus_backup.storage.base import Storage
from milvus_backup.storage.s3 import S3Storage
from tests import small_fs
from tests.contract._kits import make_kit
from tests.integration.conftest import local_config, unique, write_config
from tests.integration.test_backup import run
from tests.rig.faultproxy import FaultPlan, FaultProxy
from tests.unit.service.test_full_disk import assert_full_and_clean, creates_on_small_file_systems


@pytest.mark.skipif(not small_fs.available(), reason="this machine allows no unprivileged tmpfs mounts")
def test_create_from_milvus_onto_a_full_disk_names_it_and_leaves_nothing(filled_milvus_local, tmp_path: Path) -> None:
    config = write_config(tmp_path, local_config(filled_milvus_local, tmp_path / "unused"))
    outcomes = creates_on_small_file_systems(tmp_path / "work", range(4, 120, 16), str(config), "rig_seed")
    assert {"binlogs", "meta"} <= assert_full_and_clean(outcomes)
    assert outcomes[-1]["error"] is None and outcomes[-1]["left"], "the largest file system holds the backup"


def _via(kind: str, direct: Storage, proxy: FaultProxy, request: pytest.FixtureRequest) -> Storage:
    """The same bucket as `direct`, reached through `proxy`."""
    if kind == "s3":
        server = request.getfixturevalue("seaweedfs")
        return S3Storage(
            direct.bucket,  # type: ignore[attr-defined]
            endpoint=f"{proxy.host}:{proxy.port}",
            use_ssl=False,
            access_key=server.access_key,
            secret_key=server.secret_key,
        )
    if kind == "azure":
        from milvus_backup.storage.azure import AzureStorage

        server = request.getfixturevalue("azurite")
        return AzureStorage(
            direct.container,  # type: ignore[attr-defined]
            account_name=server.account_name,
            account_key=server.account_key,
            endpoint=f"{proxy.url}/{server.account_name}",
        )
    from milvus_backup.storage.gcs import GcsStorage

    server = request.getfixturevalue("fake_gcs")
    return GcsStorage(direct.bucket, endpoint=proxy.url, project=server.project)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["s3", "azure", "gcs"])
def test_bodies_cut_short_are_read_again(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Ours for S3 (botocore's retries end when the answer begins), the SDK's own for Azure and GCS: each read
    below has its first answers cut in half by a proxy, and gets the whole object."""
    kit = make_kit(kind, request, tmp_path)
    direct = kit.new()
    content = bytes(range(256)) * 12 * 1024  # 3 MiB
    direct.put("cut/object", content)
    server = {"s3": "seaweedfs", "azure": "azurite", "gcs": "fake_gcs"}[kind]
    upstream = request.getfixturevalue(server)
    host, port = urlsplit(upstream.url if kind != "azure" else upstream.blob_url).netloc.split(":")
    proxy = FaultProxy(host, int(port))
    try:
        proxied = _via(kind, direct, proxy, request)
        cut = FaultPlan(seed=19, rate=1.0, kinds=("truncate",), limit=2, match=lambda r: r.method == "GET")
        proxy.faults(cut)
        with proxied.open_read("cut/object") as reader:
            streamed = b"".join(iter(lambda: reader.read(256 * 1024), b""))
        assert streamed == content
        assert len(proxy.injected) == 2
        proxy.faults(cut)
        assert proxied.get("cut/object") == content
        assert len(proxy.injected) == 2
    finally:
        proxy.stop()


def test_seaweedfs_honours_a_conditional_create_and_is_found_to(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    storage = make_kit("s3", request, tmp_path).new()
    assert storage.conditional_writes is None  # an S3 service is asked, not assumed
    assert storage.put_if_absent("lock", b"first") is True
    assert storage.conditional_writes is True and storage.put_if_absent("lock", b"second") is False
    assert [info.key for info in storage.list("")] == ["lock"]  # the probe object is gone


def test_a_lease_claim_on_seaweedfs_lets_exactly_one_create_hold_a_name(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The fallback for services without a conditional create, forced on SeaweedFS (which has one)."""
    target = StorageLocation(make_kit("s3", request, tmp_path).new(conditional_writes=False), "backups/")
    # SeaweedFS's first write to a new bucket waits for a volume, slower than a claim may take (it would give up).
    target.storage.put("backups/warm", b"")
    racers = 4
    start = threading.Barrier(racers)
    refusals = threading.Semaphore(0)

    def race(_: int) -> str:
        start.wait(10)
        try:
            with claimed(target, "same") as me:
                for _ in range(racers - 1):  # held until every other racer has settled, looked and given up
                    refusals.acquire(timeout=30)
                return me.owner
        except JobConflictError as exc:
            refusals.release()
            return f"refused: {exc}"

    with ThreadPoolExecutor(racers) as pool:
        outcomes = list(pool.map(race, range(racers)))
    assert sum(o.startswith("refused") for o in outcomes) == racers - 1, outcomes
    assert holder(target, "same") is None


def _journals(config: Path, name: str) -> list[str]:
    target = wiring.backup_storage(load_config(str(config), env={}).config)
    return [i.key for i in target.storage.list(layout.restore_journals_prefix(target.root, name))]


def test_a_failed_restore_with_keep_partial_is_named_by_the_next_one(filled_milvus_local, tmp_path: Path, capsys):
    config = write_config(tmp_path, local_config(filled_milvus_local, tmp_path / "backups"))
    code, _, err = run(capsys, config, "create", "-n", "kept", "-c", "rig_seed")
    assert code == 0, err
    target = unique("kept_")
    restore = ("restore", "-n", "kept", "-r", f"rig_seed:{target}")
    client = filled_milvus_local.client()
    try:
        # A load without an index fails in Milvus, after the collection was created and filled.
        code, _, err = run(capsys, config, *restore, "--keep-partial", "--load")
        assert code == 30 and "index" in err, err
        assert client.has_collection(target), "kept after the failure"
        assert len(_journals(config, "kept")) == 1
        code, _, err = run(capsys, config, *restore)
        assert code == 35 and "left incomplete by restore" in err and "kept after it failed" in err, err
        code, _, err = run(capsys, config, *restore, "--drop_exist_collection")
        assert code == 0, err
        assert client.get_collection_stats(target)["row_count"] == 500
        assert _journals(config, "kept") == []
        code, _, err = run(capsys, config, "verify", "-n", "kept")
        assert code == 0 and "Warning" not in err, err
    finally:
        if client.has_collection(target):
            client.drop_collection(target)
        client.close()


def test_deleting_a_folder_on_s3_aborts_the_uploads_left_open_in_it(request: pytest.FixtureRequest, tmp_path: Path):
    """A create killed in a multipart upload leaves parts no listing shows; the delete of its backup aborts it."""
    storage = make_kit("s3", request, tmp_path).new()
    client = storage._client  # type: ignore[attr-defined]
    bucket = storage.bucket  # type: ignore[attr-defined]
    storage.put("backups/killed/meta/x", b"x")
    for key in ("backups/killed/binlogs/1/2", "backups/kept/binlogs/1/2"):
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p" * 1024)
    assert storage.delete_prefix("backups/killed/") == 1
    left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"] for u in left] == ["backups/kept/binlogs/1/2"]
