"""Milvus 2.2.16 as a user meets it: deletes that 2.2 still holds in memory, restores across versions both ways,
and what 2.2 lacks (Array fields, a GC pause) refused or said up front."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from pymilvus import MilvusClient

from tests.integration.compare import assert_same_rows
from tests.integration.conftest import local_config, unique, write_config
from tests.integration.server_rig import ThreadServer
from tests.integration.test_backup import backup_objects, run
from tests.rig.milvus import MilvusInstance

pytestmark = pytest.mark.integration


def _fresh_collection(milvus: MilvusInstance, rows: int = 300) -> str:
    """A collection whose rows are all in flushed segments, as 2.2 needs for its deletes to stay in memory."""
    name = unique("deletes_")
    client = milvus.client()
    try:
        client.create_collection(name, dimension=4, metric_type="L2", auto_id=False)
        rng = random.Random(3)
        client.insert(name, [{"id": i, "vector": [rng.random() for _ in range(4)]} for i in range(rows)])
        client.flush(name)
    finally:
        client.close()
    return name


def test_rows_deleted_just_before_a_backup_stay_deleted_after_its_restore(milvus_22, tmp_path, capsys):
    name = _fresh_collection(milvus_22)
    client = milvus_22.client()
    try:
        deleted = list(range(0, 300, 7))
        client.delete(name, ids=deleted)
        config = write_config(tmp_path, local_config(milvus_22, tmp_path / "backups"))
        code, out, err = run(capsys, config, "create", "-n", "at_once", "-c", name, "--json")  # no pause between
        assert code == 0, err
        result = json.loads(out)
        # Milvus 2.2 has no way to pause GC: the warning says so, and names what protects the files instead.
        [warning] = result["warnings"]
        assert "offers no way to pause GC" in warning and "dataCoord.gc.dropTolerance" in warning
        # The backup waited for the deletes: the delta logs are in it.
        assert [key for key in backup_objects(config, "at_once/") if "/delta_log/" in key]
        code, out, err = run(
            capsys, config, "restore", "-n", "at_once", "-s", "_back", "--restore_index", "--load", "--json"
        )
        assert code == 0, err
        assert json.loads(out)["collections"][0]["rows"] == 300 - len(deleted)
        assert client.get(f"{name}_back", ids=deleted) == []
        assert_same_rows(client, client, name, f"{name}_back", "id")
    finally:
        client.close()


def test_deletes_still_in_memory_fail_the_create_unless_accepted_which_the_backup_records(milvus_22, tmp_path, capsys):
    name = _fresh_collection(milvus_22)
    client = milvus_22.client()
    try:
        client.delete(name, ids=[1, 2, 3])
    finally:
        client.close()
    data = local_config(milvus_22, tmp_path / "backups")
    data["backup"]["unflushedDeletesWait"] = 1  # shorter than one checkpoint interval: the wait cannot succeed
    config = write_config(tmp_path, data)
    code, out, err = run(capsys, config, "create", "-n", "refused", "-c", name)
    assert code == 15, err
    assert "still holds deletes in memory (waited 1 s)" in err and "dataNode.segment.syncPeriod" in err
    assert "--accept-unflushed-deletes" in err
    assert backup_objects(config) == {}  # nothing written, nothing kept

    code, out, err = run(capsys, config, "create", "-n", "accepted", "-c", name, "--accept-unflushed-deletes", "--json")
    assert code == 0, err
    assert any("--accept-unflushed-deletes" in w for w in json.loads(out)["warnings"])
    code, out, err = run(capsys, config, "get", "-n", "accepted")
    assert code == 0, err
    assert json.loads(out)["unflushed_deletes_accepted"] is True
    code, out, err = run(capsys, config, "list", "--json")
    assert [b["unflushed_deletes_accepted"] for b in json.loads(out)] == [True]
    code, out, err = run(capsys, config, "verify", "-n", "accepted")
    assert code == 0, err
    code, out, err = run(capsys, config, "delete", "-n", "accepted")
    assert code == 0, err

    # The same over REST: refused without the field, recorded with it.
    server = ThreadServer(config, tmp_path / "jobs")
    try:
        refused = httpx.post(f"{server.url}/api/v1/create", json={"backup_name": "rest", "collection_names": [name]})
        assert refused.status_code == 409 and "dataNode.segment.syncPeriod" in refused.text, refused.text
        body = {"backup_name": "rest", "collection_names": [name], "accept_unflushed_deletes": True}
        made = httpx.post(f"{server.url}/api/v1/create", json=body, timeout=120)
        assert made.status_code == 200, made.text
        listed = httpx.get(f"{server.url}/api/v1/list").json()["data"]
        assert [(b["name"], b["unflushed_deletes_accepted"]) for b in listed] == [("rest", True)]
    finally:
        server.stop()


def _describe_aliases(client: MilvusClient, name: str) -> list[str]:
    """Aliases as DescribeCollection reports them (2.2 has no ListAliases)."""
    return sorted(client.describe_collection(name).get("aliases", []))


def _compare_default_collections(source: MilvusInstance, target: MilvusInstance, db: str, names: list[str]) -> None:
    """The restored copies (database `db` of `target`) hold exactly the rows of the originals (default)."""
    for collection in names:
        a = MilvusClient(uri=source.uri)
        b = MilvusClient(uri=target.uri, db_name=db)
        try:
            pk, partitions = ("id", ["_default", "p1", "p2"]) if collection == "c1" else ("pk", None)
            assert_same_rows(a, b, collection, collection, pk, partitions)
        finally:
            a.close()
            b.close()


def test_a_2_2_backup_restores_into_2_3_row_for_row(milvus_22, dataset_22, milvus_local, tmp_path, capsys):
    source = write_config(tmp_path, local_config(milvus_22, tmp_path / "backups"))
    # The fixture set's deletes were written long before (this Milvus syncs every second): no wait needed, and
    # the row-by-row comparison would show a deleted row come back.
    code, _, err = run(capsys, source, "create", "-n", "from22", "-c", "c1,c2", "--accept-unflushed-deletes")
    assert code == 0, err
    # The same backup directory, read by a config for Milvus 2.3.5; a database of its own keeps the fixture set.
    target = write_config(tmp_path, local_config(milvus_local, tmp_path / "backups"))
    db = unique("from22_")
    code, out, err = run(
        capsys, target, "restore", "-n", "from22", "-r", f"default.*:{db}.*", "--restore_index", "--load", "--json"
    )
    assert code == 0, err
    rows = {c["target"]: c["rows"] for c in json.loads(out)["collections"]}
    assert rows == {f"{db}.{c}": len(dataset_22.live_ids[f"default.{c}"]) for c in ("c1", "c2")}
    _compare_default_collections(milvus_22, milvus_local, db, ["c1", "c2"])
    # c1's alias, which 2.2 reports through DescribeCollection, is back on 2.3.5 (in the new database), as a
    # backup of the restored copies says (the tool asks 2.3.5's ListAliases within the database)
    code, _, err = run(capsys, target, "create", "-n", "back_on23", "-c", f"{db}.c1,{db}.c2", "--meta_only")
    assert code == 0, err
    code, out, err = run(capsys, target, "get", "-n", "back_on23")
    assert {c["collection_name"]: c.get("aliases", []) for c in json.loads(out)["collection_backups"]} == {
        "c1": ["c1_alias"],
        "c2": [],
    }


def test_a_2_3_backup_restores_into_2_2_and_array_fields_are_refused_before_anything_is_created(
    milvus_local, dataset_local, milvus_22, tmp_path, capsys
):
    source = write_config(tmp_path, local_config(milvus_local, tmp_path / "backups"))
    code, _, err = run(capsys, source, "create", "-n", "from23", "-c", "c1,c2")
    assert code == 0, err
    target = write_config(tmp_path, local_config(milvus_22, tmp_path / "backups"))
    db = unique("from23_")
    client = milvus_22.client()
    try:
        before = sorted(client.list_collections())
        databases = sorted(client.list_databases())
        code, _, err = run(capsys, target, "restore", "-n", "from23", "-r", f"default.*:{db}.*")
        assert code == 14, err
        assert "field 'arr' is a Array, which needs Milvus >= 2.3.0" in err and "v2.2.16" in err
        # refused before anything was created: no database, no collection
        assert sorted(client.list_databases()) == databases
        assert sorted(client.list_collections()) == before
    finally:
        client.close()

    code, out, err = run(
        capsys,
        target,
        "restore",
        "-n",
        "from23",
        "-c",
        "c2",
        "-r",
        f"default.*:{db}.*",
        "--restore_index",
        "--load",
        "--json",
    )
    assert code == 0, err
    assert [c["target"] for c in json.loads(out)["collections"]] == [f"{db}.c2"]
    _compare_default_collections(milvus_local, milvus_22, db, ["c2"])
    restored = MilvusClient(uri=milvus_22.uri, db_name=db)
    try:
        assert _describe_aliases(restored, "c2") == []
    finally:
        restored.close()


def test_alias_less_collections_back_up_on_2_2(milvus_22, dataset_22, tmp_path, capsys):
    """An alias-less collection used to fail the create on 2.2 (its ListAliases is missing); the restores above
    bring such collections back on both versions."""
    config = write_config(tmp_path, local_config(milvus_22, tmp_path / "backups"))
    code, out, err = run(capsys, config, "create", "-n", "no_alias", "-c", "db1.c3,c2", "--meta_only")
    assert code == 0, err
    code, out, _ = run(capsys, config, "get", "-n", "no_alias")
    assert {c["collection_name"]: c.get("aliases", []) for c in json.loads(out)["collection_backups"]} == {
        "c3": [],
        "c2": [],
    }
