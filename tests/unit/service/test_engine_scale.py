"""A create of 100,000 tiny segments on the fakes: prints the process's peak memory and the time per segment
(see them with `-s`); asserts only that every segment is in the meta.

Memory is the process's peak resident set (getrusage), which includes the two in-memory storages holding every
binlog twice: tracemalloc would tell the create's own share, but makes the run four to six times slower.
MILVUS_BACKUP_SCALE_SEGMENTS sets another size.
"""

from __future__ import annotations

import json
import os
import resource
import time

from milvus_backup.meta import layout
from milvus_backup.meta.model import CollectionSchema, FieldSchema
from milvus_backup.service.catalog import read_manifest
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.run import Run
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import INT64, FakeMilvus
from tests.fakes.rows import FakeRows

SEGMENTS = int(os.environ.get("MILVUS_BACKUP_SCALE_SEGMENTS", "100000"))


def test_a_create_of_many_tiny_segments_prints_its_memory_and_time() -> None:
    source = FakeMilvus(MemoryStorage("many-milvus"), system_fields=False)
    one_field = CollectionSchema(
        "many", fields=[FieldSchema(field_id=100, name="id", is_primary_key=True, data_type=INT64)]
    )
    source.add_collection("default", "many", one_field)
    source.insert("default", "many", rows=2, segments=SEGMENTS)  # one 16-byte binlog (+ header) per segment
    backups = StorageLocation(MemoryStorage("many-backup"), "backup/")
    resources = Resources(backups, Settings(pause_gc=False), source.side(), rows=FakeRows)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    with Run(threads=4) as run:
        result = create_backup(resources, CreateRequest(name="many"), run)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(
        f"\ncreate of {SEGMENTS:,} segments: {seconds:.1f} s, {seconds / SEGMENTS * 1e6:.0f} us per segment; "
        f"peak RSS {peak / 1024:.0f} MiB (was {before / 1024:.0f} MiB before the create; fake storages included)"
    )
    assert result.segments == SEGMENTS
    # counted in the raw file: decoding the whole meta (read_backup) costs more than the create itself
    segment_meta = json.loads(backups.storage.get(layout.meta_key(backups.root, "many", "segment_meta.json")))
    assert len(segment_meta["infos"]) == SEGMENTS
    assert len({s["segment_id"] for s in segment_meta["infos"]}) == SEGMENTS
    manifest = read_manifest(backups, "many")
    assert manifest is not None and len(manifest.objects) == SEGMENTS
