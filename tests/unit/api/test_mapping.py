"""REST bodies -> the service's requests: the fields of the row-count proof and of the restore's mode."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from milvus_backup.api.mapping import create_request, restore_request
from milvus_backup.api.schemas import CreateBackupRequest, RestoreBackupRequest


def test_no_proof_turns_the_proof_off_and_its_absence_keeps_it() -> None:
    assert create_request(CreateBackupRequest(backup_name="b", no_proof=True)).proof is False
    assert create_request(CreateBackupRequest(backup_name="b")).proof is True


@pytest.mark.parametrize("mode", ["", "import", "insert"])
def test_mode_is_passed_as_given(mode: str) -> None:
    assert restore_request(RestoreBackupRequest(backup_name="b", mode=mode)).mode == mode  # type: ignore[arg-type]


def test_an_unknown_mode_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="mode"):
        RestoreBackupRequest(backup_name="b", mode="copy")  # type: ignore[arg-type]
