"""Two creates of one backup name at the same moment, through the CLI and the REST server in every pairing: exactly
one proceeds, the other fails at once with its own code (CLI exit 40, HTTP 409 JobConflictError) while the first
is still running, and the winner's backup is whole (it verifies, and a restore of it brings the source's rows).

The winner is held at its first binlog write by a gate of the proxy in front of the backup storage, so "at once"
means: before the winner could have finished. Released, the held write is cut, retried, and the create ends.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import small_collection, unique
from tests.integration.faulty import cli, drop, live_rows, proxied_config, spawn, stored_rows
from tests.integration.server_rig import ThreadServer
from tests.rig.faultproxy import FaultProxy
from tests.rig.milvus import MilvusInstance
from tests.rig.seaweed import S3Server

pytestmark = pytest.mark.integration

API = "/api/v1"
SECOND_SOURCE = "faults_src_b"
#: How long the loser may take to fail, and the winner to finish once released.
WAIT = 60.0


@dataclass
class Served:
    config: Path
    server: ThreadServer
    sources: tuple[str, str]


@pytest.fixture(scope="module")
def served(
    milvus_s3: MilvusInstance,
    seaweedfs: S3Server,
    fault_proxy: FaultProxy,
    fault_source: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("concurrency")
    config = proxied_config(folder, milvus_s3, seaweedfs, fault_proxy, server={"jobsDir": str(folder / "jobs")})
    server = ThreadServer(config, folder / "jobs")
    try:
        yield Served(config, server, (fault_source, small_collection(milvus_s3, SECOND_SOURCE)))
    finally:
        server.stop()


@dataclass
class Ended:
    """How one create ended: ok, and the code it failed with (CLI exit code or HTTP status), and its words."""

    ok: bool
    code: int
    message: str


class _Create:
    """One create, started now, run until it ends."""

    def __init__(self, door: str, served: Served, name: str, collection: str) -> None:
        self.collection = collection
        self.ended: Ended | None = None
        self._done = threading.Event()
        if door == "cli":
            process = spawn(served.config, "create", "-n", name, "-c", collection)
            target: Callable[[], Ended] = lambda: _ended_process(process)  # noqa: E731
        else:
            target = lambda: _ended_answer(  # noqa: E731
                httpx.post(
                    f"{served.server.url}{API}/create",
                    json={"backup_name": name, "collection_names": [collection]},
                    timeout=WAIT * 2,
                )
            )
        threading.Thread(target=self._run, args=(target,), daemon=True).start()

    def _run(self, target: Callable[[], Ended]) -> None:
        try:
            self.ended = target()
        finally:
            self._done.set()

    def wait(self, timeout: float) -> Ended | None:
        self._done.wait(timeout)
        return self.ended


def _ended_process(process) -> Ended:  # type: ignore[no-untyped-def]
    _, err = process.communicate(timeout=WAIT * 2)
    return Ended(process.returncode == 0, process.returncode, err)


def _ended_answer(answer: httpx.Response) -> Ended:
    body = answer.json()
    ok = answer.status_code == 200 and body.get("data", {}).get("state_code") == 2
    return Ended(ok, answer.status_code, f"{body.get('error', '')}: {body.get('msg', '')}")


def _first_to_end(creates: list[_Create]) -> list[_Create]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ended = [c for c in creates if c.wait(0.05) is not None]
        if ended:
            return ended
    raise AssertionError(f"neither create ended within {WAIT} s")


PAIRS = [("cli", "cli"), ("cli", "rest"), ("rest", "rest")]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=["cli+cli", "cli+rest", "rest+rest"])
def test_two_creates_of_one_name_one_proceeds_the_other_fails_at_once(
    first: str, second: str, served: Served, fault_proxy: FaultProxy, milvus_s3: MilvusInstance, capsys
):
    name = unique("same_")
    # Whoever claims the name is held at its first binlog write; the other one meets the claim.
    gate = fault_proxy.gate(lambda r: r.method == "PUT" and f"/{name}/binlogs/" in f"/{r.key}")
    creates = [_Create(first, served, name, served.sources[0]), _Create(second, served, name, served.sources[1])]
    try:
        assert gate.reached.wait(WAIT), [c.wait(0) for c in creates]
        [loser] = _first_to_end(creates)
        [winner] = [c for c in creates if c is not loser]
        assert winner.ended is None  # still held: the loser did not wait for it
    finally:
        fault_proxy.open_gates()
    ended = winner.wait(WAIT)
    assert ended is not None and ended.ok, ended
    lost = loser.ended
    assert lost is not None
    assert lost.code in (40, 409) and "is being created" in lost.message, lost
    if lost.code == 409:
        assert lost.message.startswith("JobConflictError"), lost

    # The winner's backup is whole: it holds the winner's collection only, verifies, and restores its rows.
    got = cli(capsys, served.config, "get", "-n", name)
    assert got.code == 0, got.err
    assert [c["collection_name"] for c in json.loads(got.out)["collection_backups"]] == [winner.collection]
    verified = cli(capsys, served.config, "verify", "-n", name)
    assert verified.code == 0, verified.err
    target = unique("same_restored_")
    try:
        restored = cli(capsys, served.config, "restore", "-n", name, "-r", f"{winner.collection}:{target}")
        assert restored.code == 0, restored.err
        assert stored_rows(milvus_s3, target) == live_rows(milvus_s3, winner.collection)
    finally:
        drop(milvus_s3, target)
