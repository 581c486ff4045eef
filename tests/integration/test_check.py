"""`milvus-backup check` against the real servers: the good setups pass, each broken one fails distinctly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_backup.cli.app import main
from tests.integration.conftest import local_config, s3_client, s3_config, unique, write_config

pytestmark = pytest.mark.integration

TOOL = str(Path(sys.executable).parent / "milvus-backup")


def run(capsys, config: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["check", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_check_passes_on_local_storage_milvus(filled_milvus_local, tmp_path):
    config = write_config(tmp_path, local_config(filled_milvus_local, tmp_path / "backups"))
    # The real console script, as a user runs it.
    result = subprocess.run([TOOL, "check", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Milvus version: v2.3.5" in result.stdout
    assert "holds Milvus data" in result.stdout
    assert "server-side" in result.stdout  # two directories on one machine: a file copy
    assert "Success!" in result.stdout
    assert not list((tmp_path / "backups").glob("milvus_backup_check_*"))
    assert not list(filled_milvus_local.local_storage_path.glob("milvus_backup_check_*"))


def test_check_passes_on_s3_milvus_and_cleans_up(filled_milvus_s3, seaweedfs, backup_bucket, tmp_path, capsys):
    config = write_config(tmp_path, s3_config(filled_milvus_s3, backup_bucket))
    code, out, err = run(capsys, config, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True
    assert [step["name"] for step in report["steps"]] == ["milvus", "milvus storage", "backup storage", "copy"]
    assert "server-side" in report["steps"][3]["detail"]
    s3 = s3_client(seaweedfs)
    for bucket in (backup_bucket, "milvus-bucket"):
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert not [k for k in keys if "milvus_backup_check_" in k]


def test_wrong_milvus_port_exits_31(filled_milvus_local, tmp_path, capsys):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    data["milvus"]["grpc"]["port"] = filled_milvus_local.port + 1 if filled_milvus_local.port < 65535 else 1
    code, _, err = run(capsys, write_config(tmp_path, data))
    assert code == 31
    assert "Error: Cannot reach Milvus at 127.0.0.1:" in err and "Hint:" in err


def test_wrong_s3_secret_exits_22(filled_milvus_s3, backup_bucket, tmp_path, capsys):
    data = s3_config(filled_milvus_s3, backup_bucket)
    data["milvus"]["storage"]["auth"]["secretAccessKey"] = "not-the-secret"
    code, _, err = run(capsys, write_config(tmp_path, data))
    assert code == 22
    assert "Access denied by storage" in err
    assert "not-the-secret" not in err


def test_missing_bucket_exits_23(filled_milvus_s3, tmp_path, capsys):
    config = write_config(tmp_path, s3_config(filled_milvus_s3, unique("no-such-bucket-")))
    code, _, err = run(capsys, config)
    assert code == 23
    assert "does not exist" in err and "no-such-bucket-" in err


def test_empty_root_path_exits_36_after_the_other_checks(filled_milvus_s3, backup_bucket, tmp_path, capsys):
    data = s3_config(filled_milvus_s3, backup_bucket)
    data["milvus"]["storage"]["rootPath"] = "not-files"
    code, out, err = run(capsys, write_config(tmp_path, data))
    assert code == 36
    assert "is EMPTY" in out
    assert "probe object copied" in out  # the other checks still ran
    assert "Milvus storage root" in err and "rootPath" in err


def test_local_empty_root_directory_exits_36(filled_milvus_local, tmp_path, capsys):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    (tmp_path / "empty").mkdir()
    data["milvus"]["storage"]["rootPath"] = str(tmp_path / "empty")
    code, _, _ = run(capsys, write_config(tmp_path, data))
    assert code == 36


def test_direct_copy_between_different_services_exits_26(
    filled_milvus_local, seaweedfs, backup_bucket, tmp_path, capsys
):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    data["backup"]["storage"] = {
        "provider": "minio",
        "address": seaweedfs.host,
        "port": seaweedfs.port,
        "bucketName": backup_bucket,
        "rootPath": "backup",
        "auth": {"type": "static", "accessKeyID": seaweedfs.access_key, "secretAccessKey": seaweedfs.secret_key},
    }
    data["transfer"] = {"mode": "direct"}
    code, out, err = run(capsys, write_config(tmp_path, data))
    assert code == 26
    assert "FAIL copy" in out
    # auto mode streams the same copy through the tool instead
    data["transfer"] = {"mode": "auto"}
    code, out, err = run(capsys, write_config(tmp_path, data))
    assert code == 0, err
    assert "streamed through milvus-backup" in out
