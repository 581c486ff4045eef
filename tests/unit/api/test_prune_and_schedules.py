"""POST /api/v1/prune and GET /api/v1/schedules in FastAPI's test client (local backup storage, no Milvus), and the
schedules the server refuses to start with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from bench.prune_year import nightly_year
from milvus_backup import wiring
from milvus_backup.api.app import create_app
from milvus_backup.config import load_config
from milvus_backup.errors import ConfigError
from milvus_backup.service.resources import StorageLocation
from milvus_backup.storage.local import LocalStorage

API = "/api/v1"
SCHEDULES = [
    {"name": "nightly", "cron": "0 2 * * *", "collections": ["c1"], "retention": {"keepDaily": 7}},
    {"name": "hourly", "cron": "0 * * * *", "databases": ["db1"], "nameTemplate": "h_{date:%Y%m%d%H}"},
]


def config_file(tmp_path: Path, schedules: list[dict[str, Any]]) -> Path:
    path = tmp_path / "backup.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "configVersion": "v2",
                "milvus": {"storage": {"provider": "local", "rootPath": "/nope"}},
                "backup": {"storage": {"rootPath": str(tmp_path / "backups")}},
                "server": {"schedules": schedules},
            }
        )
    )
    return path


def backups(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "backups").glob("nightly_*"))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = load_config(str(config_file(tmp_path, SCHEDULES)), env={}, explicit=True).config
    (tmp_path / "backups").mkdir()
    nightly_year(StorageLocation(LocalStorage(tmp_path / "backups"), ""), 10, datetime.now(timezone.utc))
    with TestClient(create_app(config, tmp_path / "jobs")) as test_client:
        yield test_client


def test_prune_over_rest_answers_what_the_command_prints(client: TestClient, tmp_path: Path) -> None:
    answer = client.post(f"{API}/prune", json={"keep_last": 2, "prefix": "nightly_", "dry_run": True})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [b["reasons"] for b in data["kept"]] == [["last"], ["last"]] and len(data["removed"]) == 8
    assert len(backups(tmp_path)) == 10 and data["dry_run"] is True
    answer = client.post(f"{API}/prune", json={"keep_last": 2})
    assert answer.status_code == 200 and len(backups(tmp_path)) == 2
    answer = client.post(f"{API}/prune", json={"prefix": "nightly_"})
    assert answer.status_code == 400 and "no retention policy" in answer.json()["msg"], answer.text
    assert client.post(f"{API}/prune", json={"keep_daily": -2}).status_code == 400


def test_schedules_lists_each_with_its_next_run(client: TestClient) -> None:
    answer = client.get(f"{API}/schedules")
    assert answer.status_code == 200, answer.text
    nightly, hourly = answer.json()["data"]
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).timestamp()
    assert nightly["name"] == "nightly" and 0 < nightly["next_run"] - datetime.now().timestamp() <= 86400 < tomorrow
    assert nightly["retention"] == {"keep_daily": 7} and nightly["prune_prefix"] == "nightly_"
    assert nightly["collections"] == ["c1"] and nightly["last_run"] is None and nightly["catch_up"] is True
    assert hourly["databases"] == ["db1"] and hourly["prune_prefix"] == "" and hourly["next_run"] % 3600 == 0


@pytest.mark.parametrize(
    ("schedules", "error"),
    [
        ([{"name": "a", "cron": "whenever"}], "not a cron expression"),
        ([{"name": "a", "cron": "0 2 * * *", "nameTemplate": "{date:%Y-%m-%d}"}], "backup name"),
        ([{"name": "a", "cron": "0 2 * * *"}, {"name": "a", "cron": "0 3 * * *"}], "two schedules are named"),
        (
            [{"name": "a", "cron": "0 2 * * *", "nameTemplate": "{date:%Y%m%d}", "retention": {"keepLast": 1}}],
            "starts with no fixed text",
        ),
        (
            [
                {"name": "n", "cron": "0 2 * * *", "nameTemplate": "n_{date:%Y%m%d}", "retention": {"keepLast": 1}},
                {"name": "n_x", "cron": "0 3 * * *"},
            ],
            "would prune the backups of schedule 'n_x'",
        ),
    ],
)
def test_a_schedule_that_cannot_run_as_written_stops_the_server(tmp_path, schedules, error) -> None:
    config = load_config(str(config_file(tmp_path, schedules)), env={}, explicit=True).config
    with pytest.raises(ConfigError, match=error):
        wiring.schedules(config)
    with pytest.raises(ConfigError, match=error):
        create_app(config, tmp_path / "jobs")


def test_an_incremental_schedule_runs_incremental_creates(tmp_path) -> None:
    config = load_config(
        str(config_file(tmp_path, [{"name": "n", "cron": "0 2 * * *", "incremental": True}])), env={}, explicit=True
    ).config
    [schedule] = wiring.schedules(config)
    assert schedule.name == "n" and schedule.describes["incremental"] is True  # no longer refused at start-up
