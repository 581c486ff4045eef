import subprocess
import sys
from pathlib import Path

from milvus_backup.errors import (
    BackupNotFoundError,
    BackupToolError,
    CopyFailedError,
    MilvusRootEmptyError,
    all_error_classes,
)

REPO = Path(__file__).resolve().parents[2]


def test_exit_codes_are_unique_and_specific():
    codes = [cls.exit_code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))
    assert all(code not in (0, 130) for code in codes)


def test_every_class_has_a_message_template_and_http_status():
    for cls in all_error_classes():
        assert (cls.__doc__ or "").strip(), cls
        assert 400 <= cls.http_status < 600, cls


def test_message_is_filled_from_fields_and_hint_can_be_overridden():
    err = BackupNotFoundError(name="b1", location="s3://h/bucket/backup")
    assert str(err) == "Backup 'b1' not found in s3://h/bucket/backup."
    assert err.exit_code == 10 and err.http_status == 404
    assert "milvus-backup list" in err.hint
    assert CopyFailedError(src="a", dst="b", detail="x", hint="other").hint == "other"
    assert isinstance(MilvusRootEmptyError(address="h:1", location="l"), BackupToolError)


def test_exit_codes_doc_is_generated_from_the_tree():
    generated = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "errorlist.py")], capture_output=True, text=True, check=True
    ).stdout
    assert (REPO / "docs" / "exit-codes.md").read_text() == generated
