"""The base class hands out every listing in key order, whatever order the service's pages come in."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from milvus_backup.errors import StorageError
from milvus_backup.storage.base import ObjectInfo
from tests.fakes.memory_storage import MemoryStorage

KEYS = ["a/b-1", "a/b/x", "a/b/y", "a/bc", "b", "c/d/e"]


def filled(**options: object) -> MemoryStorage:
    storage = MemoryStorage("orders", **options)  # type: ignore[arg-type]
    for key in KEYS:
        storage.put(key, key.encode())
    return storage


def keys_of(infos: Iterator[ObjectInfo]) -> list[str]:
    return [info.key for info in infos]


class PageCounter:
    """A `fail_on` hook that fails nothing and counts the listing pages handed out."""

    def __init__(self) -> None:
        self.pages = 0

    def __call__(self, op: str, key: str) -> Exception | None:
        if op == "list_page":
            self.pages += 1
        return None


def test_an_ordered_service_is_streamed_page_by_page() -> None:
    counter = PageCounter()
    storage = filled(page_size=2, fail_on=counter)
    listing = storage.list("")
    assert next(listing).key == "a/b-1"
    assert counter.pages == 1  # the rest of the listing has not been asked for
    assert [info.key for info in listing] == KEYS[1:]
    assert counter.pages == 3
    assert storage._lists_out_of_order is False


def test_a_first_page_out_of_order_is_read_whole_and_sorted(caplog: pytest.LogCaptureFixture) -> None:
    counter = PageCounter()
    storage = filled(page_size=2, unordered=True, fail_on=counter)
    with caplog.at_level(logging.INFO, logger="milvus_backup.storage.base"):
        listing = storage.list("")
        assert next(listing).key == "a/b-1"
        assert counter.pages == 3  # read whole before the first object was handed out
        assert keys_of(listing) == KEYS[1:]
        assert keys_of(storage.list("a/")) == [k for k in KEYS if k.startswith("a/")]
    [line] = [r for r in caplog.records if "out of key order" in r.getMessage()]
    assert line.levelno == logging.INFO and "mem://orders" in line.getMessage()
    assert storage._lists_out_of_order is True


def test_a_later_page_out_of_order_fails_the_listing_and_the_next_one_is_sorted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One key a page, descending: the first page is in order on its own, the second breaks it.
    storage = filled(page_size=1, unordered=True)
    with caplog.at_level(logging.INFO, logger="milvus_backup.storage.base"):
        listing = storage.list("")
        assert next(listing).key == "c/d/e"
        with pytest.raises(StorageError, match="came back out of key order") as info:
            next(listing)
        assert "'b' after 'c/d/e'" in str(info.value)
        assert keys_of(storage.list("")) == KEYS  # remembered: read whole and sorted
        assert keys_of(storage.list("")) == KEYS
    assert len([r for r in caplog.records if "out of key order" in r.getMessage()]) == 1


def test_the_order_is_remembered_per_storage() -> None:
    unordered = filled(page_size=2, unordered=True)
    assert keys_of(unordered.list("")) == KEYS
    counter = PageCounter()
    ordered = filled(page_size=2, fail_on=counter)
    next(ordered.list(""))
    assert counter.pages == 1 and ordered._lists_out_of_order is False


def test_single_objects_and_empty_listings() -> None:
    storage = filled(page_size=1, unordered=True)
    assert keys_of(storage.list("b")) == ["b"]
    assert keys_of(storage.list("nothing/")) == []
    assert storage._lists_out_of_order is False  # nothing was ever out of order


class EmptyPages(MemoryStorage):
    """A service that sends empty pages between (and before) the full ones, as S3 may for an empty prefix."""

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        yield []
        for page in super()._list(prefix):
            yield page
            yield []


def test_empty_pages_break_no_order() -> None:
    storage = EmptyPages("gaps", page_size=2)
    for key in KEYS:
        storage.put(key, b".")
    assert keys_of(storage.list("")) == KEYS
    assert storage._lists_out_of_order is False
    storage.unordered = True
    storage.page_size = 1
    listing = storage.list("")
    assert next(listing).key == "c/d/e"
    with pytest.raises(StorageError, match="out of key order"):
        list(listing)


def test_deleting_a_prefix_needs_no_order() -> None:
    storage = filled(page_size=1, unordered=True)
    assert storage.delete_prefix("a/") == 4
    assert storage.keys() == ["b", "c/d/e"]
    assert storage._lists_out_of_order is False


def test_the_prefix_is_checked_before_the_listing_is_iterated() -> None:
    from milvus_backup.errors import InvalidKeyError

    with pytest.raises(InvalidKeyError):
        MemoryStorage().list("../")
