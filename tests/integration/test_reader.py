"""The binlog reader on files Milvus 2.3.5 wrote: live rows equal a pymilvus query of the source, row for row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pymilvus import MilvusClient

from milvus_backup import wiring
from milvus_backup.cli.app import main
from milvus_backup.config import load_config
from milvus_backup.service import rows as live
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.resources import StorageLocation
from tests.integration.compare import _normalised, rows_by_pk
from tests.integration.conftest import Deployment, unique

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


@pytest.fixture(scope="module")
def full_backup(local_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One backup of the whole fixture set, shared by this module's tests."""
    tmp = tmp_path_factory.mktemp("reader")
    config = local_deployment.config(tmp)
    name = unique("reader_")
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), "create", "-n", name])
    assert info.value.code == 0
    return config, name


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


def test_live_rows_equal_a_query_of_the_source(local_deployment: Deployment, full_backup, capsys):
    config, name = full_backup
    target = backup_target(config)
    compared = 0
    for db, coll, pk, per_partition in SOURCES:
        client = MilvusClient(uri=local_deployment.milvus.uri, db_name=db)
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
    expected = local_deployment.expected
    # db1.c3 has no index (not loaded, so not queryable): its keys against what was inserted.
    assert set(reader_rows(target, name, "db1", "c3", "id", None)) == expected.live_ids["db1.c3"]
    # the fixture's deletes (across flushes) and upserts are what the reader applied
    c1 = reader_rows(target, name, "default", "c1", "id", None)
    assert not expected.deleted_ids["default.c1"] & set(c1)
    for pk, row in expected.upserted["default.c1"].items():
        assert c1[pk]["s"] == row["s"] and c1[pk]["extra_dynamic"] == row["extra_dynamic"]
    assert compared == sum(len(expected.live_ids[k]) for k in ("default.c1", "default.c2", "db1.c1", "db2.c4"))


def test_counts_match_the_rows(full_backup):
    config, name = full_backup
    target = backup_target(config)
    info = read_backup(target, name)
    [c1] = live.find_collections(name, info.collection_backups, "c1")
    total = live.RowCounts()
    for partition in c1.partition_backups:
        total.add(live.count_live_rows(target, name, c1, partition))
    assert total.inserted == 3 * 400 + 2  # three batches and the two upserted rows
    assert total.live == total.inserted - total.deleted == 1200 - 5
    assert total.deleted == 5 + 2  # five deletes, and the two rows the upserts replaced
