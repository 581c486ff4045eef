"""The row-count proof of a create and a restore through inserts, on the real local-storage Milvus 2.3.5 and a
real Milvus Lite 3.2.2 (run by pymilvus inside the tool's process from a `.db` path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pymilvus import MilvusClient

from tests.integration.compare import assert_same_rows, assert_same_search
from tests.integration.conftest import local_config, unique, write_config
from tests.integration.dataset import Expected
from tests.integration.test_backup import run
from tests.rig.milvus import MilvusInstance

pytestmark = pytest.mark.integration


@pytest.fixture
def config(milvus_local: MilvusInstance, dataset_local: Expected, tmp_path: Path) -> Path:
    return write_config(tmp_path, local_config(milvus_local, tmp_path / "backups"))


def test_a_create_proves_its_rows_and_list_get_verify_show_the_proof(
    config: Path, dataset_local: Expected, tmp_path: Path, capsys
) -> None:
    name = unique("proved_")
    # default.c1 has deletes and upserts after its flushes; db1.c3 has no index, so it is not loaded
    code, out, err = run(capsys, config, "create", "-n", name, "--filter", "default.c1,default.c2,db1.c3", "--json")
    assert code == 0, err
    proofs = json.loads(out)["proofs"]
    for key in ("default.c1", "default.c2"):
        live = len(dataset_local.live_ids[key])
        assert proofs[key] == {
            "state": "proven",
            "reason": "",
            "backup_rows": live,
            "count_before": live,
            "count_after": live,
        }
    assert proofs["db1.c3"]["state"] == "unproven" and "not loaded" in proofs["db1.c3"]["reason"]
    assert any(w.startswith("db1.c3: row count not proven: not loaded") for w in json.loads(out)["warnings"])

    code, out, err = run(capsys, config, "list", "--json")
    assert code == 0, err
    [listed] = [b for b in json.loads(out) if b["name"] == name]
    assert listed["proof"]["default.c1"] == f"proven ({len(dataset_local.live_ids['default.c1'])} rows)"
    assert listed["proof"]["db1.c3"].startswith("unproven: not loaded")
    code, out, err = run(capsys, config, "get", "-n", name)
    assert code == 0, err
    assert json.loads(out)["proof"]["default.c2"]["state"] == "proven"
    code, out, err = run(capsys, config, "verify", "-n", name, "--quick")
    assert code == 0, err
    assert f"row count at create: proven ({len(dataset_local.live_ids['default.c1'])} rows)" in out
    code, out, err = run(capsys, config, "verify", "-n", name, "--quick", "--json")
    assert json.loads(out)["proofs"]["db1.c3"]["state"] == "unproven"


def test_a_backup_of_2_3_5_restores_into_milvus_lite_with_the_same_top_10(
    config: Path, milvus_local: MilvusInstance, dataset_local: Expected, tmp_path: Path, capsys
) -> None:
    name = unique("to_lite_")
    code, _, err = run(capsys, config, "create", "-n", name, "-c", "c1", "--no-proof")
    assert code == 0, err
    lite_db = tmp_path / "lite.db"
    lite_config = yaml.safe_load(config.read_text())
    lite_config["milvus"]["grpc"]["address"] = str(lite_db)
    lite = write_config(tmp_path, lite_config)

    code, out, err = run(capsys, lite, "restore", "-n", name, "--restore_index", "--load", "--json")

    assert code == 0, err
    result = json.loads(out)
    [restored] = result["collections"]
    assert (restored["mode"], restored["rows"]) == ("insert", len(dataset_local.live_ids["default.c1"]))
    assert restored["aliases"] == ["c1_alias"]
    assert any("cannot import backups: restored through inserts" in w for w in result["warnings"])
    source, target = milvus_local.client(), MilvusClient(uri=str(lite_db))
    try:
        target.load_collection("c1")  # Milvus Lite keeps no load state across a restart of its server
        assert_same_search(source, target, "c1", "c1")
        assert target.get("c1", ids=list(dataset_local.deleted_ids["default.c1"])) == []
        for pk, row in dataset_local.upserted["default.c1"].items():
            [got] = target.get("c1", ids=[pk], output_fields=["s", "extra_dynamic"])
            assert (got["s"], got["extra_dynamic"]) == (row["s"], row["extra_dynamic"])
    finally:
        source.close()
        target.close()


def test_insert_mode_into_milvus_2_3_keeps_every_row_partition_and_key(
    config: Path, milvus_local: MilvusInstance, dataset_local: Expected, capsys
) -> None:
    name = unique("inserted_")
    code, _, err = run(capsys, config, "create", "-n", name, "--filter", "default.c1,default.c2,db1.c1", "--no-proof")
    assert code == 0, err
    suffix = unique("_ins")
    code, out, err = run(
        capsys, config, "restore", "-n", name, "-s", suffix, "--mode", "insert", "--restore_index", "--load", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert {c["target"]: (c["mode"], c["rows"]) for c in result["collections"]} == {
        f"default.c1{suffix}": ("insert", len(dataset_local.live_ids["default.c1"])),
        f"default.c2{suffix}": ("insert", len(dataset_local.live_ids["default.c2"])),
        f"db1.c1{suffix}": ("insert", len(dataset_local.live_ids["db1.c1"])),
    }
    assert any(f"db1.c1{suffix} was created with auto-id off" in w for w in result["warnings"])
    client = milvus_local.client()
    db1 = MilvusClient(uri=milvus_local.uri, db_name="db1")
    try:
        assert_same_rows(client, client, "c1", f"c1{suffix}", "id", ["_default", "p1", "p2"])
        assert_same_rows(client, client, "c2", f"c2{suffix}", "pk")  # its partition key placed each row
        assert_same_rows(db1, db1, "c1", f"c1{suffix}", "id")  # the auto-id keys kept
    finally:
        # The session's Milvus is shared: other modules back up every collection and count what they find.
        for owner, restored in ((client, "c1"), (client, "c2"), (db1, "c1")):
            owner.drop_collection(f"{restored}{suffix}")
        client.close()
        db1.close()
