"""The kill matrix: the tool (a CLI process, SIGKILLed) at every phase of create and restore, and Milvus (SIGKILLed)
in the middle of a create and of a restore. Each case: nothing lists as complete that is not, the next run says
what was left, and the rerun (for a restore: with --drop_exist_collection) succeeds with the source's rows.

The phases are found by what the tool and Milvus ask of the storage, not by timing: both reach SeaweedFS through
fault proxies (tests/rig/faultproxy.py), and a gate holds the request that marks the phase until the process is
killed. A Milvus of its own, whose storage is behind a proxy, lets a gate hold Milvus's flush (its write of the new
segment's binlogs) and Milvus's import (its read of a staged binlog); it is the Milvus that the Milvus-kill cases
kill, so the session's Milvus instances stay up.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_backup.meta.layout import COMMIT_FILE, LOCK_FILE
from tests.integration.conftest import small_collection, unique
from tests.integration.faulty import (
    cli,
    complete,
    drop,
    has_collection,
    listed,
    live_rows,
    proxied_config,
    spawn,
    stored_rows,
)
from tests.rig.faultproxy import FaultProxy, Gate, Request
from tests.rig.milvus import MilvusInstance, S3StorageSpec, start_milvus
from tests.rig.seaweed import S3Server

pytestmark = pytest.mark.integration

SOURCE = "kills_src"
#: How long a phase may take to be reached, and a killed Milvus's client to give up.
PHASE_TIMEOUT = 60.0
BACKUP = "kills_backup"


@dataclass
class Rig:
    milvus: MilvusInstance
    #: In front of the SeaweedFS bucket of that Milvus (Milvus and the tool reach its storage through it).
    milvus_proxy: FaultProxy
    #: In front of the backup bucket.
    backup_proxy: FaultProxy
    config: Path


@pytest.fixture(scope="module")
def rig(
    rig_dir: Path, seaweedfs: S3Server, fault_proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    milvus_proxy = FaultProxy(seaweedfs.host, seaweedfs.port)
    storage = S3StorageSpec(
        host=milvus_proxy.host,
        port=milvus_proxy.port,
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,
        bucket="killable-bucket",
    )
    milvus = start_milvus(rig_dir / "milvus_killable", name="killable", storage=storage)
    try:
        small_collection(milvus, SOURCE)
        folder = tmp_path_factory.mktemp("kills")
        # One copy at a time, so that "the third binlog" is a point in the middle of the copy.
        config = proxied_config(folder, milvus, seaweedfs, fault_proxy, transfer={"concurrency": 1})
        yield Rig(milvus, milvus_proxy, fault_proxy, config)
    finally:
        fault_proxy.open_gates()
        milvus_proxy.stop()
        milvus.stop()


def _kill(process: subprocess.Popen[str]) -> str:
    os.killpg(process.pid, signal.SIGKILL)
    _, err = process.communicate(timeout=30)
    return err


def _reached(gate: Gate, process: subprocess.Popen[str] | None = None) -> None:
    """Wait until the gate holds its request; fail with the tool's stderr if it ended first."""
    for _ in range(int(PHASE_TIMEOUT * 10)):
        if gate.reached.wait(0.1):
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the tool ended (exit {process.returncode}) first: {process.communicate()[1]}")
    raise AssertionError(f"phase not reached within {PHASE_TIMEOUT} s")


def _insert_unflushed(milvus: MilvusInstance) -> int:
    """Rows that only a flush persists (so that the create's flush has work that a gate can hold)."""
    client = milvus.client()
    try:
        rng = random.Random()
        start = rng.randrange(10**6, 10**9)
        client.insert(SOURCE, [{"id": start + i, "vector": [rng.random() for _ in range(8)]} for i in range(20)])
        return start
    finally:
        client.close()


def _tool(request: Request) -> bool:
    return not request.by_milvus


# Phase -> how to gate it (given the rig and the backup's name).
CREATE_PHASES: dict[str, Callable[[Rig, str], Gate]] = {
    # The lock is written, its answer held: the name is claimed, nothing else written.
    "claim": lambda rig, name: rig.backup_proxy.gate(
        lambda r: r.method == "PUT" and r.key.endswith(f"{name}/{LOCK_FILE}"), after_upstream=True
    ),
    # Milvus's write of the flushed segment is held: the create waits for its flush to end.
    "flush": lambda rig, name: rig.milvus_proxy.gate(
        lambda r: r.by_milvus and r.method == "PUT" and "/insert_log/" in r.key
    ),
    "list segments": lambda rig, name: rig.milvus_proxy.gate(
        lambda r: _tool(r) and r.is_listing and "insert_log/" in r.query
    ),
    # Two binlogs copied (one copy at a time), the third held.
    "copy mid-way": lambda rig, name: rig.backup_proxy.gate(
        lambda r: r.method == "PUT" and f"{name}/binlogs/" in r.key, nth=3
    ),
    # Every other meta file written, the one that makes the backup complete held.
    "meta write": lambda rig, name: rig.backup_proxy.gate(
        lambda r: r.method == "PUT" and r.key.endswith(f"{name}/meta/{COMMIT_FILE}")
    ),
}


@pytest.mark.parametrize("phase", list(CREATE_PHASES))
def test_create_killed_at_each_phase(phase, rig: Rig, capsys, reliability_record):
    name = unique("killed_")
    with reliability_record.case("kill", f"create killed at {phase}"):
        if phase == "flush":
            _insert_unflushed(rig.milvus)
        gate = CREATE_PHASES[phase](rig, name)
        process = spawn(rig.config, "create", "-n", name, "-c", SOURCE)
        try:
            _reached(gate, process)
        finally:
            err = _kill(process)
            rig.backup_proxy.open_gates()
            rig.milvus_proxy.open_gates()
        assert process.returncode == -signal.SIGKILL, err
        # Nothing lists as complete; what is there lists as cut off.
        entry = listed(capsys, rig.config).get(name)
        if entry is not None:
            assert entry["state"] == "incomplete" and "cut off" in entry["detail"], entry
        # The next run says what was left, and how to clear it.
        again = cli(capsys, rig.config, "create", "-n", name, "-c", SOURCE)
        assert again.code == 11, again.err
        assert "cut off" in again.err and "delete -n" in again.err, again.err
        # Cleared, the rerun succeeds and verifies.
        assert cli(capsys, rig.config, "delete", "-n", name).code == 0
        rerun = cli(capsys, rig.config, "create", "-n", name, "-c", SOURCE)
        assert rerun.code == 0, rerun.err
        verified = cli(capsys, rig.config, "verify", "-n", name)
        assert verified.code == 0, verified.err  # (a verify refuses an incomplete backup)


@dataclass(frozen=True)
class MadeBackup:
    name: str
    #: The source's live rows when it was made (later cases add rows to the source).
    rows: int


@pytest.fixture(scope="module")
def made_backup(rig: Rig) -> MadeBackup:
    """One backup of the source for every restore case (made through the CLI in this process)."""
    from milvus_backup.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(["--config", str(rig.config), "create", "-n", BACKUP, "-c", SOURCE])
    assert info.value.code == 0
    return MadeBackup(BACKUP, live_rows(rig.milvus, SOURCE))


def _backup_listing(name: str, nth: int) -> Callable[[Rig], Gate]:
    return lambda rig: rig.backup_proxy.gate(lambda r: r.is_listing and f"{name}/binlogs/" in r.query, nth=nth)


# Phase -> (gate, extra restore flags, whether the target collection exists when the gate is reached).
RESTORE_PHASES: dict[str, tuple[Callable[[Rig], Gate], tuple[str, ...], bool]] = {
    # The check before the import lists the backup's binlogs (their sizes and checksums): nothing created yet.
    "check": (_backup_listing(BACKUP, 1), (), False),
    # Staging starts with its own listing of the binlogs: the collection exists, still empty.
    "create collection": (_backup_listing(BACKUP, 2), (), True),
    # This tool builds indexes before the import: with --restore_index they exist when staging starts.
    "index": (_backup_listing(BACKUP, 2), ("--restore_index",), True),
    # The second binlog read for staging is held: one staged copy written.
    "staging": (
        lambda rig: rig.backup_proxy.gate(
            lambda r: r.method == "GET" and not r.is_listing and f"{BACKUP}/binlogs/" in r.key, nth=2
        ),
        (),
        True,
    ),
    # Milvus's read of a staged binlog is held: the import is under way.
    "import": (
        lambda rig: rig.milvus_proxy.gate(lambda r: r.by_milvus and r.method == "GET" and "restore-temp-" in r.key),
        (),
        True,
    ),
}


@pytest.mark.parametrize("phase", list(RESTORE_PHASES))
def test_restore_killed_at_each_phase(phase, rig: Rig, made_backup: MadeBackup, capsys, reliability_record):
    make_gate, flags, left = RESTORE_PHASES[phase]
    target = unique("restored_")
    restore = ("restore", "-n", made_backup.name, "-r", f"{SOURCE}:{target}", *flags)
    with reliability_record.case("kill", f"restore killed at {phase}"):
        gate = make_gate(rig)
        process = spawn(rig.config, *restore)
        try:
            _reached(gate, process)
            assert has_collection(rig.milvus, target) == left
        finally:
            err = _kill(process)
            rig.backup_proxy.open_gates()
            rig.milvus_proxy.open_gates()
        assert process.returncode == -signal.SIGKILL, err
        assert made_backup.name in complete(capsys, rig.config)  # the backup itself is untouched
        try:
            if left:
                # The next run names the collection the killed one left (its journal says so), and how to replace it.
                again = cli(capsys, rig.config, *restore)
                assert again.code == 35 and target in again.err and "--drop_exist_collection" in again.err, again.err
                assert "left incomplete by restore" in again.err and "cut off" in again.err, again.err  # its journal
            rerun = cli(capsys, rig.config, *restore, "--drop_exist_collection")
            assert rerun.code == 0, rerun.err
            assert stored_rows(rig.milvus, target) == made_backup.rows
        finally:
            drop(rig.milvus, target)


def _wait_exit(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=PHASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        err = _kill(process)
        raise AssertionError(f"the tool did not give up within {PHASE_TIMEOUT} s after Milvus died: {err}") from None
    return process.returncode, err


@dataclass(frozen=True)
class DiedCreate:
    name: str
    code: int
    err: str


@pytest.fixture(scope="module")
def milvus_died_mid_create(rig: Rig) -> DiedCreate:
    """A create whose Milvus was SIGKILLed while it flushed (Milvus's write of the flushed segment held), and
    Milvus restarted."""
    name = unique("milvus_died_")
    _insert_unflushed(rig.milvus)
    # Two of the flushed segment's binlogs written, the third held: Milvus dies in the middle of its flush.
    gate = rig.milvus_proxy.gate(lambda r: r.by_milvus and r.method == "PUT" and "/insert_log/" in r.key, nth=3)
    process = spawn(rig.config, "create", "-n", name, "-c", SOURCE)
    try:
        _reached(gate, process)
        rig.milvus.kill()
        code, err = _wait_exit(process)
    finally:
        rig.milvus_proxy.open_gates()
        if not rig.milvus.running:
            rig.milvus.restart()
    return DiedCreate(name, code, err)


def test_milvus_killed_mid_create_fails_clearly_and_leaves_nothing(rig: Rig, milvus_died_mid_create, capsys):
    died = milvus_died_mid_create
    assert died.code == 31 and "Cannot reach Milvus" in died.err, died.err
    assert died.name not in listed(capsys, rig.config)  # the failed create removed what it wrote, and its claim


def test_milvus_killed_mid_create_then_the_rerun_succeeds(rig: Rig, milvus_died_mid_create, capsys, reliability_record):
    name = milvus_died_mid_create.name
    with reliability_record.case("kill", "Milvus killed mid-create (flush)"):
        rerun = cli(capsys, rig.config, "create", "-n", name, "-c", SOURCE)
        assert rerun.code == 0, rerun.err
        verified = cli(capsys, rig.config, "verify", "-n", name)
        assert verified.code == 0, verified.err
        # The binlogs the killed flush left in the segment's folder (no GC ran since) stayed out of the backup,
        # with a warning, and what it holds is the collection: its live rows, read from the backup, are Milvus's.
        assert "orphan binlogs of an interrupted flush left out" in rerun.out, rerun.out  # the result's warnings
        inspected = cli(capsys, rig.config, "inspect", "-n", name, "--json")
        assert inspected.code == 0, inspected.err
        [collection] = json.loads(inspected.out)["collections"]
        assert collection["rows"]["live"] == live_rows(rig.milvus, SOURCE)


def test_milvus_killed_mid_restore(rig: Rig, made_backup: MadeBackup, capsys, reliability_record):
    target = unique("milvus_died_")
    restore = ("restore", "-n", made_backup.name, "-r", f"{SOURCE}:{target}")
    with reliability_record.case("kill", "Milvus killed mid-restore (import)"):
        gate, _, _ = RESTORE_PHASES["import"]
        held = gate(rig)
        process = spawn(rig.config, *restore)
        try:
            _reached(held, process)
            rig.milvus.kill()
            code, err = _wait_exit(process)
        finally:
            rig.milvus_proxy.open_gates()
            if not rig.milvus.running:
                rig.milvus.restart()
        try:
            assert code == 31 and "Milvus stopped answering during the import of" in err, err
            again = cli(capsys, rig.config, *restore)
            assert again.code in (0, 35), again.err
            if again.code == 35:
                assert target in again.err and "--drop_exist_collection" in again.err, again.err
            rerun = cli(capsys, rig.config, *restore, "--drop_exist_collection")
            assert rerun.code == 0, rerun.err
            assert stored_rows(rig.milvus, target) == made_backup.rows
        finally:
            drop(rig.milvus, target)
