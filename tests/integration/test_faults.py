"""The fault suite: create, verify and restore with the backup storage, and the tool's way to Milvus's storage,
each behind a proxy (tests/rig/faultproxy.py) that answers a seeded fraction of the requests with a 503, a reset
connection, a stall past the client's read timeout or a body cut short. Milvus itself reaches its storage
directly. Each case: nothing is lost (the restored rows are the source's), nothing false is reported (a failed
run exits non-zero and leaves nothing that lists as complete, nor a restored collection), and a rerun succeeds.

The runs are in this process, with the S3 client's read timeout lowered to READ_TIMEOUT: the tool's own is 60 s,
which a stall would have to outlast, too long for the suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_backup.storage.s3 import S3Storage
from tests.integration.conftest import unique
from tests.integration.faulty import (
    READ_TIMEOUT,
    assert_restored,
    cli,
    cli_process,
    complete,
    drop,
    has_collection,
    proxied_config,
)
from tests.rig.faultproxy import FaultKind, FaultPlan, FaultProxy
from tests.rig.milvus import MilvusInstance

pytestmark = pytest.mark.integration

SEED = 19
#: Stalls cost a read timeout each (and a backoff): a few are enough.
LIMITS: dict[FaultKind, int] = {"5xx": 12, "reset": 12, "stall": 3, "truncate": 12}
RATE = 0.3


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = S3Storage.__init__.__kwdefaults__
    assert defaults is not None and "read_timeout" in defaults
    monkeypatch.setitem(defaults, "read_timeout", READ_TIMEOUT)


def _plan(kind: FaultKind, seed: int = SEED, only_gets: bool = False) -> FaultPlan:
    return FaultPlan(
        seed=seed,
        rate=RATE,
        kinds=(kind,),
        limit=LIMITS[kind],
        stall_seconds=READ_TIMEOUT + 1.0,
        match=(lambda r: r.method == "GET") if only_gets else (lambda r: True),
    )


@dataclass
class _Rig:
    config: Path
    proxies: tuple[FaultProxy, ...]


@pytest.fixture
def rig(milvus_s3, seaweedfs, fault_proxy, milvus_read_proxy, fault_source, tmp_path, short_read_timeout) -> _Rig:
    """A config whose backup storage and (for the tool) Milvus storage are each behind a fault proxy."""
    config = proxied_config(tmp_path, milvus_s3, seaweedfs, fault_proxy, milvus_storage_proxy=milvus_read_proxy)
    return _Rig(config, (fault_proxy, milvus_read_proxy))


class _Steps:
    """create, verify and restore of one backup, each under a fault plan; a step that fails is checked for
    honesty and rerun without faults."""

    def __init__(self, capsys, rig: _Rig, milvus: MilvusInstance, source: str, *, create_process: bool = False) -> None:
        self.capsys, self.config, self.proxies = capsys, rig.config, rig.proxies
        self.milvus, self.source = milvus, source
        #: Run the faulted create as a process of its own, not in this one: a failed create that could not release
        #: its claim leaves a lock naming its process, which counts as alive while that process runs.
        self.create_process = create_process
        self.injected = 0
        self.failed: list[str] = []

    def run(self, plan: FaultPlan, step: str, *args: str, name: str, target: str = "") -> None:
        for proxy in self.proxies:
            proxy.faults(plan)
        try:
            in_process = not (self.create_process and step == "create")
            outcome = cli(self.capsys, self.config, *args) if in_process else cli_process(self.config, *args)
        finally:
            for proxy in self.proxies:
                self.injected += len(proxy.injected)
                proxy.faults(None)
        if outcome.code == 0:
            return
        self.failed.append(f"{step} exited {outcome.code}: {outcome.err.strip()[-300:]}")
        # Nothing false: the failed run says so, and leaves nothing that passes for a result.
        assert outcome.err.startswith("Error:") or "\nError:" in outcome.err, outcome.err
        if step == "create":
            assert name not in complete(self.capsys, self.config)
            assert cli(self.capsys, self.config, "delete", "-n", name).code in (0, 10)
        if step == "restore":
            assert not has_collection(self.milvus, target), f"a failed restore left {target} behind"
        rerun = cli(self.capsys, self.config, *args)
        assert rerun.code == 0, rerun.err

    def all(self, plan: FaultPlan, name: str, target: str) -> None:
        self.run(plan, "create", "create", "-n", name, "-c", self.source, name=name)
        self.run(plan, "verify", "verify", "-n", name, name=name)
        restore = ("restore", "-n", name, "-r", f"{self.source}:{target}", "--restore_index", "--load")
        self.run(plan, "restore", *restore, name=name, target=target)
        try:
            assert_restored(self.milvus, self.source, target)
        finally:
            drop(self.milvus, target)


@pytest.mark.parametrize("kind", ["5xx", "reset", "stall"])
def test_storage_faults_are_retried_and_nothing_is_lost(
    kind: FaultKind, rig: _Rig, milvus_s3, fault_source, capsys, reliability_record
):
    steps = _Steps(capsys, rig, milvus_s3, fault_source)
    steps.all(_plan(kind), f"faulted_{kind}", unique(f"faulted_{kind}_".replace("5xx", "http5xx")))
    assert steps.injected > 0
    reliability_record("fault", f"{kind} on create, verify and restore", not steps.failed, count=steps.injected)
    assert not steps.failed, steps.failed


def test_cut_bodies_are_retried_and_never_pass_for_data(rig: _Rig, milvus_s3, fault_source, capsys, reliability_record):
    """Bodies cut short (reads of Milvus's binlogs by create, of the backup by verify and restore). Whatever a
    run does, it never keeps a backup it could not read whole, never reports damage it did not see, never leaves
    a restored collection when it fails, and the rerun succeeds with the source's rows (checked in _Steps). And
    the runs do not fail at all: a read cut short is resumed."""
    steps = _Steps(capsys, rig, milvus_s3, fault_source, create_process=True)
    try:
        steps.all(_plan("truncate", only_gets=True), "truncated", unique("truncated_"))
    finally:
        reliability_record("fault", "cut bodies on create, verify and restore", not steps.failed, count=steps.injected)
    assert steps.injected > 0
    # A verify that met a cut body failed on the storage (20-29), never with a verdict on the backup (13).
    for failure in steps.failed:
        assert not failure.startswith("verify exited 13"), failure
    assert not steps.failed, steps.failed
