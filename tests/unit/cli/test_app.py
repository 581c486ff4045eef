import json

import pytest

from milvus_backup.cli.app import hoist_global_options, main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_global_options_work_after_the_subcommand():
    assert hoist_global_options(["config", "show", "--config", "a.yaml", "--set=x=1", "--json"]) == [
        "--config",
        "a.yaml",
        "--set=x=1",
        "config",
        "show",
        "--json",
    ]
    assert hoist_global_options(["check", "--", "--config"]) == ["check", "--", "--config"]


def test_help_lists_commands_with_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "check" in out and "config" in out
    code, out, _ = run(capsys, "check", "--help")
    assert code == 0 and "Examples" in out and "milvus-backup check --config" in out


def test_config_show_json_with_set_after_subcommand(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.yaml").write_text("milvus:\n  password: hunter2\n  port: 1234\n")
    code, out, err = run(capsys, "config", "show", "--json", "--config", "b.yaml", "--set", "MILVUS_USER=bob")
    assert code == 0
    data = json.loads(out)
    values = {row["key"]: row for row in data["values"]}
    assert data["schema"] == "v1"
    assert values["milvus.grpc.port"]["value"] == 1234
    assert values["milvus.user"] == {
        "key": "milvus.user",
        "value": "bob",
        "source": "override",
        "sourceKey": "MILVUS_USER",
    }
    assert "hunter2" not in out and "hunter2" not in err


def test_bad_value_exits_3_naming_the_key(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.yaml").write_text("milvus:\n  port: abc\n")
    code, out, err = run(capsys, "--config", "b.yaml", "config", "show")
    assert code == 3 and out == ""
    assert "Error: Invalid configuration: milvus.grpc.port (key milvus.port in" in err
    assert "Hint:" in err


def test_unknown_command_is_a_usage_error(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "frobnicate" in err


def test_prune_prints_why_each_backup_stays_and_refuses_no_policy(capsys, tmp_path):
    from datetime import datetime, timezone

    from bench.prune_year import nightly_year
    from milvus_backup.service.resources import StorageLocation
    from milvus_backup.storage.local import LocalStorage

    (tmp_path / "backups").mkdir()
    (tmp_path / "b.yaml").write_text(
        f"configVersion: v2\nbackup:\n  storage:\n    provider: local\n    rootPath: {tmp_path / 'backups'}\n"
    )
    nightly_year(
        StorageLocation(LocalStorage(tmp_path / "backups"), ""), 3, datetime(2026, 3, 31, 2, tzinfo=timezone.utc)
    )
    code, out, err = run(capsys, "prune", "--config", str(tmp_path / "b.yaml"))
    assert code == 2 and "Error: no retention policy given" in err and "--keep-last" in err
    code, out, _ = run(capsys, "prune", "--config", str(tmp_path / "b.yaml"), "--keep-last", "1", "--dry-run")
    assert code == 0 and out.splitlines() == [
        "keep    nightly_20260331_020000  2026-03-31T02:00:00+00:00  (last)",
        "would remove  nightly_20260330_020000  2026-03-30T02:00:00+00:00",
        "would remove  nightly_20260329_020000  2026-03-29T02:00:00+00:00",
        "prune dry run: 1 kept, 2 to remove",
    ]
    code, out, _ = run(capsys, "prune", "--config", str(tmp_path / "b.yaml"), "--keep-daily", "1", "--json")
    result = json.loads(out)
    assert code == 0 and [b["reasons"] for b in result["kept"]] == [["daily"]] and len(result["removed"]) == 2
    assert sorted(p.name for p in (tmp_path / "backups").glob("nightly_*")) == ["nightly_20260331_020000"]
