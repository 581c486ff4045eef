import pytest

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import CollectionBackupInfo, CollectionSchema, FieldSchema
from milvus_backup.service.compat import check_restorable, parse_version


def collection(*fields: FieldSchema) -> CollectionBackupInfo:
    return CollectionBackupInfo(collection_name="c", schema=CollectionSchema(name="c", fields=list(fields)))


PK = FieldSchema(field_id=100, name="pk", is_primary_key=True, data_type=5)


def test_versions_are_read_leniently():
    assert parse_version("v2.3.5-lite") == (2, 3, 5)
    assert parse_version("2.6") == (2, 6, 0)
    assert parse_version("master-dev") == (99, 0, 0)


def test_a_2_3_backup_restores_into_2_3():
    check_restorable(collection(PK, FieldSchema(field_id=101, name="v", data_type=101)), "v2.3.5")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ((FieldSchema(field_id=101, name="h", data_type=102),), "Float16Vector, which needs Milvus >= 2.4"),
        (
            (FieldSchema(field_id=101, name="a", data_type=101), FieldSchema(field_id=102, name="b", data_type=100)),
            "2 vector fields; Milvus before 2.4 allows one",
        ),
        ((FieldSchema(field_id=101, name="n", data_type=10, nullable=True),), "nullable or has a default value"),
        ((FieldSchema(field_id=101, name="x", data_type=77),), "data type 77, unknown to this tool"),
    ],
)
def test_what_2_3_cannot_hold_is_refused_with_the_reason(fields, reason):
    with pytest.raises(UnsupportedFormatError, match=reason):
        check_restorable(collection(PK, *fields), "v2.3.5-lite")
    if "unknown" not in reason:
        check_restorable(collection(PK, *fields), "v2.6.3")
