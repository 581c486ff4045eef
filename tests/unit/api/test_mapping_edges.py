"""REST restore bodies into the service's request: keep_partial, and renames checked and shown cut."""

from __future__ import annotations

import pytest

from milvus_backup.api.mapping import restore_request
from milvus_backup.api.schemas import RestoreBackupRequest
from milvus_backup.errors import UsageError


def test_keep_partial_reaches_the_restore() -> None:
    assert restore_request(RestoreBackupRequest(backup_name="b", keep_partial=True)).keep_partial is True
    assert restore_request(RestoreBackupRequest(backup_name="b")).keep_partial is False


def test_a_huge_rename_is_refused_and_named_cut() -> None:
    with pytest.raises(UsageError) as raised:
        restore_request(RestoreBackupRequest(backup_name="b", collection_renames={"n" * 50_000: "c"}))
    assert "a name of 50000 characters; Milvus allows 255" in raised.value.message
    assert len(raised.value.message) < 1000
