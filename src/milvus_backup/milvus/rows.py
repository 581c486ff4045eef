"""Rows -> Insert's column protos (`schemapb.FieldData`), one field at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymilvus.grpc_gen import schema_pb2

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import CollectionSchema, FieldSchema

BOOL, INT8, INT16, INT32, INT64, FLOAT, DOUBLE, STRING, VARCHAR, ARRAY, JSON = 1, 2, 3, 4, 5, 10, 11, 20, 21, 22, 23
BINARY_VECTOR, FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR = 100, 101, 102, 103
DYNAMIC_FIELD = "$meta"


def _json_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def _scalars(data_type: int, values: Sequence[Any], element_type: int = 0) -> schema_pb2.ScalarField:
    scalars = schema_pb2.ScalarField()
    if data_type == BOOL:
        scalars.bool_data.data.extend(values)
    elif data_type in (INT8, INT16, INT32):
        scalars.int_data.data.extend(values)
    elif data_type == INT64:
        scalars.long_data.data.extend(values)
    elif data_type == FLOAT:
        scalars.float_data.data.extend(values)
    elif data_type == DOUBLE:
        scalars.double_data.data.extend(values)
    elif data_type in (STRING, VARCHAR):
        scalars.string_data.data.extend(values)
    elif data_type == JSON:
        scalars.json_data.data.extend(_json_bytes(v) for v in values)
    elif data_type == ARRAY:
        scalars.array_data.element_type = element_type
        for value in values:
            scalars.array_data.data.append(_scalars(element_type, value))
    else:
        raise UnsupportedFormatError(detail=f"data type {data_type} cannot be inserted by this tool")
    return scalars


def _packed(values: Sequence[Any], as_numbers: Any) -> bytes:
    """A vector column as one byte string: a numeric array through `as_numbers`, or one bytes value per row."""
    if isinstance(values, np.ndarray):
        return bytes(as_numbers(values).tobytes())
    return b"".join(bytes(v) for v in values)


def _bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 (its upper 16 bits; what Milvus stores)."""
    return (np.ascontiguousarray(values, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _vectors(f: FieldSchema, values: Sequence[Any]) -> schema_pb2.VectorField:
    """One vector per row: a sequence of numbers each, or a 2-D numpy array (float32 for float, float16 and
    bfloat16 vectors, uint8 for binary ones); bytes per row for binary and 16-bit vectors."""
    dim = int(f.type_param("dim") or 0)
    vectors = schema_pb2.VectorField(dim=dim)
    if f.data_type == FLOAT_VECTOR:
        vectors.float_vector.data.extend(np.asarray(values, dtype=np.float32).ravel().tolist())
    elif f.data_type == BINARY_VECTOR:
        vectors.binary_vector = _packed(values, lambda a: a.astype(np.uint8))
    elif f.data_type == FLOAT16_VECTOR:
        vectors.float16_vector = _packed(values, lambda a: a.astype(np.float16))
    elif f.data_type == BFLOAT16_VECTOR:
        vectors.bfloat16_vector = _packed(values, _bfloat16)
    else:
        raise UnsupportedFormatError(detail=f"vector type {f.data_type} of field {f.name} cannot be inserted")
    return vectors


def field_data(f: FieldSchema, values: Sequence[Any]) -> schema_pb2.FieldData:
    data = schema_pb2.FieldData(type=f.data_type, field_name=f.name, field_id=f.field_id, is_dynamic=f.is_dynamic)
    if f.data_type >= BINARY_VECTOR:
        data.vectors.CopyFrom(_vectors(f, values))
    else:
        data.scalars.CopyFrom(_scalars(f.data_type, values, f.element_type))
    return data


def fields_data(schema: CollectionSchema, columns: dict[str, Sequence[Any]]) -> list[schema_pb2.FieldData]:
    """Every field of `schema` that the rows hold, and the dynamic field when the schema has one."""
    out = [field_data(f, columns[f.name]) for f in schema.fields if not f.is_dynamic and f.name in columns]
    missing = [f.name for f in schema.fields if not f.is_dynamic and f.name not in columns and not f.nullable]
    if missing:
        raise UnsupportedFormatError(detail=f"the rows lack the field(s) {', '.join(missing)} of the schema")
    if schema.enable_dynamic_field and DYNAMIC_FIELD in columns:
        out.append(field_data(FieldSchema(name=DYNAMIC_FIELD, data_type=JSON, is_dynamic=True), columns[DYNAMIC_FIELD]))
    return out
