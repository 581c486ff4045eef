"""Jobs and summaries -> upstream's answer shapes: restore tasks with per-collection ids and byte counts, list
items with state codes and the creating job's times."""

from __future__ import annotations

from typing import Any

from milvus_backup.api import views
from milvus_backup.service import catalog
from milvus_backup.service.jobs import EXECUTING, FAIL, RESTORE, SUCCESS, Job

BACKUP_ID = "5a0f8c1e-2a4b-4c1d-9e7f-0123456789ab"


def job(state: int, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": "restore_2025_01_02_03_04_05_6",
        "kind": RESTORE,
        "name": "nightly",
        "state": state,
        "progress": 100 if state == SUCCESS else 40,
        "unit": "segments",
        "done": 0,
        "total": 0,
        "error": "" if state != FAIL else "boom",
        "start_time": 1_700_000_000.7,
        "end_time": 0.0 if state == EXECUTING else 1_700_000_042.2,
    }
    return Job(**{**values, **fields})


def test_a_running_restore_shows_each_collection_with_bytes_growing_as_segments_are_imported() -> None:
    running = job(EXECUTING, parts={"default.c1_r": [1, 4], "db2.c4_r": [0, 2]})
    task = views.restore_task(running, {"default.c1_r": 4000, "db2.c4_r": 600}).model_dump()
    first, second = task["collection_restore_tasks"]
    assert first == {
        "id": first["id"],
        "state_code": EXECUTING,
        "errorMessage": "",
        "start_time": 1_700_000_000,
        "end_time": 0,
        "progress": 25,
        "target_db_name": "default",
        "target_collection_name": "c1_r",
        "restored_size": 1000,
        "to_restore_size": 4000,
        "source": "",
        "segments": 1,
        "rows": 0,
        "indexes": 0,
        "mode": "",
    }
    assert (second["progress"], second["restored_size"], second["to_restore_size"]) == (0, 0, 600)
    assert first["id"] and second["id"] and first["id"] != second["id"]
    assert (task["restored_size"], task["to_restore_size"]) == (1000, 4600)
    # Ids are stable from one poll to the next.
    assert views.restore_task(running).collection_restore_tasks[0].id == first["id"]


def test_a_finished_restore_takes_its_sizes_from_the_result() -> None:
    result = {
        "collections": [
            {"source": "default.c1", "target": "default.c1_r", "segments": 4, "rows": 900, "indexes": 2, "size": 4000},
            {"source": "db2.c4", "target": "db2.c4_r", "segments": 0, "rows": 0, "indexes": 0, "size": 0},
        ]
    }
    done = job(SUCCESS, parts={"default.c1_r": [4, 4], "db2.c4_r": [0, 0]}, result=result)
    task = views.restore_task(done).model_dump()
    assert [
        (c["state_code"], c["progress"], c["restored_size"], c["to_restore_size"], c["source"])
        for c in task["collection_restore_tasks"]
    ] == [(SUCCESS, 100, 4000, 4000, "default.c1"), (SUCCESS, 100, 0, 0, "db2.c4")]
    assert (task["progress"], task["restored_size"], task["to_restore_size"]) == (100, 4000, 4000)
    assert (task["start_time"], task["end_time"]) == (1_700_000_000, 1_700_000_042)


def test_a_failed_restore_names_its_error_on_every_collection() -> None:
    failed = job(FAIL, parts={"default.c1_r": [2, 4]})
    (coll,) = views.restore_task(failed, {"default.c1_r": 4000}).collection_restore_tasks
    assert (coll.state_code, coll.errorMessage, coll.restored_size, coll.progress) == (FAIL, "boom", 2000, 50)


def test_list_items_carry_upstreams_state_code_and_the_creating_jobs_times() -> None:
    complete = catalog.BackupSummary(
        name="nightly", state=catalog.COMPLETE, size=10, id=BACKUP_ID, backup_timestamp=1 << 40
    )
    creator = job(SUCCESS, kind="backup", id="req-1")
    item = views.backup_summary(complete, creator, None).model_dump()
    assert {k: item[k] for k in ("id", "state_code", "progress", "start_time", "end_time", "errorMessage")} == {
        "id": BACKUP_ID,
        "state_code": SUCCESS,
        "progress": 100,
        "start_time": 1_700_000_000,
        "end_time": 1_700_000_042,
        "errorMessage": "",
    }
    made_elsewhere = views.backup_summary(complete, None, None)
    assert (made_elsewhere.state_code, made_elsewhere.start_time, made_elsewhere.end_time) == (SUCCESS, 0, 0)

    incomplete = catalog.BackupSummary(name="half", state=catalog.INCOMPLETE, detail="meta never written")
    writing = views.backup_summary(incomplete, job(EXECUTING, kind="backup", id="req-2"), None)
    assert (writing.id, writing.state_code, writing.progress, writing.end_time) == ("req-2", EXECUTING, 40, 0)
    killed = views.backup_summary(incomplete, None, None)
    assert (killed.state_code, killed.errorMessage, killed.id) == (FAIL, "meta never written", "")
    failed = views.backup_summary(incomplete, job(FAIL, kind="backup"), None)
    assert (failed.state_code, failed.errorMessage) == (FAIL, "boom")
