"""An unknown database or collection names the closest existing ones in the error's hint."""

from __future__ import annotations

import pytest

from milvus_backup.errors import CollectionNotFoundError, DatabaseNotFoundError
from milvus_backup.service.create import CreateRequest, closest_names_hint, create_backup
from milvus_backup.service.selection import parse_selection


def test_a_mistyped_collection_names_the_closest(resources, source):
    source.add_collection("default", "products")
    source.add_collection("default", "product_images")
    with pytest.raises(CollectionNotFoundError) as info:
        create_backup(resources, CreateRequest(name="b1", selection=parse_selection("prodcts")))
    assert (
        str(info.value) == "Collection 'prodcts' does not exist in database 'default' of Milvus at fake-milvus:19530."
    )
    assert info.value.hint == "The closest existing collections in database 'default': 'products', 'product_images'."
    assert source.calls["flush"] == 0  # refused before anything was done


def test_a_mistyped_database_names_the_closest(resources):
    with pytest.raises(DatabaseNotFoundError) as info:
        create_backup(resources, CreateRequest(name="b1", selection=parse_selection("", "db3")))
    assert info.value.hint == "The closest existing databases: 'db2'."
    with pytest.raises(DatabaseNotFoundError) as info:
        create_backup(resources, CreateRequest(name="b1", selection=parse_selection("Db2.movies")))
    assert info.value.hint == "The closest existing databases: 'db2'."


def test_without_a_close_name_the_existing_ones_are_listed():
    assert closest_names_hint("zzz", ["books", "movies"], "collections in database 'default'") == (
        "No similar name; the existing collections in database 'default': 'books', 'movies'."
    )
    many = [f"c{i:02d}" for i in range(12)]
    assert closest_names_hint("zzz", many, "collections").endswith("'c09' and 2 more.")
    assert closest_names_hint("zzz", [], "collections in database 'db2'") == (
        "There are no collections in database 'db2'."
    )
