"""create / list / get / delete / verify on the real Milvus 2.3.5 instances (local storage and S3) and on Milvus
2.2.16 (local storage)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from milvus_backup import wiring
from milvus_backup.cli.app import main
from milvus_backup.config import load_config
from milvus_backup.errors import BucketNotFoundError
from milvus_backup.meta import codec
from milvus_backup.meta.model import BackupInfo
from tests.integration.conftest import Deployment, unique

pytestmark = pytest.mark.integration

TOOL = str(Path(sys.executable).parent / "milvus-backup")


def run(capsys, config: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def backup_objects(config: Path, prefix: str = "") -> dict[str, int]:
    """Every object under the backup root (key relative to it) -> size."""
    target = wiring.backup_storage(load_config(str(config), env={}).config)
    try:
        return {i.key[len(target.root) :]: i.size for i in target.storage.list(target.root + prefix)}
    except BucketNotFoundError:  # a local backup root is made by the first create, not by reading it
        return {}


def backup_json(config: Path, name: str, file: str) -> dict:
    target = wiring.backup_storage(load_config(str(config), env={}).config)
    return json.loads(target.storage.get(f"{target.root}{name}/meta/{file}"))


def collections_of(capsys, config: Path, name: str) -> set[str]:
    code, out, err = run(capsys, config, "get", "-n", name)
    assert code == 0, err
    return {f"{c['db_name']}.{c['collection_name']}" for c in json.loads(out)["collection_backups"]}


@pytest.mark.parametrize(
    ("flags", "selected"),
    [
        (["-c", "c1,c2"], {"default.c1", "default.c2"}),
        (["-a", '{"db1":["c1"],"db2":[]}'], {"db1.c1", "db2.c4"}),
        (["-d", "db2"], {"db2.c4"}),
        (["--filter", "db1.*"], {"db1.c1", "db1.c3"}),
        (["--filter", "db2.c4,c2"], {"db2.c4", "default.c2"}),
        (["-c", "db1.c3"], {"db1.c3"}),
    ],
    ids=["colls", "database_collections", "databases", "filter-db", "filter-mixed", "colls-db-dot"],
)
def test_flag_forms_select_exactly_the_right_collections(deployment: Deployment, tmp_path, capsys, flags, selected):
    config = deployment.config(tmp_path)
    code, _, err = run(capsys, config, "create", "-n", "sel", "--meta_only", *flags)
    assert code == 0, err
    assert collections_of(capsys, config, "sel") == selected


def test_no_selection_backs_up_every_database(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    code, _, err = run(capsys, config, "create", "-n", "everything", "--meta_only")
    assert code == 0, err
    assert {"default.c1", "default.c2", "db1.c1", "db1.c3", "db2.c4"} <= collections_of(capsys, config, "everything")


def test_full_backup_meta_matches_upstream_format(deployment: Deployment, tmp_path, capsys, caplog):
    config = deployment.config(tmp_path)
    code, out, err = run(capsys, config, "create", "-n", "full", "-c", "c1,c2", *deployment.create_flags)
    assert code == 0, err
    assert "create backup success: full: 2 collection(s)" in out
    if deployment.kind == "v2.2":
        # Milvus 2.2 offers no way to pause GC: the result says so, and what keeps dropped files instead.
        assert "could not pause Milvus GC" in out and "dataCoord.gc.dropTolerance" in out
    else:
        # GC was paused through DataCoord (Milvus 2.3 has no management route) and resumed at the end.
        assert "paused Milvus GC through the DataCoord GcControl" in caplog.text
        assert "resumed Milvus GC through the DataCoord GcControl" in caplog.text
        assert "garbage collection paused" in deployment.milvus.log_path.read_text()

    full = backup_json(config, "full", "full_meta.json")
    top = backup_json(config, "full", "backup_meta.json")
    assert list(top) == ["id", "state_code", "name", "backup_timestamp", "size", "milvus_version"]
    assert top["state_code"] == 0 and top["name"] == "full"
    assert top["milvus_version"].startswith(f"v{deployment.milvus.version}")
    assert top["size"] == full["size"] > 0
    c1 = next(c for c in full["collection_backups"] if c["collection_name"] == "c1")
    assert c1["db_name"] == "default" and c1["shards_num"] == 1
    assert "consistency_level" not in c1  # Strong is 0, and upstream leaves zero values out
    assert c1["has_index"] is True and c1["load_state"] == "Loaded" and c1["aliases"] == ["c1_alias"]
    schema = c1["schema"]
    assert schema["enable_dynamic_field"] is True and schema["description"] == "every 2.3 type"
    expected_fields: list[dict] = [
        {"fieldID": 100, "name": "id", "is_primary_key": True, "data_type": 5},
        {"fieldID": 101, "name": "b", "data_type": 1},
        {"fieldID": 102, "name": "i8", "data_type": 2},
        {"fieldID": 103, "name": "i16", "data_type": 3},
        {"fieldID": 104, "name": "i32", "data_type": 4},
        {"fieldID": 105, "name": "i64", "data_type": 5},
        {"fieldID": 106, "name": "f", "data_type": 10},
        {"fieldID": 107, "name": "d", "data_type": 11},
        {"fieldID": 108, "name": "s", "data_type": 21, "type_params": [{"key": "max_length", "value": "64"}]},
        {"fieldID": 109, "name": "js", "data_type": 23},
        {
            "fieldID": 110,
            "name": "arr",
            "data_type": 22,
            "type_params": [{"key": "max_capacity", "value": "8"}],
            "element_type": 5,
        },
        {"fieldID": 111, "name": "vec", "data_type": 101, "type_params": [{"key": "dim", "value": "8"}]},
    ]
    if deployment.kind == "v2.2":  # no Array field before 2.3: the vector takes the next field id
        expected_fields = [*expected_fields[:10], {**expected_fields[11], "fieldID": 110}]
    assert schema["fields"] == expected_fields
    [index] = c1["index_infos"]
    assert index["field_name"] == "vec" and index["index_type"] == "HNSW"
    assert index["params"] == {"M": "8", "efConstruction": "32", "index_type": "HNSW", "metric_type": "L2"}
    partitions = {p["partition_name"]: p for p in c1["partition_backups"]}
    assert set(partitions) == {"_default", "p1", "p2"}
    segments = [s for p in c1["partition_backups"] for s in p.get("segment_backups", [])]
    assert len(segments) >= 3  # one per flushed batch, plus the upserts
    assert any(s.get("deltalogs") for s in segments)  # the deletes
    for seg in segments:
        assert seg["group_id"] == seg["segment_id"] and seg["size"] > 0 and seg["num_of_rows"] > 0
        field_ids = [fb.get("fieldID", 0) for fb in seg["binlogs"]]
        # RowID (0, key omitted as upstream does) and Timestamp (1), every user field, and $meta (the last id)
        assert field_ids == [0, 1, *range(100, 101 + len(expected_fields))]
    # Rows as Milvus counts them: deleted rows still count until a compaction drops them.
    assert sum(s["num_of_rows"] for s in segments) >= len(deployment.expected.live_ids["default.c1"])
    c2 = next(c for c in full["collection_backups"] if c["collection_name"] == "c2")
    assert [f["name"] for f in c2["schema"]["fields"] if f.get("is_partition_key")] == ["tenant"]
    assert len(c2["partition_backups"]) == 4
    assert c2["index_infos"][0]["index_type"] == "BIN_IVF_FLAT"
    assert c2["schema"]["fields"][2]["data_type"] == 100  # BinaryVector

    # Our reader parses every meta file back to the same tree, and the level files rebuild it too.
    info = codec.loads(BackupInfo, json.dumps(full).encode())
    assert codec.to_dict(info) == full
    level_files = {
        f: json.dumps(backup_json(config, "full", f)).encode()
        for f in ("backup_meta.json", "collection_meta.json", "partition_meta.json", "segment_meta.json")
    }
    rebuilt = codec.decode_files(level_files)
    assert {c.collection_name for c in rebuilt.collection_backups} == {"c1", "c2"}
    assert rebuilt.size == info.size

    # Every binlog the meta names was copied, with its size; nothing else but the meta is there.
    objects = backup_objects(config, "full/")
    named = {}
    for coll in info.collection_backups:
        for part in coll.partition_backups:
            for seg in part.segment_backups:
                for fb in seg.binlogs:
                    for log in fb.binlogs:
                        key = (
                            f"full/binlogs/insert_log/{seg.collection_id}/{seg.partition_id}/{seg.group_id}/"
                            f"{seg.segment_id}/{fb.field_id}/{log.log_id}"
                        )
                        named[key] = log.log_size
                for fb in seg.deltalogs:
                    for log in fb.binlogs:
                        key = (
                            f"full/binlogs/delta_log/{seg.collection_id}/{seg.partition_id}/{seg.group_id}/"
                            f"{seg.segment_id}/{log.log_id}"
                        )
                        named[key] = log.log_size
    assert {k: v for k, v in objects.items() if "/binlogs/" in k} == named
    manifest = backup_json(config, "full", "manifest.json")
    assert len(manifest["objects"]) == len(named)
    assert {m["collection"]: m["segment_rows"] for m in manifest["collections"]}["c1"] == sum(
        s["num_of_rows"] for s in segments
    )

    code, out, err = run(capsys, config, "verify", "-n", "full")
    assert code == 0, err
    assert "verify success" in out


def test_meta_only_writes_no_binlogs(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    code, _, err = run(capsys, config, "create", "-n", "metaonly", "-c", "c1", "--meta_only")
    assert code == 0, err
    assert not [k for k in backup_objects(config, "metaonly/") if "/binlogs/" in k]
    full = backup_json(config, "metaonly", "full_meta.json")
    assert full["collection_backups"][0]["schema"]["fields"][0]["name"] == "id"


def test_force_does_not_flush(deployment: Deployment, tmp_path, capsys):
    client = deployment.milvus.client()
    name = unique("unflushed_")
    try:
        client.create_collection(name, dimension=4, metric_type="L2")  # 2.2 has no COSINE
        client.insert(name, [{"id": i, "vector": [0.1] * 4} for i in range(100)])
        client.flush(name)
        client.insert(name, [{"id": i, "vector": [0.2] * 4} for i in range(100, 150)])  # left growing
        config = deployment.config(tmp_path)
        code, _, err = run(capsys, config, "create", "-n", "forced", "-c", name, "-f", *deployment.create_flags)
        assert code == 0, err
        code, _, err = run(capsys, config, "create", "-n", "flushed", "-c", name, *deployment.create_flags)
        assert code == 0, err
        rows = {
            b: backup_json(config, b, "manifest.json")["collections"][0]["segment_rows"] for b in ("forced", "flushed")
        }
        assert rows == {"forced": 100, "flushed": 150}
    finally:
        client.drop_collection(name)
        client.close()


def test_verify_names_a_changed_byte_and_a_missing_file(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    code, _, err = run(capsys, config, "create", "-n", "tamper", "-c", "db2.c4", *deployment.create_flags)
    assert code == 0, err
    target = wiring.backup_storage(load_config(str(config), env={}).config)
    keys = sorted(k for k in backup_objects(config, "tamper/") if "/binlogs/" in k)
    changed, removed = keys[0], keys[-1]
    data = bytearray(target.storage.get(target.root + changed))
    data[len(data) // 2] ^= 0x01
    target.storage.put(target.root + changed, bytes(data))
    code, out, _ = run(capsys, config, "verify", "-n", "tamper", "--quick")
    assert code == 0, "a same-size change is only found by reading the content"
    code, out, err = run(capsys, config, "verify", "-n", "tamper")
    assert code == 13
    assert f"{changed.removeprefix('tamper/')}: content differs (checksum mismatch)" in out
    assert "failed verification: 1 problem(s) found" in err
    target.storage.delete(target.root + removed)
    code, out, err = run(capsys, config, "verify", "-n", "tamper", "--json")
    assert code == 13
    report = json.loads(out)
    problems = [p for c in report["collections"] for p in c["problems"]]
    assert f"{removed.removeprefix('tamper/')}: missing" in problems and len(problems) == 2
    assert report["ok"] is False


def test_list_get_delete_and_name_conflicts(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    assert run(capsys, config, "create", "-n", "one", "-c", "db1.c3", *deployment.create_flags)[0] == 0
    code, _, err = run(capsys, config, "create", "-n", "one", "-c", "db1.c3", *deployment.create_flags)
    assert code == 11 and "already exists" in err
    code, out, _ = run(capsys, config, "list", "--json")
    [listed] = json.loads(out)
    assert listed["name"] == "one" and listed["state"] == "complete" and listed["collections"] == ["db1.c3"]
    assert listed["size"] > 0 and listed["created"]
    assert listed["milvus_version"].startswith(f"v{deployment.milvus.version}")
    code, out, _ = run(capsys, config, "delete", "-n", "one")
    assert code == 0 and "delete backup success" in out
    assert backup_objects(config) == {}
    code, _, err = run(capsys, config, "delete", "-n", "one")
    assert code == 10 and "not found" in err
    code, _, err = run(capsys, config, "get", "-n", "one")
    assert code == 10


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-n", "a/b"], 2, "invalid backup name"),
        (["-n", "../x"], 2, "invalid backup name"),
        (["-n", "has space"], 2, "invalid backup name"),
        (["-n", "x" * 200], 2, "at most 128"),
        (["-n", "ok", "-a", '{"db1": ["c1"'], 2, "not valid JSON"),
        (["-n", "ok", "-a", '["c1"]'], 2, "must map database names"),
        (["-n", "ok", "-c", "nosuchcoll"], 34, "'nosuchcoll' does not exist in database 'default'"),
        (["-n", "ok", "-d", "nosuchdb"], 33, "Database 'nosuchdb' does not exist"),
        (["-n", "ok", "--filter", "db1.nope"], 34, "'nope' does not exist in database 'db1'"),
        (["-n", "ok", "-f", "--meta_only"], 2, "contradict"),
        (["-n", "ok", "--strategy", "bulk_flush"], 2, "FlushAll"),
    ],
)
def test_bad_input_fails_clearly_and_writes_nothing(deployment: Deployment, tmp_path, capsys, args, code, message):
    config = deployment.config(tmp_path)
    got, _, err = run(capsys, config, "create", *args)
    assert got == code and message in err, err
    assert backup_objects(config) == {}


def test_wrong_credentials_fail_clearly_and_write_nothing(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    data = yaml.safe_load(config.read_text())
    if deployment.kind == "s3":
        data["milvus"]["storage"]["auth"]["secretAccessKey"] = "wrong-secret"
        data["backup"]["storage"] = {
            **data["backup"]["storage"],
            "auth": {"type": "static", "accessKeyID": "x", "secretAccessKey": "wrong-secret"},
        }
        expected = 22
    else:
        data["milvus"]["grpc"]["port"] = 1
        expected = 31
    config.write_text(yaml.safe_dump(data))
    got, _, err = run(capsys, config, "create", "-n", "creds", "-c", "c1")
    assert got == expected, err
    assert "wrong-secret" not in err
    if deployment.kind == "local":
        assert backup_objects(config) == {}


@pytest.fixture(scope="session")
def many_segments(deployment: Deployment) -> str:
    """A collection of 150 one-segment partitions: ~900 binlogs, which one copy at a time takes long enough to
    copy that the test can kill the create in the middle, however loaded the machine is."""
    from bench.data import make_many_segments

    name = f"many_segments_{deployment.kind.replace('.', '_')}"
    make_many_segments(deployment.milvus.uri, name, segments=150)
    return name


def test_killed_create_is_incomplete_refused_deletable_and_rerun_succeeds(
    deployment: Deployment, many_segments, tmp_path, capsys
):
    config = deployment.config(tmp_path, transfer={"concurrency": 1})
    proc = subprocess.Popen(
        [TOOL, "--config", str(config), "create", "-n", "killed", "-c", many_segments, *deployment.create_flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not [k for k in backup_objects(config, "killed/") if "/binlogs/" in k]:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not [k for k in backup_objects(config, "killed/") if k.endswith("backup_meta.json")]
    if deployment.kind == "local":
        # The copies cut off by the kill left their temporary files outside the backup's folder, where no later
        # backup of this name, and no import of it by Milvus, can meet them.
        folder = Path(load_config(str(config), env={}).config.backup.storage.root_path) / "killed"
        assert [p for p in folder.rglob("*") if p.is_file() and "milvus-backup-tmp" in p.name] == []
    code, out, _ = run(capsys, config, "list", "--json")
    [listed] = json.loads(out)
    detail = listed.pop("detail")
    assert listed == {
        "name": "killed",
        "state": "incomplete",
        "size": 0,
        "collections": [],
        "created": "",
        "milvus_version": "",
        "id": "",
        "backup_timestamp": 0,
        "proof": {},
        "base": "",
        "unflushed_deletes_accepted": False,
    }
    # The killed process let go of the name with its death: the folder is a cut-off create, not one under way.
    assert detail.startswith(f"meta never written: its create was cut off (pid {proc.pid} on "), detail
    code, _, err = run(capsys, config, "get", "-n", "killed")
    assert code == 12 and "incomplete" in err
    code, _, err = run(capsys, config, "verify", "-n", "killed")
    assert code == 12
    code, _, err = run(capsys, config, "restore", "-n", "killed", "-s", "_never")
    assert code == 12 and "incomplete" in err
    code, _, err = run(capsys, config, "create", "-n", "killed", "-c", many_segments, *deployment.create_flags)
    assert code == 11  # the half-written folder still holds the name
    code, out, _ = run(capsys, config, "delete", "-n", "killed")
    assert code == 0
    assert backup_objects(config) == {}
    code, out, err = run(capsys, config, "create", "-n", "killed", "-c", many_segments, *deployment.create_flags)
    assert code == 0, err
    assert run(capsys, config, "verify", "-n", "killed")[0] == 0


def test_warnings_are_part_of_the_result_and_strict_fails_on_them(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    data = yaml.safe_load(config.read_text())
    del data["milvus"]["dataCoord"]  # Milvus 2.3 has no management route: GC cannot be paused without it
    config.write_text(yaml.safe_dump(data))

    name = unique("warned_")
    code, out, err = run(capsys, config, "create", "-n", name, "-c", "c2", "--json", *deployment.create_flags)
    assert code == 0, err
    result = json.loads(out)
    assert result["gc_paused"] is False
    warnings = result["warnings"]
    [gc_warning] = [w for w in warnings if "could not pause Milvus GC" in w]
    if deployment.kind == "v2.2":
        # 2.2 cannot pause GC at all, cannot count rows, and this create skipped the wait for its deletes.
        assert "dataCoord.gc.dropTolerance" in gc_warning
        others = sorted(w for w in warnings if w != gc_warning)
        assert len(others) == 2 and others[0].startswith("--accept-unflushed-deletes"), others
        assert "row count not proven" in others[1] and "no count(*)" in others[1], others
    else:
        assert "milvus.dataCoord.address" in gc_warning and warnings == [gc_warning]

    strict = unique("strict_")
    code, out, err = run(capsys, config, "create", "-n", strict, "-c", "c2", "--strict", *deployment.create_flags)
    assert code == 4, err
    count = len(warnings)
    assert "warning: could not pause Milvus GC" in out and f"{count} warning(s)" in out  # the result, then the failure
    assert f"Error: {count} warning(s) with --strict: " in err and "could not pause Milvus GC" in err
    code, out, err = run(capsys, config, "verify", "-n", strict)  # the work itself was done
    assert code == 0, err


def test_a_create_past_its_timeout_exits_43_and_leaves_nothing(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    name = unique("late_")
    code, out, err = run(capsys, config, "create", "-n", name, "--timeout", "0.05")
    assert code == 43, err
    assert f"Error: backup {name} did not finish within its timeout of 0.05 s." in err
    assert out == ""
    assert not any(key.startswith(f"{name}/") for key in backup_objects(config))


def test_two_creates_of_one_name_at_once_one_wins_whole_the_other_fails(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    creates = {
        coll: subprocess.Popen(
            [TOOL, "--config", str(config), "create", "-n", "same", "-c", coll, *deployment.create_flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for coll in ("c1", "c2")
    }
    ended = {coll: (proc.wait(timeout=300), proc.communicate()[1]) for coll, proc in creates.items()}
    [winner] = [coll for coll, (code, _) in ended.items() if code == 0]
    [(code, err)] = [ended[coll] for coll in ended if coll != winner]
    # The loser met the winner's claim (40), or, had the winner already finished, its complete backup (11).
    assert (code == 40 and "is being created" in err) or (code == 11 and "already exists" in err), err
    assert collections_of(capsys, config, "same") == {f"default.{winner}"}
    code, _, err = run(capsys, config, "verify", "-n", "same")
    assert code == 0, err
    assert not [k for k in backup_objects(config, "same/") if k.endswith("create.lock")]
