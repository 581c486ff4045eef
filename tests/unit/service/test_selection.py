import pytest

from milvus_backup.errors import UsageError
from milvus_backup.service.names import default_backup_name, validate_backup_name
from milvus_backup.service.selection import Selection, parse_selection


def test_seed_flags_and_filter():
    assert parse_selection() == Selection({}, everything=True)
    assert parse_selection(colls="c1,db1.c2").databases == {"default": ["c1"], "db1": ["c2"]}
    assert parse_selection(databases="db2").databases == {"db2": None}
    assert parse_selection(database_collections='{"db1":["c1"],"db2":[],"":["x"]}').databases == {
        "db1": ["c1"],
        "db2": None,
        "default": ["x"],
    }
    assert parse_selection(filter_="c1,db1.*,db2.,db3.c").databases == {
        "default": ["c1"],
        "db1": None,
        "db2": [],
        "db3": ["c"],
    }
    # upstream's precedence: --filter, then -a, then -c/-d
    assert parse_selection(colls="x", filter_="db1.*").databases == {"db1": None}
    assert parse_selection(colls="x", database_collections='{"d":[]}').databases == {"d": None}
    # a whole database wins over one of its collections
    assert parse_selection(colls="db2.c", databases="db2").databases == {"db2": None}


@pytest.mark.parametrize("bad", ['{"db1": ["c1"', '["c1"]', '{"db1": "c1"}', '{"db1": [1]}'])
def test_malformed_database_collections(bad):
    with pytest.raises(UsageError):
        parse_selection(database_collections=bad)


@pytest.mark.parametrize("name", ["a/b", "../x", "has space", "x" * 129, "1abc", "", "é"])
def test_invalid_names(name):
    with pytest.raises(UsageError):
        validate_backup_name(name)


def test_valid_and_default_names():
    assert validate_backup_name("_x1") == "_x1" and validate_backup_name("a" * 128)
    name = default_backup_name(1_795_000_000.123456789)
    assert name.startswith("backup_2026_") and validate_backup_name(name)
