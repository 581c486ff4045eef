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
