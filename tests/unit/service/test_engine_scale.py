"""A create of many tiny segments on the fakes: prints its peak memory (tracemalloc) and time per segment (see
them with `-s`); asserts only that every segment is in the meta.

The default size keeps the unit suite fast: on zero-latency fake storage a create costs ~0.2 ms of CPU per
segment (meta encoding, describing, one future per copy), and tracemalloc multiplies that about four times.
MILVUS_BACKUP_SCALE_SEGMENTS=100000 runs it at 100,000 segments (about a minute and a half on two cores).
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc

from milvus_backup.meta import layout
from milvus_backup.meta.model import CollectionSchema, FieldSchema
from milvus_backup.service.catalog import read_manifest
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.run import Run
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import INT64, FakeMilvus

SEGMENTS = int(os.environ.get("MILVUS_BACKUP_SCALE_SEGMENTS", "10000"))


def test_a_create_of_many_tiny_segments_prints_its_memory_and_time() -> None:
    source = FakeMilvus(MemoryStorage("many-milvus"), system_fields=False)
    one_field = CollectionSchema(
        "many", fields=[FieldSchema(field_id=100, name="id", is_primary_key=True, data_type=INT64)]
    )
    source.add_collection("default", "many", one_field)
    source.insert("default", "many", rows=2, segments=SEGMENTS)  # one 16-byte binlog (+ header) per segment
    backups = StorageLocation(MemoryStorage("many-backup"), "backup/")
    resources = Resources(backups, Settings(pause_gc=False), source.side())

    tracemalloc.start()
    started = time.perf_counter()
    with Run(threads=4) as run:
        result = create_backup(resources, CreateRequest(name="many"), run)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(
        f"\ncreate of {SEGMENTS:,} segments: {seconds:.1f} s, {seconds / SEGMENTS * 1e6:.0f} us per segment "
        f"(under tracemalloc), peak {peak / 2**20:.1f} MiB ({peak / SEGMENTS:.0f} B per segment)"
    )
    assert result.segments == SEGMENTS
    # counted in the raw file: decoding the whole meta (read_backup) costs more than the create itself
    segment_meta = json.loads(backups.storage.get(layout.meta_key(backups.root, "many", "segment_meta.json")))
    assert len(segment_meta["infos"]) == SEGMENTS
    assert len({s["segment_id"] for s in segment_meta["infos"]}) == SEGMENTS
    manifest = read_manifest(backups, "many")
    assert manifest is not None and len(manifest.objects) == SEGMENTS
