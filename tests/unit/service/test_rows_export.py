"""Live rows, inspect and export on backups written here (the real Milvus files: tests/integration/test_reader.py)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from milvus_backup.errors import CollectionNotInBackupError, StorageError
from milvus_backup.meta.binlog import DataType
from milvus_backup.service import rows as live
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.export import ExportRequest, export_backup
from milvus_backup.service.inspect import inspect_backup
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.storage.export_dir import ExportDirectory, ExportObjects
from tests.fakes.binlogs import FakeSegment, field_schema, write_backup
from tests.fakes.memory_storage import MemoryStorage

ROOT = "backup/"
FIELDS = [
    field_schema(100, "id", DataType.INT64, pk=True),
    field_schema(101, "vec", DataType.FLOAT_VECTOR, dim=2),
]


def segment(segment_id: int, ids: list[int], ts: int, deletes=(), files: int = 1) -> FakeSegment:
    vectors = np.array([[i, -i] for i in ids], dtype="<f4")
    columns = {
        100: pa.array(ids, pa.int64()),
        101: pa.array([v.tobytes() for v in vectors], pa.binary(8)),
        102: pa.array([json.dumps({"n": i}).encode() for i in ids], pa.binary()),  # the dynamic field
    }
    return FakeSegment(segment_id, columns, [ts] * len(ids), list(deletes), files)


@pytest.fixture
def target() -> StorageLocation:
    storage = MemoryStorage("backups")
    write_backup(
        storage,
        ROOT,
        "b",
        FIELDS,
        {
            # segment 1: ids 0-9 at ts 10; segment 2 re-inserts 3 and 4 (an upsert at ts 20, whose delete of 3
            # landed in segment 2's delta log only) and deletes 5 at 30 from segment 2's delta log; segment 3's
            # delete of 0 at 5 came before the insert and removes nothing
            "_default": [
                segment(1, list(range(10)), 10, files=3),
                segment(2, [3, 4], 20, deletes=[(3, 20), (4, 20), (5, 30)]),
                segment(3, [20], 25, deletes=[(0, 5)]),
            ],
            # another partition's rows are not touched by these deletes
            "p1": [segment(4, [5, 6], 10)],
        },
        dynamic=True,
    )
    return StorageLocation(storage, ROOT)


def live_rows(target: StorageLocation, **kwargs) -> list[dict]:
    info = read_backup(target, "b")
    [coll] = info.collection_backups
    return list(live.iter_live_rows(target, "b", coll, **kwargs))


def test_deletes_apply_across_segments_of_a_partition_only(target):
    rows = live_rows(target)
    keys = [(r["id"], r["n"]) for r in rows]
    assert sorted(keys) == sorted([(i, i) for i in (0, 1, 2, 6, 7, 8, 9)] + [(3, 3), (4, 4), (20, 20), (5, 5), (6, 6)])
    assert len(keys) == 12
    by_id = {r["id"]: r for r in rows if r["id"] == 3}
    assert by_id[3]["vec"] == [3.0, -3.0]


def test_as_of_leaves_out_later_rows_and_deletes(target):
    ids = sorted(r["id"] for r in live_rows(target, as_of=15))
    assert ids == sorted([*range(10), 5, 6])


def test_counts(target):
    info = read_backup(target, "b")
    [coll] = info.collection_backups
    default, p1 = coll.partition_backups
    counts = live.count_live_rows(target, "b", coll, default)
    assert (counts.inserted, counts.deleted, counts.live, counts.delete_records) == (13, 3, 10, 4)
    # live rows whose key a delete names: the upserted 3 and 4, and 0 (its delete came before its insert)
    assert counts.reinserted == 3
    assert (
        live.count_live_rows(target, "b", coll, p1).live,
        live.count_live_rows(target, "b", coll, p1).reinserted,
    ) == (2, 0)


def test_fields_are_chosen_by_name_and_unknown_collections_fail(target):
    info = read_backup(target, "b")
    [coll] = live.find_collections("b", info.collection_backups, "default.c")
    batches = list(live.iter_live_batches(target, "b", coll, fields=["vec"]))
    assert all(b.batch.schema.names == ["vec"] for b in batches)
    assert sum(b.batch.num_rows for b in batches) == 12
    with pytest.raises(CollectionNotInBackupError, match="'nope'"):
        live.find_collections("b", info.collection_backups, "nope")


def test_inspect(target):
    with Run() as run:
        report = inspect_backup(target, "b", run, sample_rows=2)
    [coll] = report.collections
    assert coll.collection == "default.c"
    assert [f.name for f in coll.fields] == ["id", "vec", "$meta"]
    assert [(p.name, p.segments, p.rows.live) for p in coll.partitions] == [("_default", 3, 10), ("p1", 1, 2)]
    assert coll.rows.live == 12 and coll.segments == 4
    assert len(coll.sample_rows) == 2 and json.dumps(coll.sample_rows)


def read_parquet(out, rel: str) -> pa.Table:
    return pq.read_table(out / rel)


def test_export_parquet_and_resume(target, tmp_path):
    out = tmp_path / "out"
    request = ExportRequest("b", "parquet", max_file_bytes=64)  # a few rows per file
    with Run() as run:
        result = export_backup(target, request, ExportDirectory(out), run)
    assert result.rows == 12
    files = [f for f in result.files if f.partition == "_default"]
    assert len(files) > 1 and all(not f.kept for f in result.files)
    table = pa.concat_tables([read_parquet(out, f.path) for f in files])
    assert table.schema.field("vec").type == pa.list_(pa.float32(), 2)
    assert table.schema.field("$meta").type == pa.string()
    assert sorted(table.column("id").to_pylist()) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 20]
    assert json.loads((out / "default/c/schema.json").read_text())["fields"][0]["name"] == "id"

    # cut off: the partition's marker and its last part are gone, a temporary file is left behind
    (out / "default/c/_default/_complete.json").unlink()
    last = files[-1].path
    (out / last).rename(out / f"{last}.tmp-dead")
    with Run() as run:
        again = export_backup(target, request, ExportDirectory(out), run)
    assert again.rows == 12
    assert [f.kept for f in again.files if f.partition == "_default"] == [True] * (len(files) - 1) + [False]
    assert any("unfinished" in w for w in again.warnings)
    assert [f.path for f in again.files] == [f.path for f in result.files]
    resumed = pa.concat_tables([read_parquet(out, f.path) for f in again.files if f.partition == "_default"])
    assert resumed.equals(table)


def test_export_jsonl(target, tmp_path):
    with Run() as run:
        result = export_backup(target, ExportRequest("b", "jsonl", collections="c"), ExportDirectory(tmp_path), run)
    lines = [json.loads(line) for f in result.files for line in (tmp_path / f.path).read_text().splitlines()]
    assert len(lines) == 12
    assert {"id", "vec", "$meta"} == set(lines[0]) and isinstance(lines[0]["$meta"], dict)


class Broken(Exception):
    pass


@pytest.fixture
def reads_break(monkeypatch):
    """Each segment's reading fails after its last batch."""
    real = live.segment_live_batches

    def failing(*args, **kwargs):
        yield from real(*args, **kwargs)
        raise Broken

    monkeypatch.setattr(live, "segment_live_batches", failing)


def test_export_failure_leaves_no_partial_file(target, tmp_path, reads_break):
    with pytest.raises(Broken), Run(threads=1) as run:
        export_backup(target, ExportRequest("b"), ExportDirectory(tmp_path), run)
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".parquet"]
    assert not [p for p in tmp_path.rglob("*.tmp-*")]


def test_unwritable_output(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError):
        ExportDirectory(tmp_path / "file" / "out")


def test_export_into_object_storage_equals_the_local_export_and_resumes(target, tmp_path):
    request = ExportRequest("b", "parquet", max_file_bytes=64)
    with Run() as run:
        local = export_backup(target, request, ExportDirectory(tmp_path), run)
    bucket = MemoryStorage("exports")
    with Run() as run:
        remote = export_backup(target, request, ExportObjects(bucket, "milvus/b/"), run)
    assert remote.out == "mem://exports/milvus/b"
    assert [(f.path, f.rows, f.bytes) for f in remote.files] == [(f.path, f.rows, f.bytes) for f in local.files]
    for f in remote.files:
        assert bucket.get(f"milvus/b/{f.path}") == (tmp_path / f.path).read_bytes()
    assert bucket.get("milvus/b/default/c/schema.json") == (tmp_path / "default/c/schema.json").read_bytes()

    # cut off: the partition's marker and its last part never arrived; nothing temporary is left in a bucket
    last = [f for f in remote.files if f.partition == "_default"][-1].path
    bucket.delete("milvus/b/default/c/_default/_complete.json")
    bucket.delete(f"milvus/b/{last}")
    with Run() as run:
        again = export_backup(target, request, ExportObjects(bucket, "milvus/b/"), run)
    assert [f.kept for f in again.files if f.path == last] == [False]
    assert sum(f.kept for f in again.files) == len(remote.files) - 1 and not again.warnings
    assert bucket.get(f"milvus/b/{last}") == (tmp_path / last).read_bytes()


def test_an_export_into_object_storage_that_fails_uploads_nothing_of_the_file(target, reads_break):
    bucket = MemoryStorage("exports")
    with pytest.raises(Broken), Run(threads=1) as run:
        export_backup(target, ExportRequest("b"), ExportObjects(bucket, ""), run)
    assert not [info.key for info in bucket.list("") if info.key.endswith(".parquet")]
