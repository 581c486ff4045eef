"""`pip install .` in a fresh virtual environment gives a working `milvus-backup` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("check", "create", "list", "get", "delete", "restore", "server", "verify", "config")


def test_fresh_venv_install_gives_the_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    result = subprocess.run(
        [str(venv / "bin" / "milvus-backup"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(venv / "bin"), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 1}
    assert set(COMMANDS) <= listed, result.stdout
