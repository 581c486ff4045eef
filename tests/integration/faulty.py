"""Helpers of the fault suite, the kill matrix and the concurrency tests: configs whose storages are reached
through fault proxies, the CLI in this process or as a process, and the checks every case ends with."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from milvus_backup.cli.app import main
from tests.integration.compare import rows_by_pk
from tests.integration.conftest import s3_client, s3_config, unique, write_config
from tests.rig.faultproxy import FaultProxy
from tests.rig.milvus import MilvusInstance
from tests.rig.seaweed import S3Server

TOOL = str(Path(sys.executable).parent / "milvus-backup")
#: The client's read timeout in the fault suite (the tool's is 60 s and not configurable): a stall outlasts it.
READ_TIMEOUT = 1.0


def proxied_config(
    tmp_path: Path,
    milvus: MilvusInstance,
    seaweedfs: S3Server,
    backup_proxy: FaultProxy,
    *,
    milvus_storage_proxy: FaultProxy | None = None,
    **extra: Any,
) -> Path:
    """backup.yaml for ``milvus`` (S3 storage), backups in a new bucket of ``seaweedfs`` reached through
    ``backup_proxy``: another endpoint than Milvus's storage, so copies are streamed through the tool. With
    ``milvus_storage_proxy`` the tool reads Milvus's storage through it (Milvus itself does not)."""
    bucket = unique("faults-")
    s3_client(seaweedfs).create_bucket(Bucket=bucket)
    data = s3_config(milvus, bucket)
    if milvus_storage_proxy is not None:
        data["milvus"]["storage"].update(address=milvus_storage_proxy.host, port=milvus_storage_proxy.port)
    data["backup"]["storage"].update(
        provider="minio",
        address=backup_proxy.host,
        port=backup_proxy.port,
        auth={"type": "static", "accessKeyID": seaweedfs.access_key, "secretAccessKey": seaweedfs.secret_key},
    )
    for section, values in extra.items():
        data.setdefault(section, {}).update(values)
    return write_config(tmp_path, data)


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> Outcome:
    """The CLI in this process (cheaper than a process when nothing is killed)."""
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return Outcome(int(info.value.code or 0), out, err)


def cli_process(config: Path, *args: str) -> Outcome:
    """The CLI as a process, run to its end (its claim on a name ends with it, as a user's would)."""
    process = spawn(config, *args)
    out, err = process.communicate(timeout=300)
    return Outcome(process.returncode, out, err)


def spawn(config: Path, *args: str) -> subprocess.Popen[str]:
    """The CLI as a process of its own session (so a SIGKILL of its group reaches everything it started)."""
    return subprocess.Popen(
        [TOOL, "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def listed(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    """`list --json`: name -> entry."""
    outcome = cli(capsys, config, "list", "--json")
    assert outcome.code == 0, outcome.err
    return {entry["name"]: entry for entry in json.loads(outcome.out)}


def complete(capsys: pytest.CaptureFixture[str], config: Path) -> set[str]:
    return {name for name, entry in listed(capsys, config).items() if entry["state"] == "complete"}


def assert_restored(milvus: MilvusInstance, source: str, target: str) -> int:
    """``target`` (loaded) holds exactly the live rows of ``source`` (loaded), vectors included; its row count."""
    client = milvus.client()
    try:
        original = rows_by_pk(client, source, "id")
        restored = rows_by_pk(client, target, "id")
        assert restored.keys() == original.keys(), (
            f"{target}: {len(original.keys() - restored.keys())} rows missing, "
            f"{len(restored.keys() - original.keys())} extra"
        )
        for key, row in original.items():
            assert [round(x, 6) for x in restored[key]["vector"]] == [round(x, 6) for x in row["vector"]], key
        return len(restored)
    finally:
        client.close()


def live_rows(milvus: MilvusInstance, collection: str) -> int:
    client = milvus.client()
    try:
        client.load_collection(collection)  # a restarted Milvus may not have loaded it again yet
        [row] = client.query(collection, output_fields=["count(*)"], consistency_level="Strong")
        return int(row["count(*)"])
    finally:
        client.close()


def stored_rows(milvus: MilvusInstance, collection: str) -> int:
    """The rows of a collection's flushed segments (deleted ones applied by an import), without loading it."""
    client = milvus.client()
    try:
        return int(client.get_collection_stats(collection)["row_count"])
    finally:
        client.close()


def drop(milvus: MilvusInstance, *collections: str) -> None:
    client = milvus.client()
    try:
        for name in collections:
            if client.has_collection(name):
                client.drop_collection(name)
    finally:
        client.close()


def has_collection(milvus: MilvusInstance, name: str) -> bool:
    client = milvus.client()
    try:
        return bool(client.has_collection(name))
    finally:
        client.close()
