"""Collections to measure: one of a chosen size in several segments, and one of many small segments."""

from __future__ import annotations

import numpy as np
from pymilvus import DataType, MilvusClient

BATCH = 10_000


def _schema(client: MilvusClient, dim: int):  # returns pymilvus's schema type
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("price", DataType.DOUBLE)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    return schema


def _rows(start: int, count: int, dim: int, rng: np.random.Generator) -> list[dict]:
    vectors = rng.random((count, dim), dtype=np.float32)
    return [
        {"id": start + i, "price": float(start + i) * 0.01, "tag": f"t{(start + i) % 97}", "vec": vectors[i]}
        for i in range(count)
    ]


def make_collection(uri: str, name: str, rows: int, dim: int, segments: int, index: bool = True) -> None:
    """`rows` rows in `segments` flushed segments, with an IVF_FLAT index (so it can be loaded and dumped)."""
    client = MilvusClient(uri)
    try:
        if client.has_collection(name):
            client.drop_collection(name)
        params = None
        if index:
            params = client.prepare_index_params()
            params.add_index("vec", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 128})
        client.create_collection(name, schema=_schema(client, dim), index_params=params)
        rng = np.random.default_rng(7)
        per_segment = -(-rows // segments)
        for first in range(0, rows, per_segment):
            count = min(per_segment, rows - first)
            for start in range(first, first + count, BATCH):
                client.insert(name, _rows(start, min(BATCH, first + count - start), dim, rng))
            client.flush(name)
    finally:
        client.close()


def make_many_segments(uri: str, name: str, segments: int, rows_per_segment: int = 10, dim: int = 8) -> None:
    """One small flushed segment per partition: a single flush seals them all."""
    client = MilvusClient(uri)
    try:
        if client.has_collection(name):
            client.drop_collection(name)
        client.create_collection(name, schema=_schema(client, dim))
        rng = np.random.default_rng(8)
        for i in range(segments):
            partition = f"p{i}"
            client.create_partition(name, partition)
            client.insert(name, _rows(i * rows_per_segment, rows_per_segment, dim, rng), partition_name=partition)
        client.flush(name)
    finally:
        client.close()


def add_rows(uri: str, name: str, start: int, count: int, dim: int) -> None:
    """`count` new rows (ids from `start`) into the collection, flushed: new segments beside the old ones."""
    client = MilvusClient(uri)
    try:
        rng = np.random.default_rng(9)
        for first in range(start, start + count, BATCH):
            client.insert(name, _rows(first, min(BATCH, start + count - first), dim, rng))
        client.flush(name)
    finally:
        client.close()
