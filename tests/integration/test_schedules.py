"""server.schedules against the real local-storage Milvus 2.3.5: a schedule a few seconds apart runs, prunes and
shows in /metrics, /api/v1/schedules and the web page; a failing one calls the webhook (a receiver started here);
runs of one schedule never overlap; a server killed across a due time runs the missed run once at its restart."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.support.wait import WebDriverWait

from tests.integration.conftest import local_config, write_config
from tests.integration.server_rig import ProcessServer, ThreadServer, poll
from tests.integration.test_docs import all_blocks
from tests.integration.test_server import chromium, screenshot
from tests.rig.milvus import MilvusInstance
from tests.rig.ports import LOCALHOST

pytestmark = pytest.mark.integration

API = "/api/v1"
SUCCESS = 2


def schedule_config(milvus: MilvusInstance, folder: Path, schedules: list[dict[str, Any]], **server: Any) -> Path:
    data = local_config(milvus, folder / "backups")
    data["server"] = {"jobsDir": str(folder / "jobs"), "schedules": schedules, **server}
    return write_config(folder, data)


class WebhookReceiver:
    """An HTTP server on a free port that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self.url = f"http://{LOCALHOST}:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def scheduled_jobs(client: httpx.Client, schedule: str) -> list[dict[str, Any]]:
    jobs = client.get(f"{API}/jobs", params={"kind": "backup"}).json()["data"]
    return sorted((j for j in jobs if j["request"].get("schedule") == schedule), key=lambda j: j["start_time"])


def metric(text: str, name: str, schedule: str) -> float | None:
    match = re.search(rf'^{name}{{schedule="{schedule}"}} (\S+)$', text, re.M)
    return float(match[1]) if match else None


def test_a_schedule_seconds_apart_runs_prunes_and_shows_in_metrics_and_on_the_page(
    milvus_local, dataset_local, tmp_path, webhook
):
    schedules = [
        {"name": "every3s", "cron": "* * * * * */3", "collections": ["db1.c3"], "retention": {"keepLast": 1}},
        {"name": "broken", "cron": "* * * * * */3", "collections": ["db1.no_such_collection"]},
    ]
    config = schedule_config(milvus_local, tmp_path, schedules, failureWebhook=webhook.url)
    server = ThreadServer(config, tmp_path / "jobs")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            poll(
                lambda: {"ok": [j for j in scheduled_jobs(client, "every3s") if j["state_code"] == SUCCESS]},
                lambda answer: len(answer["ok"]) >= 2 and webhook.received,
                timeout=120,
            )
            jobs = scheduled_jobs(client, "every3s")
            metrics = client.get("/metrics").text
            listed = {s["name"]: s for s in client.get(f"{API}/schedules").json()["data"]}
            backups = {b["name"]: b["state"] for b in client.get(f"{API}/list").json()["data"]}
            with chromium(tmp_path / "chromium") as driver:
                driver.get(server.url)
                rows = (
                    "return [...document.querySelectorAll('#schedules tbody tr')].map(r => [r.dataset.name,"
                    " r.querySelector('.next-run').textContent, r.querySelector('.last-run').textContent]);"
                )
                WebDriverWait(driver, 30, poll_frequency=0.2).until(lambda d: len(d.execute_script(rows)) == 2)
                page = {name: (next_run, last_run) for name, next_run, last_run in driver.execute_script(rows)}
                screenshot(driver, "server-page-schedules.png")
    finally:
        server.stop()

    # Runs never overlap, and each prunes the one before it (keepLast 1).
    for earlier, later in itertools.pairwise(jobs):
        assert 0 < earlier["end_time"] <= later["start_time"], jobs
    first, second = [j for j in jobs if j["state_code"] == SUCCESS][:2]
    assert first["name"].startswith("every3s_") and first["result"]["create"]["bytes"] > 0
    prune = second["result"]["prune"]
    kept = {b["name"]: b["reasons"] for b in prune["kept"]}
    assert kept.pop(second["name"]) == ["last"]
    assert all(reasons[0].startswith("incomplete: being created") for reasons in kept.values()), kept
    assert [b["name"] for b in prune["removed"]] == [first["name"]] and first["name"] not in backups

    # /metrics: the alerting figures per schedule.
    last_success = metric(metrics, "milvus_backup_schedule_last_success_timestamp_seconds", "every3s")
    assert last_success is not None and last_success >= second["end_time"] - 1
    assert metric(metrics, "milvus_backup_schedule_last_copied_bytes", "every3s") > 0
    assert metric(metrics, "milvus_backup_schedule_last_duration_seconds", "every3s") > 0
    assert metric(metrics, "milvus_backup_schedule_failures_total", "every3s") == 0
    assert metric(metrics, "milvus_backup_schedule_failures_total", "broken") >= 1
    assert metric(metrics, "milvus_backup_schedule_last_success_timestamp_seconds", "broken") is None
    assert metric(metrics, "milvus_backup_schedule_skipped_runs_total", "every3s") is not None
    # The alert rules of the docs name metrics the server exposes.
    documented = {
        name
        for block in all_blocks()
        if block.lang == "promql"
        for name in re.findall(r"milvus_backup_\w+", "\n".join(block.lines))
    }
    assert documented and all(re.search(rf"^{name}[{{ ]", metrics, re.M) for name in documented), documented

    # The failing schedule called the webhook.
    content_type, payload = webhook.received[0]
    assert content_type == "application/json"
    assert payload["event"] == "schedule_failed" and payload["schedule"] == "broken" and payload["state"] == "fail"
    assert "no_such_collection" in payload["error"] and payload["backup_name"].startswith("broken_")

    # GET /api/v1/schedules and the page: next run and last run of each.
    assert listed["every3s"]["retention"] == {"keep_last": 1} and listed["every3s"]["prune_prefix"] == "every3s_"
    assert listed["every3s"]["next_run"] > first["start_time"] and listed["every3s"]["last_run"]["kind"] == "backup"
    assert listed["broken"]["last_run"]["state"] == "fail"
    assert page["every3s"][0] and page["every3s"][1].split()[-1].startswith("every3s_"), page
    assert page["broken"][1] != "never", page


def test_a_server_killed_across_a_due_time_runs_the_missed_run_once_at_restart(milvus_local, dataset_local, tmp_path):
    due = (datetime.now(timezone.utc) + timedelta(seconds=15)).replace(microsecond=0)
    # Once a year, at `due` (seconds last): only a catch-up can run it within this test.
    cron = f"{due.minute} {due.hour} {due.day} {due.month} * {due.second}"
    schedules = [{"name": "missed", "cron": cron, "collections": ["db2.c4"]}]
    config = schedule_config(milvus_local, tmp_path, schedules)
    server = ProcessServer(config, tmp_path / "server.log").start()
    try:
        (listed,) = httpx.get(f"{server.url}{API}/schedules", timeout=30).json()["data"]
        assert listed["next_run"] == int(due.timestamp()) and listed["last_run"] is None
    finally:
        server.kill()
    assert time.time() < due.timestamp(), "the first server was up at the due time: it started too slowly"
    time.sleep(max(0.0, due.timestamp() + 1 - time.time()))

    server = ProcessServer(config, tmp_path / "server-again.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            (job,) = poll(
                lambda: {"jobs": scheduled_jobs(client, "missed")},
                lambda answer: len(answer["jobs"]) == 1 and answer["jobs"][0]["state_code"] not in (0, 1),
                timeout=120,
            )["jobs"]
            time.sleep(1)
            assert len(scheduled_jobs(client, "missed")) == 1, "the missed run ran more than once"
            backups = {b["name"]: b for b in client.get(f"{API}/list").json()["data"]}
    finally:
        server.kill()
    assert job["state_code"] == SUCCESS, job["errorMessage"]
    assert job["request"]["catch_up"] is True and job["request"]["due"] == due.timestamp()
    assert backups[job["name"]]["state"] == "complete" and backups[job["name"]]["collections"] == ["db2.c4"]
    assert job["name"] == f"missed_{due:%Y%m%d_%H%M%S}"
