import pytest

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import CollectionBackupInfo, CollectionSchema, FieldSchema
from milvus_backup.service.compat import check_restorable, gc_pause_offer, has, parse_version


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


def test_versions_compare_by_patch_too():
    json_field = FieldSchema(field_id=101, name="js", data_type=23)
    check_restorable(collection(PK, json_field), "v2.2.16-lite")
    with pytest.raises(UnsupportedFormatError, match=r"field 'js' is a JSON, which needs Milvus >= 2\.2\.9"):
        check_restorable(collection(PK, json_field), "v2.2.8")


def test_an_array_field_is_refused_by_2_2_naming_the_field_and_the_version():
    array = FieldSchema(field_id=101, name="arr", data_type=22, element_type=5)
    with pytest.raises(UnsupportedFormatError, match=r"field 'arr' is a Array, which needs Milvus >= 2\.3\.0"):
        check_restorable(collection(PK, array), "v2.2.16-lite")
    check_restorable(collection(PK, array), "v2.3.0")


def test_partition_keys_and_dynamic_fields_need_2_2_9():
    key = FieldSchema(field_id=101, name="tenant", data_type=5, is_partition_key=True)
    dynamic = collection(PK)
    dynamic.schema.enable_dynamic_field = True
    with pytest.raises(UnsupportedFormatError, match=r"'tenant' is a partition key, which needs Milvus >= 2\.2\.9"):
        check_restorable(collection(PK, key), "2.2.8")
    with pytest.raises(UnsupportedFormatError, match=r"dynamic field, which needs Milvus >= 2\.2\.9"):
        check_restorable(dynamic, "2.2.8")
    check_restorable(collection(PK, key), "2.2.9")


def test_the_gc_pause_offer_follows_the_version():
    assert "offers no way to pause GC" in gc_pause_offer("v2.2.16") and "dropTolerance" in gc_pause_offer("v2.2.16")
    assert "milvus.dataCoord.address" in gc_pause_offer("v2.3.5")
    assert "milvus.management.endpoint" in gc_pause_offer("v2.4.1")
    assert not has("v2.2.16", "deletes written at flush") and has("v2.3.0", "deletes written at flush")
