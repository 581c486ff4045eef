"""`milvus-backup server` against the real local-storage Milvus 2.3.5: every endpoint over HTTP (httpx against
uvicorn), durable jobs across a killed server, cancel, bad requests, auth, metrics."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options as ChromeOptions
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from milvus_backup.cli.app import main
from milvus_backup.service.catalog import hybrid_ts_to_iso
from tests.integration.conftest import local_config, unique, write_config
from tests.integration.server_rig import ProcessServer, ThreadServer, poll
from tests.rig.milvus import MilvusInstance

pytestmark = pytest.mark.integration

API = "/api/v1"
SUCCESS, FAIL, TIMEOUT = 2, 3, 4


def server_config(milvus: MilvusInstance, folder: Path, **server: Any) -> Path:
    data = local_config(milvus, folder / "backups")
    data["server"] = {"jobsDir": str(folder / "jobs"), **server}
    return write_config(folder, data)


@pytest.fixture(scope="module")
def served(
    milvus_local: MilvusInstance, dataset_local: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, Path]]:
    """One server in a thread for the module, on the fixture set; the client and the config it serves."""
    folder = tmp_path_factory.mktemp("server")
    config = server_config(milvus_local, folder)
    server = ThreadServer(config, folder / "jobs")
    with httpx.Client(base_url=server.url, timeout=300) as client:
        yield client, config
    server.stop()


def backup_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    answer = client.get(f"{API}/get_backup", params={"backup_id": job_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def restore_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    answer = client.get(f"{API}/get_restore", params={"id": job_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def ended(data: dict[str, Any]) -> bool:
    return data["state_code"] in (SUCCESS, FAIL, TIMEOUT)


def collections(data: dict[str, Any]) -> set[str]:
    return {f"{c['db_name']}.{c['collection_name']}" for c in data["collection_backups"]}


def test_async_create_and_restore_are_polled_to_success(served, milvus_local, dataset_local):
    client, _ = served
    name = unique("rest_async_")
    answer = client.post(f"{API}/create", json={"backup_name": name, "collection_names": ["c1"], "async": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["msg"] == "create backup is executing asynchronously" and body["code"] == 0
    job_id = body["requestId"]
    assert body["data"]["id"] == job_id and body["data"]["state_code"] in (1, SUCCESS)

    data = poll(lambda: backup_job(client, job_id), ended)
    assert data["state_code"] == SUCCESS, data["errorMessage"]
    assert data["progress"] == 100 and data["name"] == name and data["size"] > 0
    assert collections(data) == {"default.c1"}
    # progress by collection, kept in the job row as it runs: here the finished copy
    assert data["collection_progress"] == [
        {"name": "default.c1", "unit": "bytes", "done": data["size"], "total": data["size"]}
    ]

    suffix = unique("_r")
    answer = client.post(
        f"{API}/restore", json={"backup_name": name, "collection_suffix": suffix, "restoreIndex": True, "async": True}
    )
    assert answer.status_code == 200, answer.text
    restore_id = answer.json()["data"]["id"]
    assert restore_id.startswith("restore_")
    data = poll(lambda: restore_job(client, restore_id), ended)
    assert data["state_code"] == SUCCESS, data["errorMessage"]
    assert data["progress"] == 100
    (task,) = data["collection_restore_tasks"]
    assert (task["target_db_name"], task["target_collection_name"]) == ("default", "c1" + suffix)
    assert task["rows"] >= len(dataset_local.live_ids["default.c1"]) and task["segments"] >= 3
    assert data["collection_progress"] == [
        {"name": f"default.c1{suffix}", "unit": "segments", "done": task["segments"], "total": task["segments"]}
    ]
    milvus = milvus_local.client()
    try:
        assert milvus.has_collection("c1" + suffix)
    finally:
        milvus.close()


def test_sync_create_and_restore_return_the_finished_result(served, dataset_local):
    client, _ = served
    name = unique("rest_sync_")
    answer = client.post(
        f"{API}/create", json={"backup_name": name, "db_collections": {"db2": ["c4"]}, "requestId": unique("req-")}
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["state_code"] == SUCCESS and data["progress"] == 100 and collections(data) == {"db2.c4"}
    assert data["proof"]["db2.c4"]["state"] == "proven"

    target = unique("c4_")
    answer = client.post(
        f"{API}/restore",
        json={
            "backup_name": name,
            "db_collections": '{"db2": ["c4"]}',
            "collection_renames": {"db2.c4": f"db2.{target}"},
        },
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["state_code"] == SUCCESS
    (task,) = data["collection_restore_tasks"]
    assert task["target_collection_name"] == target and task["rows"] == len(dataset_local.live_ids["db2.c4"])
    assert task["mode"] == "import"

    inserted = unique("c4_ins_")
    answer = client.post(
        f"{API}/restore",
        json={
            "backup_name": name,
            "db_collections": {"db2": ["c4"]},
            "collection_renames": {"db2.c4": f"db2.{inserted}"},
            "mode": "insert",
        },
    )
    assert answer.status_code == 200, answer.text
    (task,) = answer.json()["data"]["collection_restore_tasks"]
    assert (task["mode"], task["rows"]) == ("insert", len(dataset_local.live_ids["db2.c4"]))


def test_list_get_and_delete_a_backup_the_cli_made(served, capsys):
    client, config = served
    name = unique("cli_made_")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "create", "-n", name, "-c", "db1.c3"])
    assert exit_info.value.code == 0, capsys.readouterr().err

    listed = {b["name"]: b for b in client.get(f"{API}/list").json()["data"]}
    assert listed[name]["state"] == "complete" and listed[name]["collections"] == ["db1.c3"]
    assert listed[name]["size"] > 0 and listed[name]["milvus_version"]

    answer = client.get(f"{API}/get_backup", params={"backup_name": name})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["state_code"] == SUCCESS and data["name"] == name and collections(data) == {"db1.c3"}

    answer = client.delete(f"{API}/delete", params={"backup_name": name})
    assert answer.status_code == 200 and answer.json()["data"]["objects"] > 0, answer.text
    assert client.get(f"{API}/get_backup", params={"backup_name": name}).status_code == 404
    assert client.delete(f"{API}/delete", params={"backup_name": name}).status_code == 404


def test_verify_reports_an_intact_backup_and_list_shows_it(served):
    client, _ = served
    name = unique("verified_")
    assert client.post(f"{API}/create", json={"backup_name": name, "collection_names": ["db1.c3"]}).status_code == 200
    answer = client.post(f"{API}/verify", json={"backup_name": name})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["result"]["ok"] is True
    proof = answer.json()["data"]["result"]["proofs"]["db1.c3"]  # no index, so not loaded: nothing to count
    assert proof["state"] == "unproven" and "not loaded" in proof["reason"]
    listed = {b["name"]: b for b in client.get(f"{API}/list").json()["data"]}
    assert listed[name]["last_verify"]["ok"] is True
    assert listed[name]["proof"]["db1.c3"].startswith("unproven: not loaded")


# --- upstream's answer shapes, field by field ------------------------------------------------------------------

#: The fields of the Go server's list items (its BackupInfo up to v0.4, BackupSummary since), then ours.
UPSTREAM_LIST_ITEM = {
    "id",
    "name",
    "state_code",
    "errorMessage",
    "progress",
    "backup_timestamp",
    "size",
    "start_time",
    "end_time",
    "milvus_version",
}
OUR_LIST_ITEM = {
    "state",
    "collections",
    "created",
    "detail",
    "unflushed_deletes_accepted",
    "last_verify",
    "proof",
    "base",
}
#: upstream's BackupInfoBrief (rpc_channel_info, Milvus 2.5's, is left out when empty, as the Go server omits it).
UPSTREAM_BRIEF = {
    "id",
    "state_code",
    "errorMessage",
    "start_time",
    "end_time",
    "progress",
    "name",
    "backup_timestamp",
    "collection_backups",
    "size",
    "milvus_version",
    "database_backups",
    "meta_size",
    "format",
}
OUR_BRIEF = {"job_id", "collection_progress", "proof"}
#: upstream's CollectionBackupInfoBrief fields that every backed-up collection has.
UPSTREAM_COLLECTION_BRIEF = {"id", "collection_id", "collection_name", "schema", "shards_num", "size", "has_index"}
UPSTREAM_RESTORE_TASK = {
    "id",
    "state_code",
    "errorMessage",
    "start_time",
    "end_time",
    "progress",
    "collection_restore_tasks",
    "restored_size",
    "to_restore_size",
}
OUR_RESTORE_TASK = {"backup_name", "collection_progress"}
UPSTREAM_COLLECTION_TASK = {
    "id",
    "state_code",
    "errorMessage",
    "start_time",
    "end_time",
    "progress",
    "target_db_name",
    "target_collection_name",
    "restored_size",
    "to_restore_size",
}
OUR_COLLECTION_TASK = {"source", "segments", "rows", "indexes", "mode"}


def test_list_get_backup_and_get_restore_answer_with_upstreams_fields(served, dataset_local):
    client, config = served
    name, job_id, restore_id = unique("shapes_"), unique("req-"), unique("restore_shapes_")
    before = int(time.time())
    answer = client.post(f"{API}/create", json={"backup_name": name, "collection_names": ["c1"], "requestId": job_id})
    assert answer.status_code == 200, answer.text
    after = time.time()
    meta_dir = config.parent / "backups" / name / "meta"
    meta = json.loads((meta_dir / "backup_meta.json").read_text())
    full = json.loads((meta_dir / "full_meta.json").read_text())
    (coll,) = full["collection_backups"]
    segments = [seg for part in coll["partition_backups"] for seg in part["segment_backups"]]
    segment_bytes = sum(seg["size"] for seg in segments)
    job = client.get(f"{API}/jobs/{job_id}").json()["data"]
    start, end = job["start_time"], job["end_time"]
    assert isinstance(start, int) and before <= start <= end <= after  # unix seconds, as the Go server's
    assert str(uuid.UUID(meta["id"])) == meta["id"] and meta["id"] != job_id
    assert meta["size"] == coll["size"] == segment_bytes > 0

    listed = [b for b in client.get(f"{API}/list").json()["data"] if b["name"] == name]
    assert listed == [
        {
            "id": meta["id"],
            "name": name,
            "state_code": SUCCESS,
            "errorMessage": "",
            "progress": 100,
            "backup_timestamp": meta["backup_timestamp"],
            "size": meta["size"],
            "start_time": start,
            "end_time": end,
            "milvus_version": meta["milvus_version"],
            "state": "complete",
            "collections": ["default.c1"],
            "created": hybrid_ts_to_iso(meta["backup_timestamp"]),
            "detail": "",
            "unflushed_deletes_accepted": False,
            "last_verify": None,
            "proof": {"default.c1": f"proven ({len(dataset_local.live_ids['default.c1'])} rows)"},
            "base": "",
        }
    ]
    assert set(listed[0]) == UPSTREAM_LIST_ITEM | OUR_LIST_ITEM
    assert meta["milvus_version"].startswith("v2.3.5") and meta["backup_timestamp"] > 0

    expected_brief = {
        "id": meta["id"],
        "state_code": SUCCESS,
        "errorMessage": "",
        "start_time": start,
        "end_time": end,
        "progress": 100,
        "name": name,
        "backup_timestamp": meta["backup_timestamp"],
        "collection_backups": [{k: v for k, v in coll.items() if k not in ("partition_backups", "l0_segments")}],
        "size": meta["size"],
        "milvus_version": meta["milvus_version"],
        "database_backups": full["database_backups"],
        "meta_size": sum(f.stat().st_size for f in meta_dir.iterdir()),
        "format": "",
        "job_id": job_id,
        "collection_progress": [{"name": "default.c1", "unit": "bytes", "done": segment_bytes, "total": segment_bytes}],
        "proof": {
            "default.c1": {
                "state": "proven",
                "reason": "",
                "backup_rows": len(dataset_local.live_ids["default.c1"]),
                "count_before": len(dataset_local.live_ids["default.c1"]),
                "count_after": len(dataset_local.live_ids["default.c1"]),
            }
        },
    }
    assert set(expected_brief) == UPSTREAM_BRIEF | OUR_BRIEF
    assert set(expected_brief["collection_backups"][0]) >= UPSTREAM_COLLECTION_BRIEF
    assert answer.json()["data"] == expected_brief  # the sync create's answer
    for params in ({"backup_name": name}, {"backup_id": job_id}, {"backup_id": meta["id"]}):
        answer = client.get(f"{API}/get_backup", params=params)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        if "backup_name" in params:  # by name, also where the backup's bytes lie (ours): all in its own folder
            chain = data.pop("chain")
            assert chain["bases"] == [] and chain["referenced_bytes"] == {} and chain["owned_objects"] > 0, chain
        assert data == expected_brief, params

    suffix = unique("_s")
    before = int(time.time())
    answer = client.post(
        f"{API}/restore", json={"backup_name": name, "id": restore_id, "collection_suffix": suffix, "async": True}
    )
    assert answer.status_code == 200, answer.text
    seen: list[dict[str, Any]] = []

    def polled() -> dict[str, Any]:
        seen.append(restore_job(client, restore_id))
        return seen[-1]

    data = poll(polled, ended)
    after = time.time()
    (task,) = data["collection_restore_tasks"]
    assert str(uuid.UUID(task["id"])) == task["id"]  # a task id of its own, per collection
    start, end = data["start_time"], data["end_time"]
    assert isinstance(start, int) and before <= start <= end <= after
    assert data == {
        "id": restore_id,
        "state_code": SUCCESS,
        "errorMessage": "",
        "start_time": start,
        "end_time": end,
        "progress": 100,
        "collection_restore_tasks": [
            {
                "id": task["id"],
                "state_code": SUCCESS,
                "errorMessage": "",
                "start_time": start,
                "end_time": end,
                "progress": 100,
                "target_db_name": "default",
                "target_collection_name": "c1" + suffix,
                "restored_size": segment_bytes,
                "to_restore_size": segment_bytes,
                "source": "default.c1",
                "segments": len(segments),
                "rows": task["rows"],
                "indexes": 0,
                "mode": "import",
            }
        ],
        "restored_size": segment_bytes,
        "to_restore_size": segment_bytes,
        "backup_name": name,
        "collection_progress": [
            {"name": f"default.c1{suffix}", "unit": "segments", "done": len(segments), "total": len(segments)}
        ],
    }
    assert set(data) == UPSTREAM_RESTORE_TASK | OUR_RESTORE_TASK
    assert set(task) == UPSTREAM_COLLECTION_TASK | OUR_COLLECTION_TASK
    assert task["rows"] >= len(dataset_local.live_ids["default.c1"])
    # While it ran: the same ids and sizes; the restored bytes grow with the segments imported, never past the total.
    for view in seen:
        for running in view["collection_restore_tasks"]:
            assert (running["id"], running["to_restore_size"]) == (task["id"], segment_bytes), view
            assert 0 <= running["restored_size"] <= segment_bytes
    restored = [t["restored_size"] for v in seen for t in v["collection_restore_tasks"]]
    assert restored == sorted(restored)


def test_bodies_are_json_whatever_their_content_type_as_the_go_server_reads_them(served):
    """`curl -d` labels its body application/x-www-form-urlencoded; Go clients often send no Content-Type."""
    client, _ = served
    for headers in ({}, {"content-type": "application/x-www-form-urlencoded"}):
        name = unique("ctype_")
        body = json.dumps({"backup_name": name, "collection_names": ["db1.c3"]}).encode()
        answer = client.post(f"{API}/create", content=body, headers=headers)
        assert answer.request.headers.get("content-type") == headers.get("content-type")
        assert answer.status_code == 200, answer.text
        assert (answer.json()["data"]["name"], answer.json()["data"]["state_code"]) == (name, SUCCESS)
        body = json.dumps({"backup_name": name, "collection_suffix": unique("_ct")}).encode()
        answer = client.post(f"{API}/restore", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["state_code"] == SUCCESS
        error(
            client.post(f"{API}/create", content=b"backup_name=" + name.encode(), headers=headers),
            400,
            "UsageError",
            "the request body is not valid JSON",
        )


def error(answer: httpx.Response, status: int, error_class: str, words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == status and body["error"] == error_class, body
    assert words in body["msg"], body


def test_bad_requests_answer_4xx_with_a_clear_message(served):
    client, _ = served
    error(
        client.post(f"{API}/create", json={"collection_names": ["c1"]}),
        400,
        "UsageError",
        "backup_name: Field required",
    )
    error(
        client.post(f"{API}/create", content=b'{"backup_name": "x",', headers={"content-type": "application/json"}),
        400,
        "UsageError",
        "not valid JSON",
    )
    error(
        client.post(f"{API}/create", json={"backup_name": "no spaces please"}), 400, "UsageError", "invalid backup name"
    )
    error(
        client.post(f"{API}/create", json={"backup_name": "x", "force": True, "meta_only": True}),
        400,
        "UsageError",
        "contradict",
    )
    error(
        client.post(f"{API}/create", json={"backup_name": unique("nope_"), "collection_names": ["no_such_coll"]}),
        404,
        "CollectionNotFoundError",
        "no_such_coll",
    )
    error(
        client.get(f"{API}/get_backup", params={"backup_name": "never_made"}), 404, "BackupNotFoundError", "never_made"
    )
    error(client.get(f"{API}/get_backup"), 400, "UsageError", "backup_name or backup_id")
    error(client.get(f"{API}/get_restore", params={"id": "nope"}), 404, "JobNotFoundError", "nope")
    error(client.post(f"{API}/cancel", params={"id": "nope"}), 404, "JobNotFoundError", "nope")
    error(client.delete(f"{API}/delete"), 400, "UsageError", "backup_name")
    error(client.post(f"{API}/restore", json={"backup_name": "never_made"}), 404, "BackupNotFoundError", "never_made")
    # Errors name the JSON fields the request used, not the command line's flags.
    error(
        client.post(f"{API}/restore", json={"backup_name": "never_made", "collection_suffix": "bad-suffix"}),
        400,
        "UsageError",
        "collection_suffix 'bad-suffix'",
    )
    error(
        client.post(f"{API}/restore", json={"backup_name": "never_made", "collection_renames": {"db1.*": "c2"}}),
        400,
        "UsageError",
        "collection_renames['db1.*']",
    )
    error(
        client.post(f"{API}/create", json={"backup_name": "x", "db_collections": "{not json"}),
        400,
        "UsageError",
        "db_collections is not valid JSON",
    )

    name = unique("conflict_")
    assert (
        client.post(
            f"{API}/create", json={"backup_name": name, "collection_names": ["db1.c3"], "meta_only": True}
        ).status_code
        == 200
    )
    error(client.post(f"{API}/create", json={"backup_name": name, "async": True}), 409, "BackupExistsError", name)
    error(
        client.post(
            f"{API}/restore", json={"backup_name": name, "collection_suffix": "_a", "collection_renames": {"c3": "c4"}}
        ),
        400,
        "UsageError",
        "combined",
    )
    error(
        client.post(
            f"{API}/restore",
            json={"backup_name": name, "dropExistCollection": True, "skipCreateCollection": True, "async": True},
        ),
        400,
        "UsageError",
        "cannot be combined",
    )
    # The target exists: refused before anything changes, also when asynchronous.
    error(client.post(f"{API}/restore", json={"backup_name": name, "async": True}), 409, "CollectionExistsError", "c3")


def test_cancel_stops_a_running_backup_and_leaves_nothing_complete(served):
    client, _ = served
    name = unique("cancelled_")
    # Every collection: flushing them one by one keeps the job busy long enough to be cancelled.
    answer = client.post(f"{API}/create", json={"backup_name": name, "async": True})
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["requestId"]
    answer = client.post(f"{API}/cancel", params={"id": job_id})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["cancel_requested"] is True

    data = poll(lambda: backup_job(client, job_id), ended)
    assert data["state_code"] == FAIL and "cancelled" in data["errorMessage"], data
    assert name not in {b["name"] for b in client.get(f"{API}/list").json()["data"]}  # nothing left at all
    assert client.get(f"{API}/get_backup", params={"backup_name": name}).json()["data"]["state_code"] == FAIL
    error(client.post(f"{API}/cancel", params={"id": job_id}), 409, "JobConflictError", "already ended")


def test_a_job_past_its_timeout_ends_in_state_4_and_leaves_nothing_behind(served, milvus_local):
    client, config = served
    backups = config.parent / "backups"
    name = unique("timed_out_")
    # Every collection, flushed one by one: far longer than a tenth of a second.
    answer = client.post(f"{API}/create", json={"backup_name": name, "async": True, "timeout": 0.1})
    assert answer.status_code == 200, answer.text
    data = poll(lambda: backup_job(client, answer.json()["requestId"]), ended)
    assert data["state_code"] == TIMEOUT and "timeout of 0.1 s" in data["errorMessage"], data
    assert not (backups / name).exists()
    assert name not in {b["name"] for b in client.get(f"{API}/list").json()["data"]}

    # A restore's imports take Milvus 2.3 at least one 2-second tick: the deadline falls inside them.
    source = unique("for_timeout_")
    assert client.post(f"{API}/create", json={"backup_name": source, "collection_names": ["c1"]}).status_code == 200
    suffix = unique("_t")
    answer = client.post(
        f"{API}/restore", json={"backup_name": source, "collection_suffix": suffix, "timeout": 1.0, "async": True}
    )
    assert answer.status_code == 200, answer.text
    data = poll(lambda: restore_job(client, answer.json()["data"]["id"]), ended)
    assert data["state_code"] == TIMEOUT and "timeout of 1 s" in data["errorMessage"], data
    milvus = milvus_local.client()
    try:
        assert not milvus.has_collection("c1" + suffix)  # created by the restore, dropped when it timed out
    finally:
        milvus.close()
    assert sorted(p.name for p in (backups / source).iterdir()) == ["binlogs", "meta"]  # the backup is untouched


def test_killed_server_shows_its_job_failed_and_runs_new_ones(milvus_local, dataset_local, tmp_path):
    config = server_config(milvus_local, tmp_path)
    server = ProcessServer(config, tmp_path / "server.log").start()
    name = unique("killed_")
    try:
        answer = httpx.post(f"{server.url}{API}/create", json={"backup_name": name, "async": True}, timeout=60)
        assert answer.status_code == 200, answer.text
        job_id = answer.json()["requestId"]
        assert answer.json()["data"]["state_code"] == 1
    finally:
        server.kill()

    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            data = backup_job(client, job_id)
            assert data["state_code"] == FAIL and data["errorMessage"] == "the server stopped while it ran"
            jobs = client.get(f"{API}/jobs").json()["data"]
            assert [j["state"] for j in jobs if j["id"] == job_id] == ["fail"]
            # Whatever the killed job copied is an incomplete backup that delete removes.
            client.delete(f"{API}/delete", params={"backup_name": name})

            fresh = unique("after_restart_")
            answer = client.post(
                f"{API}/create", json={"backup_name": fresh, "collection_names": ["c2"], "async": True}
            )
            data = poll(lambda: backup_job(client, answer.json()["requestId"]), ended)
            assert data["state_code"] == SUCCESS, data["errorMessage"]
    finally:
        server.kill()


def test_auth_token_guards_everything_but_health(milvus_local, dataset_local, tmp_path):
    config = server_config(milvus_local, tmp_path, authToken="t0ken-for-tests")
    server = ThreadServer(config, tmp_path / "jobs")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            error(client.get(f"{API}/list"), 401, "UnauthorizedError", "bearer token")
            error(
                client.get(f"{API}/list", headers={"Authorization": "Bearer wrong"}),
                401,
                "UnauthorizedError",
                "bearer token",
            )
            assert client.get(f"{API}/list", headers={"Authorization": "Bearer t0ken-for-tests"}).status_code == 200
            assert client.get(f"{API}/hello").text == "Hello, This is backup service"
            assert client.get("/healthz").status_code == 200
            error(client.get("/metrics"), 401, "UnauthorizedError", "bearer token")  # unless server.publicMetrics
            metrics = client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-tests"})
            assert metrics.status_code == 200 and "milvus_backup_bytes_copied_total" in metrics.text
    finally:
        server.stop()


def test_metrics_count_jobs_and_bytes(served):
    client, _ = served
    client.post(f"{API}/create", json={"backup_name": unique("metered_"), "collection_names": ["db2.c4"]})
    text = client.get("/metrics").text
    assert 'milvus_backup_jobs{kind="backup",state="success"}' in text
    copied = next(line for line in text.splitlines() if line.startswith("milvus_backup_bytes_copied_total"))
    assert float(copied.split()[-1]) > 0
    assert 'milvus_backup_job_duration_seconds_count{kind="backup",state="success"}' in text


def test_check_and_openapi(served):
    client, _ = served
    answer = client.get(f"{API}/check")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [s["name"] for s in data["steps"]] == ["milvus", "milvus storage", "backup storage", "copy", "gc pause"]
    assert data["warnings"] == [] and not any(s["warning"] for s in data["steps"])  # GC paused through DataCoord
    spec = client.get("/openapi.json").json()
    for path in ("create", "list", "get_backup", "delete", "restore", "get_restore", "check", "cancel"):
        assert f"{API}/{path}" in spec["paths"], path
    assert client.get("/docs").status_code == 200


# --- schemathesis: generated requests against our OpenAPI, on a server of its own (it deletes what it names) --

#: Generated requests per endpoint and mode: enough to find a 5xx on malformed input, small enough for ~1 minute.
GENERATED_EXAMPLES = 10


def test_generated_requests_never_get_a_server_error(milvus_local, dataset_local, tmp_path):
    server = ThreadServer(server_config(milvus_local, tmp_path), tmp_path / "jobs")
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            # Real backups, so that some generated names exist.
            for name in ("A", "a0", "_"):
                client.post(
                    f"{API}/create", json={"backup_name": name, "collection_names": ["db1.c3"], "meta_only": True}
                )
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            _never_a_server_error(operation, GenerationMode.POSITIVE)
            with contextlib.suppress(Unsatisfiable):  # an endpoint that takes any input has no invalid requests
                _never_a_server_error(operation, GenerationMode.NEGATIVE)
    finally:
        server.stop()


def _never_a_server_error(operation: Any, mode: Any) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=GENERATED_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error], timeout=120)

    run()


# --- the web page and the API docs, in headless Debian Chromium driven by chromedriver --------------------------

REPO = Path(__file__).resolve().parents[2]
#: Screenshots the tests keep (gitignored).
ARTIFACTS = REPO / ".artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)
#: No network but the server's: every host name fails to resolve, and anything else would go to a proxy that
#: does not exist, except the loopback address the server listens on.
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)


@contextlib.contextmanager
def chromium(profile: Path, *flags: str) -> Iterator[webdriver.Chrome]:
    options = ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*CHROMIUM_FLAGS, *flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_web_page_lists_backups_and_runs_one_to_100_percent(served, tmp_path):
    client, _ = served
    seed = unique("page_seed_")
    assert (
        client.post(
            f"{API}/create", json={"backup_name": seed, "collection_names": ["db1.c3"], "meta_only": True}
        ).status_code
        == 200
    )
    with chromium(tmp_path / "chromium") as driver:
        driver.get(str(client.base_url))
        wait = WebDriverWait(driver, 120, poll_frequency=0.2)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#backups tr[data-name="{seed}"]'))

        name = unique("from_page_")
        driver.find_element(By.ID, "new-name").send_keys(name)
        driver.find_element(By.ID, "new-collections").send_keys("db2.c4")
        driver.find_element(By.ID, "start-backup").click()
        # The page redraws its tables every second: read a job's row in one script call, not element by element.
        job_row = (
            "return [...document.querySelectorAll('#jobs tbody tr')].filter(r => r.cells[2].textContent"
            " === arguments[0]).map(r => [r.dataset.state, r.querySelector('.progress').textContent.trim()]);"
        )
        seen = []

        def reached_100_percent(d: Any) -> bool:
            rows = d.execute_script(job_row, name)
            seen.extend(rows)
            return rows == [["success", "100%"]]

        wait.until(reached_100_percent)
        assert seen and all(state in ("executing", "success") for state, _ in seen)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#backups tr[data-name="{name}"]'))
        screenshot(driver, "server-page.png")


def test_api_docs_render_with_the_network_blocked(served, tmp_path):
    """Swagger UI's scripts and styles come from the server (an installed package), not a CDN."""
    client, _ = served
    spec = client.get("/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    with chromium(tmp_path / "chromium", *OFFLINE_FLAGS) as driver:
        # The browser really is offline: a page on the internet does not load.
        with pytest.raises(WebDriverException, match="net::ERR_"):
            driver.get("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
        driver.get(str(client.base_url.join("/docs")))
        wait = WebDriverWait(driver, 60, poll_frequency=0.2)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == operations)
        paths = {e.text.replace("\u200b", "") for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert {f"{API}/create", f"{API}/list", f"{API}/get_backup", f"{API}/get_restore"} <= paths, paths
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(str(client.base_url.join("/"))) for url in loaded), loaded
        path = screenshot(driver, "api-docs-offline.png")
    assert path.stat().st_size > 10_000
