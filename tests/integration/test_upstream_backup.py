"""A backup in the Go tool's old layout, meta written by hand (tests/data), verifies and restores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import local_config, unique, write_config
from tests.integration.test_backup import run

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "upstream_v0_4_backup" / "legacy_backup"


def test_hand_written_upstream_backup_verifies_and_restores(milvus_local, tmp_path, capsys):
    backups = tmp_path / "backups"
    shutil.copytree(FIXTURE, backups / "legacy_backup")
    config = write_config(tmp_path, local_config(milvus_local, backups))
    code, out, err = run(capsys, config, "verify", "-n", "legacy_backup")
    assert code == 0, err
    assert "sizes and binlog structure (no manifest: made by another tool)" in out and "6 object(s)" in out
    assert "a changed value that leaves these whole cannot be found without a manifest's checksums" in out
    suffix = unique("_legacy")
    code, out, err = run(capsys, config, "restore", "-n", "legacy_backup", "-s", suffix)
    assert code == 0, err
    assert f"default.legacy -> default.legacy{suffix}: 9 row(s) from 1 segment(s)" in out
    client = milvus_local.client()
    try:
        index = client.prepare_index_params()
        index.add_index("vec", index_type="FLAT", metric_type="L2")
        client.create_index(f"legacy{suffix}", index)
        client.load_collection(f"legacy{suffix}")
        rows = client.query(f"legacy{suffix}", filter="id >= 0", output_fields=["id", "title", "vec"], limit=100)
        assert sorted(r["id"] for r in rows) == [0, 1, 2, 3, 5, 6, 7, 8, 9]  # 4 was deleted
        for row in rows:
            i = row["id"]
            assert row["title"] == f"title {i}"
            assert [float(x) for x in row["vec"]] == [i, i + 0.5, i + 0.25, -i]
    finally:
        client.close()


NEWER = Path(__file__).resolve().parents[1] / "data" / "upstream_v2_5_backup" / "newer_backup"


def test_a_milvus_2_5_backup_verifies_and_is_refused_by_milvus_2_3_before_anything_is_created(
    milvus_local, tmp_path, capsys
):
    backups = tmp_path / "backups"
    shutil.copytree(NEWER, backups / "newer_backup")
    config = write_config(tmp_path, local_config(milvus_local, backups))
    # --quick: the fixture's binlogs are text stand-ins, which a full verify's structure check refuses
    code, out, err = run(capsys, config, "verify", "-n", "newer_backup", "--quick")
    assert code == 0, err
    assert "16 object(s)" in out  # 2 segments x 7 fields, and the delta logs of both L0 segments
    suffix = unique("_newer")
    code, out, err = run(capsys, config, "restore", "-n", "newer_backup", "-s", suffix)
    assert code == 14, err
    assert "L0" in err and "price" in err and "SparseFloatVector" in err
    client = milvus_local.client()
    try:
        assert f"docs{suffix}" not in client.list_collections()
    finally:
        client.close()
