"""Milvus older than the oldest supported version (2.2.9): a real Milvus 2.2.8, started for this module only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import local_config, write_config
from tests.integration.test_backup import backup_objects, run
from tests.rig.milvus import LocalStorageSpec, MilvusInstance, start_milvus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def milvus_228(rig_dir: Path) -> Iterator[MilvusInstance]:
    # The rig's readiness probe lists collections through pymilvus 3, which 2.2.8 refuses (no Connect call):
    # wait for the proxy's port instead.
    instance = start_milvus(
        rig_dir / "milvus_228", name="v228", storage=LocalStorageSpec(), version="2.2.8", wait_for_client=False
    )
    yield instance
    instance.stop()


def test_a_milvus_older_than_2_2_9_is_refused_by_name_not_by_a_grpc_error(milvus_228, tmp_path, capsys):
    config = write_config(tmp_path, local_config(milvus_228, tmp_path / "backups"))
    code, _, err = run(capsys, config, "create", "-n", "old")
    assert code == 39, err
    assert "older than the oldest this tool supports (2.2.9)" in err
    assert "unknown method" not in err
    assert backup_objects(config) == {}
