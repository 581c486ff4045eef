"""Session fixtures that start real servers on 127.0.0.1 (see tests/rig/).

Each server starts once per session, only when a test asks for it, and stops at
session end. A server that cannot start FAILS the requesting tests with the tail
of its log; nothing is ever skipped. Logs and data live under the session's
``<basetemp>/rig`` directory.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import reliability
from tests.rig import proc
from tests.rig.azurite import AzuriteServer, start_azurite
from tests.rig.fakegcs import GcsServer, start_fake_gcs
from tests.rig.milvus import LocalStorageSpec, MilvusInstance, S3StorageSpec, start_milvus
from tests.rig.seaweed import S3Server, start_seaweedfs

SEAWEED_ACCESS_KEY = "rigaccess"
SEAWEED_SECRET_KEY = "rigsecret123"
SEAWEED_B_ACCESS_KEY = "rigaccessb"
SEAWEED_B_SECRET_KEY = "rigsecretb456"
MILVUS_S3_BUCKET = "milvus-bucket"
MILVUS_S3_ROOT_PATH = "files"

# (server, seconds from spawn to ready), shown in the terminal summary.
_startup_times: list[tuple[str, float]] = []
_milvus_instances: dict[str, MilvusInstance] = {}


def _record(name: str, seconds: float) -> None:
    _startup_times.append((name, seconds))


@pytest.fixture(scope="session")
def rig_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per-session directory holding every server's data and log."""
    return tmp_path_factory.mktemp("rig", numbered=False)


@pytest.fixture(scope="session", autouse=True)
def _rig_reaper() -> Iterator[None]:
    """SIGKILL any rig process still alive when the session ends.

    Fixture teardowns stop their servers; this catches the rest (a test that
    started its own server and failed before stopping it). SIGTERM to pytest is
    turned into a KeyboardInterrupt, which pytest answers by tearing down the
    session fixtures; the default SIGTERM would skip teardown and ``atexit``.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        yield
    finally:
        proc.kill_all()
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _start_s3(rig_dir: Path, name: str, access_key: str, secret_key: str) -> S3Server:
    server = start_seaweedfs(rig_dir / name, access_key, secret_key)
    _record(name, server.startup_seconds)
    return server


@pytest.fixture(scope="session")
def seaweedfs(rig_dir: Path) -> Iterator[S3Server]:
    server = _start_s3(rig_dir, "seaweedfs", SEAWEED_ACCESS_KEY, SEAWEED_SECRET_KEY)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweedfs_b(rig_dir: Path) -> Iterator[S3Server]:
    """A second, independent SeaweedFS with its own credentials (e.g. cross-endpoint copies)."""
    server = _start_s3(rig_dir, "seaweedfs_b", SEAWEED_B_ACCESS_KEY, SEAWEED_B_SECRET_KEY)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite(rig_dir: Path) -> Iterator[AzuriteServer]:
    server = start_azurite(rig_dir / "azurite")
    _record("azurite", server.startup_seconds)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_gcs(rig_dir: Path) -> Iterator[GcsServer]:
    server = start_fake_gcs(rig_dir / "fake_gcs")
    _record("fake_gcs", server.startup_seconds)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus_local(rig_dir: Path) -> Iterator[MilvusInstance]:
    instance = start_milvus(rig_dir / "milvus_local", name="local", storage=LocalStorageSpec())
    _record("milvus_local", instance.startup_seconds)
    _milvus_instances["milvus_local"] = instance
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def milvus_s3(rig_dir: Path, seaweedfs: S3Server) -> Iterator[MilvusInstance]:
    storage = S3StorageSpec.on(seaweedfs, bucket=MILVUS_S3_BUCKET, root_path=MILVUS_S3_ROOT_PATH)
    instance = start_milvus(rig_dir / "milvus_s3", name="s3", storage=storage)
    _record("milvus_s3", instance.startup_seconds)
    _milvus_instances["milvus_s3"] = instance
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def milvus_empty(rig_dir: Path) -> Iterator[MilvusInstance]:
    """A fresh Milvus, local storage, that no test writes to: what a restore target looks like on day one."""
    instance = start_milvus(rig_dir / "milvus_empty", name="empty", storage=LocalStorageSpec())
    _record("milvus_empty", instance.startup_seconds)
    _milvus_instances["milvus_empty"] = instance
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def milvus_22(rig_dir: Path) -> Iterator[MilvusInstance]:
    """Milvus 2.2.16, local storage. Its DataNode writes the deletes of flushed segments every
    dataNode.segment.syncPeriod (600 s by default; 1 s here), and a backup waits until they are on storage: with
    the default the session's fixture deletes would hold every backup for ten minutes."""
    instance = start_milvus(
        rig_dir / "milvus_22",
        name="v22",
        storage=LocalStorageSpec(),
        version="2.2.16",
        settings={"dataNode.segment.syncPeriod": 1},
    )
    _record("milvus_22", instance.startup_seconds)
    _milvus_instances["milvus_22"] = instance
    yield instance
    instance.stop()


MILVUS_ROOT_TOKEN = "root:Milvus"


@pytest.fixture(scope="session")
def milvus_auth(rig_dir: Path) -> Iterator[MilvusInstance]:
    """A third Milvus, local storage, with authorization on (user root, password Milvus)."""
    instance = start_milvus(
        rig_dir / "milvus_auth",
        name="auth",
        storage=LocalStorageSpec(),
        settings={"common.security.authorizationEnabled": True},
        token=MILVUS_ROOT_TOKEN,
    )
    _record("milvus_auth", instance.startup_seconds)
    yield instance
    instance.stop()


@pytest.fixture
def reliability_record() -> reliability.ReliabilityLog:
    """Report a fault, kill or bad-input case to the session's figures (see tests/reliability.py)."""
    return reliability.LOG


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = reliability.LOG.summary_lines()
    if figures:
        terminalreporter.section("reliability")
        for line in figures:
            terminalreporter.write_line(line)
    if not _startup_times:
        return
    terminalreporter.section("test rig")
    for name, seconds in _startup_times:
        terminalreporter.write_line(f"{name:<14} ready after {seconds:5.1f} s")
    for name, instance in _milvus_instances.items():
        for seconds in instance.restart_seconds:
            terminalreporter.write_line(f"{name:<14} restarted in {seconds:5.1f} s")
    leftovers = proc.live_pids()
    if leftovers:
        terminalreporter.write_line(f"WARNING: rig processes still alive: {leftovers}")
