"""The row-count proof of `create_backup` on the fakes: proven, unproven (and why), skipped, and a mismatch that
fails the create and leaves nothing that lists as complete."""

from __future__ import annotations

from typing import Any

import pytest

from milvus_backup.errors import RowProofError
from milvus_backup.meta.manifest import PROVEN, SKIPPED, UNPROVEN
from milvus_backup.service.catalog import list_backups, read_manifest
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BOOKS_ROWS, backup_keys


def test_a_loaded_collection_is_proven_and_an_unloaded_one_is_unproven_with_a_warning(
    resources: Resources, source: FakeMilvus
) -> None:
    result = create_backup(resources, CreateRequest(name="nightly"))

    books, movies = result.proofs["default.books"], result.proofs["db2.movies"]
    assert (books.state, books.backup_rows, books.count_before, books.count_after) == (
        PROVEN,
        BOOKS_ROWS,
        BOOKS_ROWS,
        BOOKS_ROWS,
    )
    assert movies.state == UNPROVEN and "not loaded" in movies.reason and movies.backup_rows is None
    assert [w for w in result.warnings if "row count" in w] == [f"db2.movies: row count not proven: {movies.reason}"]
    manifest = read_manifest(resources.backup, "nightly")
    assert manifest is not None
    assert {c.collection: c.proof for c in manifest.collections} == {"books": books, "movies": movies}
    assert source.calls["count_rows"] == 2  # books before and after; movies not at all


def test_rows_milvus_shows_but_the_binlogs_lack_fail_the_create_and_nothing_lists_as_complete(
    resources: Resources, source: FakeMilvus, backup_storage: MemoryStorage
) -> None:
    source.count_offset = -5  # five rows deleted whose deletes Milvus has not written to a delta log yet

    with pytest.raises(RowProofError) as caught:
        create_backup(resources, CreateRequest(name="nightly"))

    assert "default.books: its binlogs hold 245 live row(s), Milvus counts 240" in str(caught.value)
    assert caught.value.exit_code == 18 and "--no-proof" in (caught.value.hint or "")
    assert backup_keys(backup_storage, "nightly") == []
    assert [b.name for b in list_backups(resources.backup)] == []


def test_writes_during_the_backup_leave_it_unproven(resources: Resources, source: FakeMilvus) -> None:
    def write_during_flush(method: str, args: tuple[Any, ...]) -> None:
        if method == "flush":
            source.count_offset = 7

    source.on_call = write_during_flush
    result = create_backup(resources, CreateRequest(name="nightly"))

    books = result.proofs["default.books"]
    assert books.state == UNPROVEN and (books.count_before, books.count_after) == (BOOKS_ROWS, BOOKS_ROWS + 7)
    assert "rows changed during the backup" in books.reason
    assert any(w.startswith("default.books: row count not proven: rows changed") for w in result.warnings)


def test_no_proof_skips_every_count(resources: Resources, source: FakeMilvus) -> None:
    result = create_backup(resources, CreateRequest(name="nightly", proof=False))

    assert {p.state for p in result.proofs.values()} == {SKIPPED}
    assert source.calls["count_rows"] == 0 and not [w for w in result.warnings if "row count" in w]


@pytest.mark.parametrize(
    ("version", "strategy", "reason"),
    [("v2.2.16", "", "has no count(*)"), ("v2.3.5", "skip_flush", "not flushed (strategy skip_flush)")],
)
def test_without_a_count_milvus_can_trust_the_proof_is_unproven(
    resources: Resources, source: FakeMilvus, version: str, strategy: Any, reason: str
) -> None:
    source.version = version
    result = create_backup(resources, CreateRequest(name="nightly", strategy=strategy))

    assert all(p.state == UNPROVEN and reason in p.reason for p in result.proofs.values())
    assert source.calls["count_rows"] == 0
