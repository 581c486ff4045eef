"""The binlog reader on files Milvus 2.3.5 wrote: live rows equal a pymilvus query of the source, row for row;
`inspect` and `export` read a backup with no Milvus configured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pymilvus import MilvusClient

from milvus_backup import wiring
from milvus_backup.cli.app import main
from milvus_backup.config import load_config
from milvus_backup.meta.binlog import read_stats
from milvus_backup.service import rows as live
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.resources import StorageLocation
from tests.integration.compare import _normalised, rows_by_pk
from tests.integration.conftest import Deployment, s3_client, s3_config, unique, write_config
from tests.integration.server_rig import ThreadServer
from tests.integration.test_backup import run
from tests.rig.ports import LOCALHOST, free_port

pytestmark = pytest.mark.integration

#: (database, collection, primary key, compared per partition?) of the fixture set (tests/integration/dataset.py)
SOURCES = [
    ("default", "c1", "id", True),
    ("default", "c2", "pk", False),  # a partition key: Milvus refuses queries by partition
    ("db1", "c1", "id", True),
    ("db2", "c4", "id", True),
]


@pytest.fixture(scope="module")
def local_deployment(request: pytest.FixtureRequest) -> Deployment:
    return Deployment("local", request.getfixturevalue("milvus_local"), request.getfixturevalue("dataset_local"), None)


def backup_fixture_set(deployment: Deployment, tmp: Path) -> tuple[Path, str]:
    config = deployment.config(tmp)
    name = unique("reader_")
    # the fixture set only: other tests leave collections of their own in the shared Milvus
    fixture_set = ",".join(sorted(deployment.expected.live_ids))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), "create", "-n", name, "-c", fixture_set, *deployment.create_flags])
    assert info.value.code == 0
    return config, name


@pytest.fixture(scope="module")
def full_backup(local_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One backup of the whole fixture set, shared by this module's tests."""
    return backup_fixture_set(local_deployment, tmp_path_factory.mktemp("reader"))


def backup_target(config: Path) -> StorageLocation:
    return wiring.backup_storage(load_config(str(config), env={}).config)


def reader_rows(target: StorageLocation, name: str, db: str, coll: str, pk: str, partition: str | None) -> dict:
    info = read_backup(target, name)
    [collection] = live.find_collections(name, info.collection_backups, f"{db}.{coll}")
    parts = [p for p in collection.partition_backups if partition is None or p.partition_name == partition]
    out: dict[Any, dict] = {}
    for row in live.iter_live_rows(target, name, collection, parts):
        assert row[pk] not in out, f"{db}.{coll}: key {row[pk]} twice"
        out[row[pk]] = row
    return out


def assert_reader_equals_queries(deployment: Deployment, config: Path, name: str) -> int:
    """Every live row the reader gives equals a pymilvus query of the source, partition by partition; returns how
    many rows were compared."""
    target = backup_target(config)
    compared = 0
    for db, coll, pk, per_partition in SOURCES:
        client = MilvusClient(uri=deployment.milvus.uri, db_name=db)
        try:
            partitions = client.list_partitions(coll) if per_partition else [None]
            for partition in partitions:
                want = rows_by_pk(client, coll, pk, partition)
                got = reader_rows(target, name, db, coll, pk, partition)
                assert set(got) == set(want), f"{db}.{coll}/{partition}: {set(want) ^ set(got)}"
                for key, row in want.items():
                    assert got[key] == _normalised(row), (db, coll, key)
                compared += len(want)
        finally:
            client.close()
    return compared


def test_live_rows_equal_a_query_of_the_source(local_deployment: Deployment, full_backup, capsys):
    config, name = full_backup
    target = backup_target(config)
    compared = assert_reader_equals_queries(local_deployment, config, name)
    expected = local_deployment.expected
    # db1.c3 has no index (not loaded, so not queryable): its keys against what was inserted.
    assert set(reader_rows(target, name, "db1", "c3", "id", None)) == expected.live_ids["db1.c3"]
    # the fixture's deletes (across flushes) and upserts are what the reader applied
    c1 = reader_rows(target, name, "default", "c1", "id", None)
    assert not expected.deleted_ids["default.c1"] & set(c1)
    for pk, row in expected.upserted["default.c1"].items():
        assert c1[pk]["s"] == row["s"] and c1[pk]["extra_dynamic"] == row["extra_dynamic"]
    assert compared == sum(len(expected.live_ids[k]) for k in ("default.c1", "default.c2", "db1.c1", "db2.c4"))


def test_live_rows_equal_a_query_of_milvus_2_2(request: pytest.FixtureRequest, tmp_path):
    """The same on files Milvus 2.2.16 wrote (its fixture set has no Array field, and no upserts)."""
    deployment = Deployment("v2.2", request.getfixturevalue("milvus_22"), request.getfixturevalue("dataset_22"), None)
    config, name = backup_fixture_set(deployment, tmp_path)
    compared = assert_reader_equals_queries(deployment, config, name)
    expected = deployment.expected
    assert compared == sum(len(expected.live_ids[k]) for k in ("default.c1", "default.c2", "db1.c1", "db2.c4"))
    c1 = reader_rows(backup_target(config), name, "default", "c1", "id", None)
    assert expected.deleted_ids["default.c1"] and not expected.deleted_ids["default.c1"] & set(c1)


def test_counts_match_the_rows(full_backup):
    config, name = full_backup
    target = backup_target(config)
    info = read_backup(target, name)
    [c1] = live.find_collections(name, info.collection_backups, "c1")
    total = live.count_collection_rows(target, name, c1)
    # Three batches and the two upserted rows; five deletes, and the two rows the upserts replaced. A compaction
    # Milvus ran before the backup (the later in the suite, the likelier) drops deleted rows and their deletes alike.
    assert total.live == total.inserted - total.deleted == 1200 - 5
    assert total.inserted <= 3 * 400 + 2 and total.deleted <= 5 + 2
    assert total.inserted - (3 * 400 + 2) == total.deleted - (5 + 2)


def offline_config(config: Path, tmp: Path) -> Path:
    """The same backup storage, and a Milvus address where nothing listens: only the storage of the Milvus
    section stays (the backup storage takes its provider from it)."""
    data = yaml.safe_load(config.read_text())
    data["milvus"] = {"grpc": {"address": LOCALHOST, "port": free_port()}, "storage": data["milvus"]["storage"]}
    data["server"] = {"jobsDir": str(tmp / "jobs")}
    return write_config(tmp, data)


def test_inspect_without_milvus(local_deployment: Deployment, full_backup, tmp_path, capsys):
    config, name = full_backup
    offline = offline_config(config, tmp_path)
    code, out, err = run(capsys, offline, "inspect", "-n", name, "--json", "--rows", "3")
    assert code == 0, err
    report = {c["collection"]: c for c in json.loads(out)["collections"]}
    expected = local_deployment.expected
    assert {k: c["rows"]["live"] for k, c in report.items()} == {k: len(v) for k, v in expected.live_ids.items()}
    c1 = report["default.c1"]
    # 1202 inserted and 7 deleted, less what a compaction before the backup dropped of both alike
    assert c1["rows"]["inserted"] - c1["rows"]["deleted"] == 1195 and c1["rows"]["inserted"] <= 1202
    assert [p["name"] for p in c1["partitions"]] == ["_default", "p1", "p2"]
    assert [f["name"] for f in c1["fields"]][-2:] == ["vec", "$meta"]
    assert len(c1["sample_rows"]) == 3 and "extra_dynamic" in c1["sample_rows"][0]
    assert len(report["default.c2"]["partitions"]) == 4  # the partition key's partitions
    code, out, err = run(capsys, offline, "inspect", "-n", name, "-c", "db2.c4")
    assert code == 0, err
    assert "db2.c4: 300 live rows" in out and "default.c1" not in out
    code, _, err = run(capsys, offline, "inspect", "-n", name, "-c", "nope")
    assert code == 17 and "not in backup" in err

    # the REST twin, served without Milvus
    server = ThreadServer(offline, tmp_path / "jobs")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            answer = client.get("/api/v1/inspect", params={"backup_name": name, "collections": "c2"})
            assert answer.status_code == 200, answer.text
            [c2] = answer.json()["data"]["collections"]
            assert c2["rows"]["live"] == len(expected.live_ids["default.c2"])
            missing = client.get("/api/v1/inspect", params={"backup_name": "no_such_backup"})
            assert missing.status_code == 404 and missing.json()["error"] == "BackupNotFoundError"
    finally:
        server.stop()


def test_exported_parquet_equals_the_source(local_deployment: Deployment, full_backup, tmp_path, capsys):
    config, name = full_backup
    offline = offline_config(config, tmp_path)
    out_dir = tmp_path / "export"
    code, out, err = run(capsys, offline, "export", "-n", name, "--format", "parquet", "--out", str(out_dir), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == sum(len(v) for v in local_deployment.expected.live_ids.values())
    for db, coll, pk, _ in SOURCES:
        files = [f for f in summary["files"] if f["collection"] == f"{db}.{coll}"]
        table = pa.concat_tables([pq.read_table(out_dir / f["path"]) for f in files])
        assert table.num_rows == sum(f["rows"] for f in files)
        exported = {}
        for row in table.to_pylist():
            for key in [k for k, v in row.items() if isinstance(v, str) and k in JSON_COLUMNS]:
                dynamic = json.loads(row.pop(key))
                if key == "$meta":
                    row.update(dynamic)
                else:
                    row[key] = dynamic
            if coll == "c2":
                row["bvec"] = bytes(row["bvec"])
            exported[row[pk]] = row
        client = MilvusClient(uri=local_deployment.milvus.uri, db_name=db)
        try:
            want = {k: _normalised(v) for k, v in rows_by_pk(client, coll, pk).items()}
        finally:
            client.close()
        assert exported == want, f"{db}.{coll}"
    # run again: every file is kept as it is
    code, out, err = run(capsys, offline, "export", "-n", name, "--out", str(out_dir), "--json")
    assert code == 0, err
    assert all(f["kept"] for f in json.loads(out)["files"])


JSON_COLUMNS = {"js", "$meta"}


def test_stats_logs_milvus_wrote(local_deployment: Deployment, full_backup):
    """Stats logs are not copied into backups; those in Milvus's own storage are read as the format says."""
    config, name = full_backup
    info = read_backup(backup_target(config), name)
    [c1] = live.find_collections(name, info.collection_backups, "default.c1")
    storage = local_deployment.milvus.local_storage_path
    assert storage is not None
    files = [p for p in (storage / "stats_log" / str(c1.collection_id)).rglob("*") if p.is_file()]
    assert files
    for path in files:
        stats = read_stats(path.read_bytes(), str(path))
        assert stats and all(s["fieldID"] == 100 and "bf" in s for s in stats), path


def test_export_into_a_bucket_of_the_backup_storage(filled_milvus_s3, seaweedfs, tmp_path, capsys):
    """`--out s3://bucket/folder` on SeaweedFS: the files are in the bucket, hold the collection's rows, and a
    second run keeps them."""
    s3 = s3_client(seaweedfs)
    backups, exports = unique("backups-"), unique("exports-")
    for bucket in (backups, exports):
        s3.create_bucket(Bucket=bucket)
    config = write_config(tmp_path, s3_config(filled_milvus_s3, backups))
    name = unique("exp_")
    code, _, err = run(capsys, config, "create", "-n", name, "-c", "rig_seed")
    assert code == 0, err
    out = f"s3://{exports}/milvus/{name}"
    code, out_text, err = run(capsys, config, "export", "-n", name, "--out", out, "--json")
    assert code == 0, err
    summary = json.loads(out_text)
    assert summary["out"].endswith(f"{exports}/milvus/{name}")
    ids: list[int] = []
    for f in summary["files"]:
        body = s3.get_object(Bucket=exports, Key=f"milvus/{name}/{f['path']}")["Body"].read()
        table = pq.read_table(pa.BufferReader(body))
        assert table.num_rows == f["rows"] and table.schema.field("vector").type == pa.list_(pa.float32(), 8)
        ids.extend(table.column("id").to_pylist())
    assert sorted(ids) == list(range(500)) and summary["rows"] == 500  # fill_collection's rows, none deleted
    code, out_text, err = run(capsys, config, "export", "-n", name, "--out", out, "--json")
    assert code == 0, err
    assert all(f["kept"] for f in json.loads(out_text)["files"])
