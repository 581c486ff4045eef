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
    assert "flushed segment(s) Milvus reports for" in result.stdout
    assert "server-side" in result.stdout  # two directories on one machine: a file copy
    assert "resumed through the DataCoord GcControl" in result.stdout
    assert "Success!" in result.stdout and "WARN" not in result.stdout
    # check copies its probe into the directory of backups as a create would, and leaves nothing, not even it
    assert not (tmp_path / "backups").exists()
    assert not list(filled_milvus_local.local_storage_path.glob("milvus_backup_check_*"))


def test_check_passes_on_s3_milvus_and_cleans_up(filled_milvus_s3, seaweedfs, backup_bucket, tmp_path, capsys):
    config = write_config(tmp_path, s3_config(filled_milvus_s3, backup_bucket))
    code, out, err = run(capsys, config, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["warnings"] == []
    names = ["milvus", "milvus storage", "backup storage", "copy", "gc pause"]
    assert [step["name"] for step in report["steps"]] == names
    assert "server-side" in report["steps"][3]["detail"]
    assert (
        "s3://" in report["steps"][1]["detail"] and "flushed segment(s) Milvus reports" in report["steps"][1]["detail"]
    )
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


def test_a_sibling_s3_prefix_exits_38_after_the_other_checks_naming_the_real_root(
    filled_milvus_s3, backup_bucket, tmp_path, capsys
):
    data = s3_config(filled_milvus_s3, backup_bucket)
    data["milvus"]["storage"]["rootPath"] = "not-files"
    code, out, err = run(capsys, write_config(tmp_path, data))
    assert code == 38, err
    assert "FAIL milvus storage" in out and "none of them is there" in out
    assert "probe object copied" in out  # the other checks still ran
    spec = filled_milvus_s3.storage
    assert f"Error: Milvus storage root s3://{spec.host}:{spec.port}/milvus-bucket/not-files does not hold" in err
    assert (
        f"Hint: found Milvus's files under s3://{spec.host}:{spec.port}/milvus-bucket/files/: set rootPath "
        "(v2: milvus.storage.rootPath) to files"
    ) in err


def test_the_bucket_root_above_milvus_root_exits_38_naming_it(filled_milvus_s3, backup_bucket, tmp_path, capsys):
    data = s3_config(filled_milvus_s3, backup_bucket)
    data["milvus"]["storage"]["rootPath"] = ""
    code, _, err = run(capsys, write_config(tmp_path, data))
    assert code == 38, err
    assert "set rootPath (v2: milvus.storage.rootPath) to files" in err


def test_a_parent_directory_root_exits_38_naming_the_real_directory(filled_milvus_local, tmp_path, capsys):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    real = filled_milvus_local.local_storage_path
    data["milvus"]["storage"]["rootPath"] = str(real.parent)
    code, out, err = run(capsys, write_config(tmp_path, data))
    assert code == 38, err
    assert f"Error: Milvus storage root {real.parent.as_uri()} does not hold the files Milvus reports" in err
    assert f"Hint: found Milvus's files under {real.parent.as_uri()}/{real.name}/: set rootPath" in err
    assert err.rstrip().endswith(f"to {real}")
    assert "bucket" not in out.lower() + err.lower()


def test_an_unrelated_local_directory_exits_38_saying_where_the_files_must_be(filled_milvus_local, tmp_path, capsys):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    (tmp_path / "empty").mkdir()
    data["milvus"]["storage"]["rootPath"] = str(tmp_path / "empty")
    code, _, err = run(capsys, write_config(tmp_path, data))
    assert code == 38, err
    assert "Milvus keeps its files under <root>/insert_log/" in err and "localStorage.path" in err


def test_a_missing_local_directory_is_a_directory_not_a_bucket(filled_milvus_local, tmp_path, capsys):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    data["milvus"]["storage"]["rootPath"] = str(tmp_path / "nope")
    code, _, err = run(capsys, write_config(tmp_path, data))
    assert code == 23, err
    assert f"Error: Directory '{tmp_path / 'nope'}' does not exist." in err
    assert "rootPath" in err and "bucket" not in err.lower()


def test_a_fresh_empty_milvus_passes_with_a_note(milvus_empty, tmp_path, capsys):
    """A Milvus started for this test and never written to: the target of a restore on its first day."""
    config = write_config(tmp_path, local_config(milvus_empty, tmp_path / "backups"))
    code, out, err = run(capsys, config)
    assert code == 0, err
    assert "holds nothing yet, and nothing is stored yet: no flushed segments in 0 collection(s)" in out
    assert "Success!" in out and "WARN" not in out


def test_gc_that_cannot_be_paused_on_2_3_warns_naming_the_key(filled_milvus_local, tmp_path, capsys):
    data = local_config(filled_milvus_local, tmp_path / "backups")
    del data["milvus"]["dataCoord"]  # the management endpoint alone: Milvus 2.3 answers it 404
    config = write_config(tmp_path, data)
    code, out, err = run(capsys, config)
    assert code == 0, err
    assert "WARN gc pause: GC cannot be paused with this configuration" in out
    assert "set milvus.dataCoord.address" in out and "answered 404" in out
    assert "Success! Backups can be made with this configuration (1 warning(s) above)." in out
    code, out, _ = run(capsys, config, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    (warning,) = report["warnings"]
    assert warning.startswith("gc pause: ") and "milvus.dataCoord.address" in warning
    assert [s["name"] for s in report["steps"] if s["warning"]] == ["gc pause"]
    code, _, err = run(capsys, config, "--strict")
    assert code == 4 and "milvus.dataCoord.address" in err


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
