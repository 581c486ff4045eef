"""copy_object's modes and error handling, on local directories (the contract suite covers the services)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from milvus_backup.errors import CopyFailedError, InvalidKeyError, ObjectNotFoundError
from milvus_backup.storage.base import Storage
from milvus_backup.storage.local import LocalStorage
from milvus_backup.storage.transfer import copy_object


class OtherService(LocalStorage):
    """A directory that stands for a different service: no server-side copy to or from it."""

    kind = "other"

    def can_copy_from(self, source: Storage) -> bool:
        return False


class Failing(OtherService):
    def put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        raise RuntimeError("disk on fire")


def make(tmp_path: Path, name: str, cls: type[LocalStorage] = LocalStorage) -> LocalStorage:
    root = tmp_path / name
    root.mkdir()
    return cls(root)


def test_auto_is_server_side_when_possible(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    src.put("k", b"data")
    assert copy_object(src, "k", dst, "x/k", 4).server_side is True
    assert copy_object(src, "k", dst, "x/direct", 4, mode="direct").server_side is True
    assert copy_object(src, "k", dst, "x/streamed", 4, mode="streaming").server_side is False
    assert [dst.get(k) for k in ("x/k", "x/direct", "x/streamed")] == [b"data"] * 3


def test_auto_streams_between_different_services(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", OtherService)
    src.put("k", b"data")
    assert copy_object(src, "k", dst, "k", 4).server_side is False
    assert dst.get("k") == b"data"


def test_direct_refuses_storages_that_cannot_copy(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", OtherService)
    src.put("k", b"data")
    with pytest.raises(CopyFailedError) as info:
        copy_object(src, "k", dst, "k2", 4, mode="direct")
    assert "k2" in str(info.value) and "/k" in str(info.value)
    assert info.value.hint and "auto" in info.value.hint
    assert not dst.exists("k2")


def test_unclassified_failures_become_copy_failed_naming_both_keys(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b", Failing)
    src.put("src-key", b"data")
    with pytest.raises(CopyFailedError) as info:
        copy_object(src, "src-key", dst, "dst-key", 4)
    assert "src-key" in str(info.value) and "dst-key" in str(info.value) and "disk on fire" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_precise_errors_pass_through(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "missing", dst, "k", 1)
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "missing", dst, "k", 1, mode="streaming")
    with pytest.raises(InvalidKeyError):
        copy_object(src, "../escape", dst, "k", 1)


def test_unknown_mode(tmp_path: Path) -> None:
    src, dst = make(tmp_path, "a"), make(tmp_path, "b")
    src.put("k", b"d")
    with pytest.raises(CopyFailedError):
        copy_object(src, "k", dst, "k", 1, mode="sideways")  # type: ignore[arg-type]
