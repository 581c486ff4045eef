"""A create whose backup storage fills up, on a real (small) file system: at every fill level it fails naming the
full storage, and leaves nothing behind. The file system is a tmpfs in a namespace of its own (tests/small_fs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import small_fs

pytestmark = pytest.mark.skipif(not small_fs.available(), reason="this machine allows no unprivileged tmpfs mounts")

#: From too small for the first binlog to big enough for the whole backup (some 100 KiB on a tmpfs), one page apart:
#: each phase of the create (binlog copies, each meta file, the commit file) runs out of space at one of them.
SIZES_KIB = range(4, 104, 4)
WORKTREE = Path(__file__).resolve().parents[3]


def creates_on_small_file_systems(work: Path, sizes: range, *milvus: str) -> list[dict[str, Any]]:
    """The outcome of a create on a tmpfs of each size (on the fakes, or with a backup.yaml and a collection)."""
    env = {**os.environ, "PYTHONPATH": f"{WORKTREE / 'src'}{os.pathsep}{WORKTREE}"}
    command = [sys.executable, "-m", "tests.unit.service.full_disk_create", str(work), ",".join(map(str, sizes))]
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", *command, *milvus],
        capture_output=True,
        text=True,
        env=env,
        cwd=WORKTREE,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["size_kib"] for o in outcomes] == list(sizes)
    return outcomes


def assert_full_and_clean(outcomes: list[dict[str, Any]]) -> set[str]:
    """Every failure names the full file system and left nothing there; returns the phases that failed."""
    phases = set()
    for outcome in outcomes:
        if outcome["error"] is None:
            continue
        assert outcome["error"] in ("StorageError", "CopyFailedError"), outcome
        # The full file system is named, not the source the copy read from.
        assert f"Storage error on {outcome['location']}:" in outcome["message"], outcome
        assert "the file system is full" in outcome["message"], outcome
        assert outcome["left"] == [], outcome
        phases.add(
            "backup_meta.json"
            if "backup_meta.json" in outcome["message"]
            else "meta"
            if "/meta/" in outcome["message"]
            else "binlogs"
        )
    return phases


def test_a_create_that_fills_the_disk_names_it_and_leaves_nothing(tmp_path: Path) -> None:
    outcomes = creates_on_small_file_systems(tmp_path, SIZES_KIB)
    assert assert_full_and_clean(outcomes) == {"binlogs", "meta", "backup_meta.json"}
    assert outcomes[-1]["error"] is None and outcomes[-1]["left"], "the largest file system holds the backup"
