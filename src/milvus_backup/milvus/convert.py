"""Milvus protobuf answers -> the backup meta model (upstream's backup.proto shapes)."""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import json_format
from pymilvus.grpc_gen import schema_pb2

from milvus_backup.meta.model import CollectionSchema, FieldSchema, FunctionSchema, IndexInfo, KeyValue


def key_values(pairs: Any) -> list[KeyValue]:
    return [KeyValue(p.key, p.value) for p in pairs]


def field_schema(proto: Any) -> FieldSchema:
    default = ""
    if proto.HasField("default_value"):
        # Upstream keeps the default as base64 of the marshalled schemapb.ValueField.
        default = base64.b64encode(proto.default_value.SerializeToString()).decode("ascii")
    return FieldSchema(
        field_id=proto.fieldID,
        name=proto.name,
        is_primary_key=proto.is_primary_key,
        description=proto.description,
        data_type=int(proto.data_type),
        type_params=key_values(proto.type_params),
        index_params=key_values(proto.index_params),
        auto_id=proto.autoID,
        state=int(proto.state),
        element_type=int(proto.element_type),
        is_dynamic=proto.is_dynamic,
        is_partition_key=proto.is_partition_key,
        nullable=getattr(proto, "nullable", False),
        is_function_output=getattr(proto, "is_function_output", False),
        default_value_base64=default,
    )


def function_schema(proto: Any) -> FunctionSchema:
    return FunctionSchema(
        name=proto.name,
        id=proto.id,
        description=proto.description,
        type=int(proto.type),
        input_field_names=list(proto.input_field_names),
        input_field_ids=list(proto.input_field_ids),
        output_field_names=list(proto.output_field_names),
        output_field_ids=list(proto.output_field_ids),
        params=key_values(proto.params),
    )


def collection_schema(proto: Any) -> CollectionSchema:
    return CollectionSchema(
        name=proto.name,
        description=proto.description,
        auto_id=proto.autoID or any(f.autoID for f in proto.fields if f.is_primary_key),
        fields=[field_schema(f) for f in proto.fields],
        enable_dynamic_field=proto.enable_dynamic_field,
        properties=key_values(proto.properties),
        functions=[function_schema(f) for f in proto.functions],
        # Milvus >= 2.6 struct fields, kept as the proto gives them, so a backup loses nothing of the schema.
        struct_array_fields=[
            json_format.MessageToDict(f, preserving_proto_field_name=True, use_integers_for_enums=True)
            for f in getattr(proto, "struct_array_fields", [])
        ],
    )


def index_info(proto: Any) -> IndexInfo:
    params = {p.key: p.value for p in proto.params}
    return IndexInfo(
        field_name=proto.field_name,
        index_name=proto.index_name,
        index_type=params.get("index_type", ""),
        params=params,
        index_id=proto.indexID,
    )


def schema_proto(schema: CollectionSchema, name: str) -> bytes:
    """The backed-up schema as CreateCollection wants it, fields in their original order so that field ids
    match the binlogs. `$meta` is left out: Milvus creates it from `enable_dynamic_field`."""
    proto = schema_pb2.CollectionSchema(
        name=name,
        description=schema.description,
        autoID=schema.auto_id,
        enable_dynamic_field=schema.enable_dynamic_field,
    )
    for kv in schema.properties:
        proto.properties.add(key=kv.key, value=kv.value)
    for f in schema.fields:
        if f.is_dynamic:
            continue
        field = proto.fields.add(
            name=f.name,
            description=f.description,
            data_type=f.data_type,
            is_primary_key=f.is_primary_key,
            autoID=f.auto_id,
            element_type=f.element_type,
            is_partition_key=f.is_partition_key,
            nullable=f.nullable,
            is_function_output=f.is_function_output,
        )
        for kv in f.type_params:
            field.type_params.add(key=kv.key, value=kv.value)
        for kv in f.index_params:
            field.index_params.add(key=kv.key, value=kv.value)
        if f.default_value_base64:
            field.default_value.CopyFrom(schema_pb2.ValueField.FromString(base64.b64decode(f.default_value_base64)))
    for fn in schema.functions:
        function = proto.functions.add(
            name=fn.name,
            description=fn.description,
            type=fn.type,
            input_field_names=fn.input_field_names,
            output_field_names=fn.output_field_names,
        )
        for kv in fn.params:
            function.params.add(key=kv.key, value=kv.value)
    return proto.SerializeToString()
