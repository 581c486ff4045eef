"""Edges against the real servers: a full backup disk, ..."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import small_fs
from tests.integration.conftest import local_config, write_config
from tests.unit.service.test_full_disk import assert_full_and_clean, creates_on_small_file_systems


@pytest.mark.skipif(not small_fs.available(), reason="this machine allows no unprivileged tmpfs mounts")
def test_create_from_milvus_onto_a_full_disk_names_it_and_leaves_nothing(filled_milvus_local, tmp_path: Path) -> None:
    config = write_config(tmp_path, local_config(filled_milvus_local, tmp_path / "unused"))
    outcomes = creates_on_small_file_systems(tmp_path / "work", range(4, 120, 16), str(config), "rig_seed")
    assert {"binlogs", "meta"} <= assert_full_and_clean(outcomes)
    assert outcomes[-1]["error"] is None and outcomes[-1]["left"], "the largest file system holds the backup"
