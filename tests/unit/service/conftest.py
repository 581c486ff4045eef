"""The service on fakes: a `FakeMilvus` whose binlogs lie in a `MemoryStorage`, and a backup storage.

The source Milvus holds `default.books` (partitions `_default` with two segments of 100 rows and `p1` with one
segment of 50 rows, 5 of them deleted; an HNSW index on `vec`, an STL_SORT index on `id`, the alias `library`;
loaded) and `db2.movies` (one segment of 30 rows).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from milvus_backup.meta import layout
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.storage.base import Storage
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.fakes.rows import FakeRows

BACKUP_ROOT = "backup/"
#: Rows in the source: books 2 x 100 + (50 - 5 deleted), movies 30.
BOOKS_ROWS, MOVIES_ROWS = 245, 30


@pytest.fixture
def milvus_storage() -> MemoryStorage:
    return MemoryStorage("milvus-bucket")


@pytest.fixture
def backup_storage() -> MemoryStorage:
    return MemoryStorage("backup-bucket")


def fill_source(fake: FakeMilvus) -> FakeMilvus:
    fake.add_collection(
        "default",
        "books",
        partitions=("p1",),
        indexes=(("vec", "HNSW"), ("id", "STL_SORT")),
        aliases=("library",),
        loaded=True,
    )
    fake.insert("default", "books", "_default", rows=100, segments=2)
    fake.insert("default", "books", "p1", rows=50, deletes=5)
    fake.add_collection("db2", "movies")
    fake.insert("db2", "movies", rows=30)
    fake.calls.clear()
    return fake


@pytest.fixture
def source(milvus_storage: MemoryStorage) -> FakeMilvus:
    return fill_source(FakeMilvus(milvus_storage))


@pytest.fixture
def resources(source: FakeMilvus, backup_storage: MemoryStorage) -> Resources:
    return Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(), source.side(), rows=FakeRows)


@pytest.fixture
def make_backup(resources: Resources) -> Callable[[str], str]:
    """Creates a backup of everything in the source under `name`."""

    def make(name: str = "nightly") -> str:
        return create_backup(resources, CreateRequest(name=name)).name

    return make


def keys_under(storage: Storage, prefix: str) -> list[str]:
    """Every key below `prefix`, read through the storage's own listing."""
    return [info.key for info in storage.list(prefix)]


def backup_keys(storage: Storage, name: str) -> list[str]:
    return keys_under(storage, layout.backup_dir(BACKUP_ROOT, name))
