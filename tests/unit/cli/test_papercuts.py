"""The command line's small promises: --version, flags that take no value, `list` for scripts, a word when no
config file is found, a v1 file noted once, and read-only commands that create nothing."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from milvus_backup import library
from milvus_backup.cli.app import main
from milvus_backup.service.catalog import BackupSummary

SOURCE = Path(__file__).resolve().parents[3] / "src"
COMMANDS = [
    ["check"],
    ["create"],
    ["list"],
    ["get"],
    ["delete"],
    ["restore"],
    ["verify"],
    ["server"],
    ["config", "show"],
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The tool as a process (its stderr as a user sees it), this tree's package, no MILVUSCONF."""
    paths = [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])]
    base = {k: v for k, v in os.environ.items() if k != "MILVUSCONF"}
    return subprocess.run(
        [sys.executable, "-m", "milvus_backup", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "PYTHONPATH": os.pathsep.join(paths), **(env or {})},
        timeout=120,
    )


def local_config(tmp_path: Path, backups: Path) -> Path:
    milvus_root = tmp_path / "milvus"
    milvus_root.mkdir(exist_ok=True)
    data = {
        "configVersion": "v2",
        "milvus": {"storage": {"provider": "local", "rootPath": str(milvus_root)}},
        "backup": {"storage": {"rootPath": str(backups)}},
    }
    path = tmp_path / "backup.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out == f"milvus-backup {importlib.metadata.version('milvus-backup')}\n"


@pytest.mark.parametrize("command", [[], *COMMANDS], ids=lambda c: " ".join(c) or "top")
def test_help_shows_flags_as_flags(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "<bool>" not in out  # a flag takes no value
    json_lines = [line for line in out.splitlines() if "--json " in line and "Print" in line]
    if command[-1:] in (["check"], ["create"], ["list"], ["restore"], ["verify"], ["show"]):
        assert json_lines and all("<" not in line for line in json_lines), out


def test_json_is_a_flag_everywhere(capsys):
    # `--json true` is no way of saying `--json`: the value is an extra argument, refused as such.
    code, _, err = run(capsys, "list", "--json", "true")
    assert code == 2 and "true" in err


def test_list_prints_full_values_when_piped(capsys, tmp_path, monkeypatch):
    long_name = "default_demo_backup_with_a_name_longer_than_any_terminal_column"
    backups = [
        BackupSummary(
            long_name,
            "complete",
            123456789,
            ["default.demo", "db1.books"],
            "2024-05-01T12:34:56+00:00",
            "v2.3.5",
            proof={"default.demo": "proven (5 rows)", "db1.books": "unproven: not loaded"},
        ),
        BackupSummary("half", "incomplete", detail="meta never written"),
        BackupSummary("tue", "complete", 5, ["default.demo"], "2024-05-02T12:00:00+00:00", "v2.3.5", base="mon"),
    ]
    monkeypatch.setattr(library, "list_backups", lambda config: backups)
    code, out, _ = run(capsys, "--config", str(local_config(tmp_path, tmp_path / "backups")), "list")
    assert code == 0
    assert out.splitlines() == [
        f"{long_name}\tcomplete\t123456789\tdefault.demo,db1.books\t2024-05-01T12:34:56+00:00\tv2.3.5\tunproven\t-",
        "half\tincomplete\t0\tmeta never written\t-\t-\t-\t-",
        "tue\tcomplete\t5\tdefault.demo\t2024-05-02T12:00:00+00:00\tv2.3.5\t-\tmon",
    ]


def test_read_only_commands_create_no_backup_directory(capsys, tmp_path):
    backups = tmp_path / "not" / "yet" / "backups"
    config = str(local_config(tmp_path, backups))
    code, out, err = run(capsys, "--config", config, "list")
    assert (code, out) == (0, "")
    code, out, _ = run(capsys, "--config", config, "list", "--json")
    assert (code, out) == (0, "[]\n")
    for command in (["get", "-n", "b1"], ["delete", "-n", "b1"], ["verify", "-n", "b1"]):
        code, _, err = run(capsys, "--config", config, *command)
        assert code == 10, (command, err)
        assert "Backup 'b1' not found" in err and "directory of backups does not exist" in err
    assert not (tmp_path / "not").exists()


def test_list_says_the_directory_does_not_exist_yet(tmp_path):
    result = cli(tmp_path, "--config", str(local_config(tmp_path, tmp_path / "backups")), "list")
    assert result.returncode == 0 and result.stdout == ""
    assert "backups does not exist yet: no backups" in result.stderr
    assert not (tmp_path / "backups").exists()


def test_no_config_file_is_said_first_naming_the_paths_tried(tmp_path):
    result = cli(tmp_path, "config", "show", "--json")
    assert result.returncode == 0
    first = result.stderr.splitlines()[0]
    assert "no config file found (looked for backup.yaml, configs/backup.yaml)" in first
    elsewhere = cli(tmp_path, "config", "show", env={"MILVUSCONF": "/etc/mb"})
    assert "looked for backup.yaml, /etc/mb/backup.yaml, configs/backup.yaml" in elsewhere.stderr.splitlines()[0]
    # before anything else, also before an error
    failed = cli(tmp_path, "--set", "milvus.grpc.port=abc", "config", "show")
    lines = failed.stderr.splitlines()
    assert failed.returncode == 3 and "no config file found" in lines[0] and lines[1].startswith("Error:")
    # a file named with --config that is missing is an error naming the paths
    missing = cli(tmp_path, "--config", "nope.yaml", "config", "show")
    assert missing.returncode == 3 and "looked for nope.yaml, configs/nope.yaml" in missing.stderr


def test_a_v1_file_is_noted_once_not_warned(tmp_path):
    (tmp_path / "backup.yaml").write_text("milvus:\n  address: localhost\n  port: 19530\n")
    result = cli(tmp_path, "config", "show")
    assert result.returncode == 0
    assert "WARNING" not in result.stderr
    noted = [line for line in result.stderr.splitlines() if "v1 schema" in line]
    assert len(noted) == 1 and noted[0].startswith("INFO")
    assert "(schema v1)" in result.stdout


def test_list_on_a_narrow_terminal_folds_values_instead_of_cutting_them(capsys, tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from milvus_backup.cli import render

    name = "default_demo_backup_with_a_name_longer_than_any_column"
    monkeypatch.setattr(library, "list_backups", lambda config: [BackupSummary(name, "complete", 1, ["default.demo"])])
    screen = io.StringIO()
    monkeypatch.setattr(render, "stdout", Console(file=screen, width=80, force_terminal=True, soft_wrap=True))
    code, _, _ = run(capsys, "--config", str(local_config(tmp_path, tmp_path / "backups")), "list")
    assert code == 0
    shown = screen.getvalue()
    assert "…" not in shown
    cells = "".join(line.split("│")[1].strip() for line in shown.splitlines() if line.startswith("│"))
    assert cells == name


@pytest.mark.parametrize(
    ("provider", "out", "said"),
    [
        ("local", "s3://exports/x", "it is a local directory here"),
        ("minio", "gs://exports/x", "(minio): s3://<bucket>/<folder>"),
        ("minio", "s3://", "(minio): s3://<bucket>/<folder>"),
        ("azure", "s3://exports/x", "(azure): az://<bucket>/<folder>"),
    ],
)
def test_an_export_uri_of_another_service_is_refused(tmp_path: Path, provider: str, out: str, said: str) -> None:
    from milvus_backup import wiring
    from milvus_backup.config import load_config
    from milvus_backup.errors import UsageError

    path = local_config(tmp_path, tmp_path / "backups")
    data = yaml.safe_load(path.read_text())
    if provider != "local":
        data["backup"]["storage"].update(provider=provider, bucketName="backups")
        if provider == "azure":
            data["backup"]["storage"]["auth"] = {"type": "sharedKey"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UsageError) as info:
        wiring.export_target(out, load_config(str(path), env={}).config)
    assert said in info.value.message and info.value.exit_code == 2
