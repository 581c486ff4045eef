"""The fault suite: create, verify and restore with the backup storage (SeaweedFS) behind a proxy that answers a
seeded fraction of the requests with a 503, a reset connection, a stall past the client's read timeout or a body
cut short. Each case: nothing is lost (the restored rows are the source's), nothing false is reported (a failed
run exits non-zero and leaves nothing that lists as complete, nor a restored collection), and a rerun succeeds.

The runs are in this process, with the S3 client's read timeout lowered to READ_TIMEOUT: the tool's own is 60 s,
which a stall would have to outlast, too long for the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from milvus_backup.storage.s3 import S3Storage
from tests.integration.conftest import unique
from tests.integration.faulty import (
    READ_TIMEOUT,
    assert_restored,
    cli,
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


class _Steps:
    """create, verify and restore of one backup, each under a fault plan; a step that fails is checked for
    honesty and rerun without faults."""

    def __init__(self, capsys, config: Path, proxy: FaultProxy, milvus: MilvusInstance, source: str) -> None:
        self.capsys, self.config, self.proxy, self.milvus, self.source = capsys, config, proxy, milvus, source
        self.injected = 0
        self.failed: list[str] = []

    def run(self, plan: FaultPlan | None, step: str, *args: str, name: str, target: str = "") -> None:
        self.proxy.faults(plan)
        try:
            outcome = cli(self.capsys, self.config, *args)
        finally:
            self.injected += len(self.proxy.injected)
            self.proxy.faults(None)
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

    def all(self, plan: FaultPlan | None, name: str, target: str, verify_plan: FaultPlan | None = None) -> None:
        self.run(plan, "create", "create", "-n", name, "-c", self.source, name=name)
        self.run(verify_plan or plan, "verify", "verify", "-n", name, name=name)
        restore = (
            "restore",
            "-n",
            name,
            "-c",
            self.source,
            "-r",
            f"{self.source}:{target}",
            "--restore_index",
            "--load",
        )
        self.run(verify_plan or plan, "restore", *restore, name=name, target=target)
        try:
            assert_restored(self.milvus, self.source, target)
        finally:
            drop(self.milvus, target)


@pytest.mark.parametrize("kind", ["5xx", "reset", "stall"])
def test_storage_faults_are_retried_and_nothing_is_lost(
    kind: FaultKind,
    milvus_s3,
    seaweedfs,
    fault_proxy,
    fault_source,
    tmp_path,
    capsys,
    short_read_timeout,
    reliability_record,
):
    config = proxied_config(tmp_path, milvus_s3, seaweedfs, fault_proxy)
    steps = _Steps(capsys, config, fault_proxy, milvus_s3, fault_source)
    name, target = f"faulted_{kind}", unique(f"faulted_{kind}_".replace("5xx", "http5xx"))
    steps.all(_plan(kind), name, target)
    assert steps.injected > 0
    reliability_record("fault", f"{kind} on create, verify and restore", not steps.failed, count=steps.injected)
    assert not steps.failed, steps.failed


def test_truncated_bodies_never_pass_for_data_and_the_rerun_succeeds(
    milvus_s3, seaweedfs, fault_proxy, fault_source, tmp_path, capsys, short_read_timeout
):
    """Bodies cut short in verify and restore (a backup's reads): whatever the run does, it never reports a
    damaged backup it did not see, nor restores short data, nor leaves a restored collection when it fails."""
    config = proxied_config(tmp_path, milvus_s3, seaweedfs, fault_proxy)
    steps = _Steps(capsys, config, fault_proxy, milvus_s3, fault_source)
    steps.all(None, "truncated", target := unique("truncated_"), verify_plan=_plan("truncate", only_gets=True))
    assert steps.injected > 0
    # A verify that met a cut body failed on the storage (20-29), never with a verdict on the backup (13).
    for failure in steps.failed:
        assert not failure.startswith("verify exited 13"), failure
    assert not has_collection(milvus_s3, target)


def test_truncated_bodies_are_retried(
    milvus_s3, seaweedfs, fault_proxy, fault_source, tmp_path, capsys, short_read_timeout, reliability_record
):
    config = proxied_config(tmp_path, milvus_s3, seaweedfs, fault_proxy)
    steps = _Steps(capsys, config, fault_proxy, milvus_s3, fault_source)
    try:
        steps.all(None, "truncated", unique("truncated_"), verify_plan=_plan("truncate", only_gets=True))
    finally:
        reliability_record("fault", "truncated bodies on verify and restore", not steps.failed, count=steps.injected)
    assert steps.injected > 0
    assert not steps.failed, steps.failed
