"""A schema of the newer field types (float16, bfloat16, sparse and int8 vectors), nullable and default values and
a BM25 function, as DescribeCollection gives it, through our meta JSON and back into a CreateCollection schema:
nothing is lost, and the defaults are stored as upstream stores them."""

from __future__ import annotations

from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus_backup.meta import codec
from milvus_backup.meta.model import CollectionSchema
from milvus_backup.milvus import convert

T = schema_pb2.DataType


def _described() -> schema_pb2.CollectionSchema:
    def kv(**pairs: str) -> list[common_pb2.KeyValuePair]:
        return [common_pb2.KeyValuePair(key=k, value=v) for k, v in pairs.items()]

    fields = [
        schema_pb2.FieldSchema(fieldID=100, name="id", data_type=T.Int64, is_primary_key=True),
        schema_pb2.FieldSchema(
            fieldID=101, name="text", data_type=T.VarChar, type_params=kv(max_length="1000", enable_analyzer="true")
        ),
        schema_pb2.FieldSchema(fieldID=102, name="sparse", data_type=T.SparseFloatVector, is_function_output=True),
        schema_pb2.FieldSchema(fieldID=103, name="f16", data_type=T.Float16Vector, type_params=kv(dim="8")),
        schema_pb2.FieldSchema(fieldID=104, name="bf16", data_type=T.BFloat16Vector, type_params=kv(dim="8")),
        schema_pb2.FieldSchema(fieldID=105, name="i8", data_type=T.Int8Vector, type_params=kv(dim="8")),
        schema_pb2.FieldSchema(
            fieldID=106,
            name="price",
            data_type=T.Float,
            nullable=True,
            default_value=schema_pb2.ValueField(float_data=5.0),
        ),
        schema_pb2.FieldSchema(
            fieldID=107,
            name="tags",
            data_type=T.Array,
            element_type=T.VarChar,
            nullable=True,
            type_params=kv(max_capacity="4", max_length="16"),
        ),
        schema_pb2.FieldSchema(
            fieldID=108, name="count", data_type=T.Int64, default_value=schema_pb2.ValueField(long_data=7)
        ),
        schema_pb2.FieldSchema(fieldID=109, name="color", data_type=T.VarChar, is_partition_key=True),
    ]
    bm25 = schema_pb2.FunctionSchema(
        name="text_bm25",
        id=100,
        type=schema_pb2.FunctionType.BM25,
        input_field_names=["text"],
        input_field_ids=[101],
        output_field_names=["sparse"],
        output_field_ids=[102],
    )
    return schema_pb2.CollectionSchema(
        name="docs",
        description="newer types",
        fields=fields,
        functions=[bm25],
        enable_dynamic_field=True,
        properties=kv(**{"collection.ttl.seconds": "3600"}),
    )


def test_newer_types_defaults_and_functions_survive_the_meta_and_the_create_request() -> None:
    described = _described()
    meta = convert.collection_schema(described)
    stored = codec.loads(CollectionSchema, codec.dumps(meta))
    assert stored == meta
    by_name = {f.name: f for f in stored.fields}
    # upstream's encoding of the defaults (base64 of the marshalled ValueField): float 5.0, int64 7
    assert by_name["price"].default_value_base64 == "JQAAoEA=" and by_name["count"].default_value_base64 == "GAc="
    assert [f.data_type for f in stored.fields][2:6] == [104, 102, 103, 105]

    created = schema_pb2.CollectionSchema.FromString(convert.schema_proto(stored, "docs_restored"))
    expected = schema_pb2.CollectionSchema()
    expected.CopyFrom(described)
    expected.name = "docs_restored"
    for field in expected.fields:
        field.fieldID = 0  # Milvus numbers the fields of a new collection itself
    for function in expected.functions:
        function.id = 0
        del function.input_field_ids[:]
        del function.output_field_ids[:]
    assert created == expected


def test_struct_fields_are_kept_in_the_meta() -> None:
    described = _described()
    struct = described.struct_array_fields.add(fieldID=110, name="chunks")
    struct.fields.add(fieldID=111, name="chunk_text", data_type=T.Array, element_type=T.VarChar)
    meta = codec.loads(CollectionSchema, codec.dumps(convert.collection_schema(described)))
    (kept,) = meta.struct_array_fields
    assert kept["name"] == "chunks" and kept["fields"][0]["element_type"] == T.VarChar
