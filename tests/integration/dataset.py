"""The fixture set the backup and restore tests use, built in a real Milvus 2.3.5 (or 2.2.16).

default.c1  int64 pk, every scalar type Milvus 2.3 has (2.2: no Array), float vector + HNSW, dynamic field,
            partitions p1 and p2, three flushed segments, deletes and upserts after the flushes (2.2, which has
            no Upsert: deletes and inserts)
default.c2  varchar pk, binary vector + BIN_IVF_FLAT, a partition key (4 partitions)
db1.c1      auto_id int64 pk, float vector
db1.c3      int64 pk, float vector, no index
db2.c4      int64 pk, float vector
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pymilvus import DataType, MilvusClient

DIM = 8
BIN_DIM = 16
C1_BATCH = 400


@dataclass
class Expected:
    """What the tests compare a backup (and later a restore) against."""

    live_ids: dict[str, set[Any]] = field(default_factory=dict)
    deleted_ids: dict[str, set[Any]] = field(default_factory=dict)
    upserted: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)


def _vec(rng: random.Random, dim: int = DIM) -> list[float]:
    return [rng.random() for _ in range(dim)]


def _c1_row(rng: random.Random, i: int, tag: str = "", arrays: bool = True) -> dict[str, Any]:
    row = {
        "id": i,
        "b": i % 2 == 0,
        "i8": i % 100,
        "i16": i % 30000,
        "i32": i * 3,
        "i64": i * 1_000_003,
        "f": i * 0.5,
        "d": i * 0.25,
        "s": f"row {i}{tag}",
        "js": {"i": i, "tag": tag},
        "arr": [i, i + 1, i + 2],
        "vec": _vec(rng),
        "extra_dynamic": f"dyn {i}{tag}",
    }
    if not arrays:
        del row["arr"]
    return row


def build_c1(client: MilvusClient, expected: Expected, arrays: bool = True) -> None:
    rng = random.Random(11)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True, description="every 2.3 type")
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("b", DataType.BOOL)
    schema.add_field("i8", DataType.INT8)
    schema.add_field("i16", DataType.INT16)
    schema.add_field("i32", DataType.INT32)
    schema.add_field("i64", DataType.INT64)
    schema.add_field("f", DataType.FLOAT)
    schema.add_field("d", DataType.DOUBLE)
    schema.add_field("s", DataType.VARCHAR, max_length=64)
    schema.add_field("js", DataType.JSON)
    if arrays:
        schema.add_field("arr", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    client.create_collection("c1", schema=schema, index_params=index, consistency_level="Strong")
    client.create_partition("c1", "p1")
    client.create_partition("c1", "p2")
    ids: set[int] = set()
    for batch, partition in enumerate(["_default", "p1", "p2"]):
        rows = [_c1_row(rng, i, arrays=arrays) for i in range(batch * C1_BATCH, (batch + 1) * C1_BATCH)]
        client.insert("c1", rows, partition_name=partition)
        client.flush("c1")  # one sealed segment per batch
        ids.update(r["id"] for r in rows)
    deleted = {3, 5, 401, 802, 1199}
    client.delete("c1", ids=list(deleted))
    upserted = {7: _c1_row(rng, 7, " upserted", arrays), 11: _c1_row(rng, 11, " upserted", arrays)}
    if arrays:
        client.upsert("c1", list(upserted.values()))
    else:  # Milvus 2.2 has no Upsert
        client.delete("c1", ids=list(upserted))
        client.insert("c1", list(upserted.values()))
    client.flush("c1")
    client.create_alias("c1", "c1_alias")
    expected.live_ids["default.c1"] = ids - deleted
    expected.deleted_ids["default.c1"] = deleted
    expected.upserted["default.c1"] = upserted


def build_c2(client: MilvusClient, expected: Expected) -> None:
    rng = random.Random(12)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("tenant", DataType.INT64, is_partition_key=True)
    schema.add_field("bvec", DataType.BINARY_VECTOR, dim=BIN_DIM)
    index = client.prepare_index_params()
    index.add_index("bvec", index_type="BIN_IVF_FLAT", metric_type="HAMMING", params={"nlist": 16})
    client.create_collection("c2", schema=schema, index_params=index, num_partitions=4)
    rows = [
        {"pk": f"key-{i}", "tenant": i % 7, "bvec": bytes(rng.getrandbits(8) for _ in range(BIN_DIM // 8))}
        for i in range(600)
    ]
    client.insert("c2", rows)
    client.flush("c2")
    client.delete("c2", ids=["key-1", "key-2"])
    client.flush("c2")
    expected.live_ids["default.c2"] = {r["pk"] for r in rows} - {"key-1", "key-2"}
    expected.deleted_ids["default.c2"] = {"key-1", "key-2"}


def build_simple(
    client: MilvusClient,
    name: str,
    expected: Expected,
    db: str,
    *,
    auto_id: bool = False,
    index: bool = True,
    rows: int = 300,
) -> None:
    rng = random.Random(hash(name) % 1000)
    schema = client.create_schema(auto_id=auto_id, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True, auto_id=auto_id)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    params = None
    if index:
        params = client.prepare_index_params()
        params.add_index("vec", index_type="IVF_FLAT", metric_type="IP", params={"nlist": 8})
    client.create_collection(name, schema=schema, index_params=params)
    data = [{"vec": _vec(rng)} if auto_id else {"id": i, "vec": _vec(rng)} for i in range(rows)]
    result = client.insert(name, data)
    client.flush(name)
    expected.live_ids[f"{db}.{name}"] = set(result["ids"])


def build_dataset(uri: str, arrays: bool = True) -> Expected:
    """`arrays=False` for Milvus 2.2, which has no Array fields (nor Upsert). The collections are built at once,
    each with a client of its own: their flushes wait on Milvus, not on each other."""
    expected = Expected()
    client = MilvusClient(uri=uri)
    try:
        for db in ("db1", "db2"):
            client.create_database(db)
    finally:
        client.close()

    def build(db: str, make: Callable[[MilvusClient], None]) -> None:
        own = MilvusClient(uri=uri, db_name=db)
        try:
            make(own)
        finally:
            own.close()

    builds: list[tuple[str, Callable[[MilvusClient], None]]] = [
        ("default", lambda c: build_c1(c, expected, arrays)),
        ("default", lambda c: build_c2(c, expected)),
        ("db1", lambda c: build_simple(c, "c1", expected, "db1", auto_id=True)),
        ("db1", lambda c: build_simple(c, "c3", expected, "db1", index=False)),
        ("db2", lambda c: build_simple(c, "c4", expected, "db2")),
    ]
    with ThreadPoolExecutor(len(builds)) as pool:
        for done in [pool.submit(build, db, make) for db, make in builds]:
            done.result()
    return expected
