import subprocess
import sys
from pathlib import Path

import pytest

from milvus_backup.errors import (
    BackupExistsError,
    BackupIncompleteError,
    BackupNotFoundError,
    BackupReferencedError,
    BackupToolError,
    BinlogFormatError,
    BucketNotFoundError,
    CollectionNotInBackupError,
    ConfigError,
    CopyFailedError,
    DeadlineExceededError,
    IntegrityError,
    JobCancelledError,
    JobConflictError,
    JobNotFoundError,
    MilvusError,
    MilvusRootMismatchError,
    RowProofError,
    StorageError,
    UnflushedDeletesError,
    UnsupportedFormatError,
    UsageError,
    WarningsAsErrorsError,
    all_error_classes,
)
from milvus_backup.storage.local import LocalStorage

REPO = Path(__file__).resolve().parents[2]


# The ranges docs/exit-codes.md states, and which classes each holds.
SINGLE_CODES = {BackupToolError: 1, UsageError: 2, ConfigError: 3, WarningsAsErrorsError: 4}
BACKUP_ERRORS = (
    BackupNotFoundError,
    BackupExistsError,
    BackupIncompleteError,
    IntegrityError,
    UnsupportedFormatError,
    RowProofError,
    BinlogFormatError,
    CollectionNotInBackupError,
    UnflushedDeletesError,
    BackupReferencedError,
)
JOB_ERRORS = (JobConflictError, JobCancelledError, JobNotFoundError, DeadlineExceededError)


def documented_range(cls: type[BackupToolError]) -> range:
    if cls in SINGLE_CODES:
        return range(SINGLE_CODES[cls], SINGLE_CODES[cls] + 1)
    if cls in BACKUP_ERRORS:
        return range(10, 20)
    if issubclass(cls, StorageError):
        return range(20, 30)
    if issubclass(cls, MilvusError):
        return range(30, 40)
    if cls in JOB_ERRORS:
        return range(40, 50)
    raise AssertionError(f"{cls.__name__} belongs to no documented exit-code range: place it in one")


def test_exit_codes_are_unique_and_specific():
    codes = [cls.exit_code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))
    assert all(code not in (0, 130) for code in codes)


def test_every_exit_code_lies_in_its_documented_range():
    for cls in all_error_classes():
        assert cls.exit_code in documented_range(cls), (cls.__name__, cls.exit_code)
    doc = (REPO / "docs" / "exit-codes.md").read_text()
    for first, last in ((10, 19), (20, 29), (30, 39), (40, 49)):
        assert f"\n| {first}-{last} | " in doc, (first, last)
    for code in (0, 1, 2, 3, 4, 130):
        assert f"\n| {code} | " in doc, code


def test_the_two_newest_errors():
    late = DeadlineExceededError(what="Backup 'b1'", seconds=30.0)
    assert str(late) == "Backup 'b1' did not finish within its timeout of 30 s."
    assert late.exit_code == 43 and late.http_status == 504 and "--timeout" in late.hint
    assert not isinstance(late, JobCancelledError)
    strict = WarningsAsErrorsError(count=2, detail="a; b")
    assert str(strict) == "2 warning(s) with --strict: a; b"
    assert strict.exit_code == 4 and strict.http_status == 422 and "--strict" in strict.hint


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
    assert isinstance(MilvusRootMismatchError(location="l", detail="d"), MilvusError)


def test_a_missing_local_directory_is_no_bucket():
    bucket = BucketNotFoundError(bucket="b", location="s3://h:1/b")
    assert str(bucket) == "Bucket 'b' does not exist on s3://h:1/b." and "bucketName" in bucket.hint
    directory = BucketNotFoundError(bucket="/data/backups", location="file:///data/backups", directory=True)
    assert str(directory) == "Directory '/data/backups' does not exist."
    assert "rootPath" in directory.hint and "bucket" not in directory.hint.lower()
    assert directory.exit_code == bucket.exit_code == 23


def test_exit_codes_doc_is_generated_from_the_tree():
    generated = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "errorlist.py")], capture_output=True, text=True, check=True
    ).stdout
    assert (REPO / "docs" / "exit-codes.md").read_text() == generated


def test_local_storage_speaks_of_a_missing_directory(tmp_path):
    with pytest.raises(BucketNotFoundError) as info:
        LocalStorage(tmp_path / "nope").check_bucket()
    assert str(info.value) == f"Directory '{tmp_path / 'nope'}' does not exist."
    assert "rootPath" in (info.value.hint or "")


def test_a_message_never_echoes_a_value_whole() -> None:
    from milvus_backup.errors import DETAIL_CHARS, FIELD_CHARS, CollectionNotFoundError, UsageError

    huge = "c" * 10_000_000
    error = CollectionNotFoundError(collection=huge, database="default", address="m:19530", hint=huge)
    assert f"{'c' * FIELD_CHARS}... (10000000 characters)" in error.message
    assert len(error.message) < FIELD_CHARS + 200 and error.hint is not None and len(error.hint) < DETAIL_CHARS + 50
    assert len(UsageError(detail=huge).message) < DETAIL_CHARS + 50
    assert error.fields["collection"] == huge  # the value itself is kept for code that needs it
