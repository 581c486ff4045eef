"""log.console: false keeps every log record off stderr; results on stdout and `--debug` are unaffected."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_backup.cli.app import AppState

SOURCE = Path(__file__).resolve().parents[3] / "src"


def _cli(tmp_path: Path, *args: str, console: bool) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "backup.yaml"
    config.write_text(f"configVersion: v2\nlog:\n  console: {str(console).lower()}\nnoSuchKey: 1\n")
    paths = [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])]  # this tree's package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-m", "milvus_backup", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_log_console_false_keeps_logs_off_stderr(tmp_path):
    shown = _cli(tmp_path, "config", "show", "--json", console=True)
    assert shown.returncode == 0 and "unknown key noSuchKey is ignored" in shown.stderr
    quiet = _cli(tmp_path, "config", "show", "--json", console=False)
    assert quiet.returncode == 0 and quiet.stderr == ""
    values = {row["key"]: row["value"] for row in json.loads(quiet.stdout)["values"]}
    assert values["log.console"] is False  # results on stdout are untouched
    debug = _cli(tmp_path, "--debug", "config", "show", "--json", console=False)
    assert "unknown key noSuchKey is ignored" in debug.stderr


@pytest.fixture
def stderr_handler():
    """A handler on the root logger standing for stderr; logging enabled again afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize(
    ("console", "debug", "shown"), [(True, False, True), (False, False, False), (False, True, True)]
)
def test_log_console_decides_for_every_later_record(tmp_path, stderr_handler, console, debug, shown):
    config = tmp_path / "backup.yaml"
    config.write_text(f"configVersion: v2\nlog:\n  console: {str(console).lower()}\n")
    AppState(str(config), True, debug=debug).load()
    logging.getLogger("milvus_backup.service").warning("from the tool")
    logging.getLogger("httpx").warning("from a library")
    assert ("from the tool" in stderr_handler.getvalue()) is shown
    assert ("from a library" in stderr_handler.getvalue()) is shown
