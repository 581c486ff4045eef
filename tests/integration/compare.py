"""Comparing a restored collection with its original, row by row, through real queries."""

from __future__ import annotations

import random
from typing import Any

from pymilvus import DataType, MilvusClient

from tests.integration.dataset import DIM


def rows_by_pk(client: MilvusClient, collection: str, pk: str, partition: str | None = None) -> dict[Any, dict]:
    kwargs: dict[str, Any] = {"partition_names": [partition]} if partition else {}
    # "*" is every field on Milvus 2.3, but the scalars only on 2.2: name the vectors too.
    fields = client.describe_collection(collection)["fields"]
    vectors = [f["name"] for f in fields if f["type"] in (DataType.FLOAT_VECTOR, DataType.BINARY_VECTOR)]
    rows = client.query(
        collection,
        filter=f"{pk} != ''" if pk == "pk" else f"{pk} >= 0",
        output_fields=["*", *vectors],
        limit=16384,
        consistency_level="Strong",
        **kwargs,
    )
    return {row[pk]: row for row in rows}


def _normalised(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            value = b"".join(value)
        if hasattr(value, "tolist"):
            value = value.tolist()
        out[key] = value
    return out


def assert_same_rows(
    source: MilvusClient, target: MilvusClient, src: str, dst: str, pk: str, partitions: list[str] | None = None
) -> int:
    """Every row of `src` is in `dst` with identical vectors, scalars and dynamic fields, and nothing else is."""
    for partition in partitions or [None]:  # type: ignore[list-item]
        original = rows_by_pk(source, src, pk, partition)
        restored = rows_by_pk(target, dst, pk, partition)
        assert set(restored) == set(original), (
            f"{dst}{'/' + partition if partition else ''}: {len(set(original) - set(restored))} missing, "
            f"{len(set(restored) - set(original))} extra"
        )
        for key, row in original.items():
            assert _normalised(restored[key]) == _normalised(row), (key, restored[key], row)
    return len(rows_by_pk(target, dst, pk))


def assert_same_search(
    source: MilvusClient,
    target: MilvusClient,
    src: str,
    dst: str,
    field: str = "vec",
    metric: str = "L2",
    dim: int = DIM,
) -> None:
    rng = random.Random(5)
    queries = [[rng.random() for _ in range(dim)] for _ in range(5)]
    params = {"metric_type": metric, "params": {"ef": 64}}
    want = source.search(src, queries, limit=10, anns_field=field, search_params=params, consistency_level="Strong")
    got = target.search(dst, queries, limit=10, anns_field=field, search_params=params, consistency_level="Strong")
    assert [[hit["id"] for hit in hits] for hits in got] == [[hit["id"] for hit in hits] for hits in want]
