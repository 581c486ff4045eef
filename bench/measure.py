"""Each figure of the benchmark: the tool and its baseline, timed side by side in this one process."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
from pymilvus import MilvusClient
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from bench import data
from bench.env import Side
from milvus_backup import wiring
from milvus_backup.library import create_backup, delete_backup, export_backup, get_backup, restore_backup
from milvus_backup.meta import layout
from milvus_backup.service.catalog import read_backup, read_manifest
from milvus_backup.service.create import CreateRequest
from milvus_backup.service.export import ExportRequest
from milvus_backup.service.mapping import Rename, parse_mapping
from milvus_backup.service.restore import Mode, RestoreRequest
from milvus_backup.service.rows import count_collection_rows
from milvus_backup.service.selection import parse_selection
from milvus_backup.service.verify import check_objects

TOOL = str(Path(sys.executable).parent / "milvus-backup")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def take_turns(runs: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Run both steps `runs` times, each going first every other run, so that whatever one step leaves behind
    for the next (a drop still being cleaned up, a fuller store) does not always land on the same side."""
    for run in range(runs):
        for step in (first, second) if run % 2 == 0 else (second, first):
            step()


# -- backup vs raw copy -----------------------------------------------------------------------------------


def tool_backup(side: Side, collection: str, name: str) -> float:
    request = CreateRequest(name=name, selection=parse_selection(colls=collection), strategy="skip_flush")
    return timed(lambda: create_backup(side.config, request))


def copy_plan(side: Side, name: str) -> list[tuple[str, str, int]]:
    """(source key in Milvus storage, destination key, size) of every object the backup copied. The copies keep
    the objects' own paths (`rawcopy-<name>/<source key>`), a folder tree as deep as the backup's: flattening them
    into one folder would be cheaper on file systems and on filer-backed stores such as SeaweedFS, and would
    not be the same copy."""
    info = get_backup(side.config, name)
    plan = []
    for coll in info.collection_backups:
        for part in coll.partition_backups:
            for seg in part.segment_backups:
                for fb in seg.binlogs + seg.deltalogs:
                    for log in fb.binlogs:
                        plan.append((log.log_path, f"rawcopy-{name}/{log.log_path}", log.log_size))
    return plan


def raw_copy(side: Side, plan: list[tuple[str, str, int]], concurrency: int) -> float:
    """The most direct copy of the same objects: a file copy loop, or CopyObject calls, as many at once as the
    tool runs."""
    if side.kind == "local":
        src_root = Path(str(side.milvus.local_storage_path))
        dst_root = Path(side.config.backup.storage.root_path)

        def one(item: tuple[str, str, int]) -> None:
            dst = dst_root / item[1]
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_root / item[0], dst)
    else:
        client = side.s3_client()
        bucket = side.config.milvus.storage.bucket_name

        def one(item: tuple[str, str, int]) -> None:
            client.copy_object(Bucket=bucket, Key=item[1], CopySource={"Bucket": bucket, "Key": item[0]})

    def run() -> None:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(plan)))) as pool:
            list(pool.map(one, plan))

    return timed(run)


def remove_raw_copy(side: Side, name: str) -> None:
    if side.kind == "local":
        shutil.rmtree(Path(side.config.backup.storage.root_path) / f"rawcopy-{name}", ignore_errors=True)
    else:
        client = side.s3_client()
        bucket = side.config.milvus.storage.bucket_name
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"rawcopy-{name}/"):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])


def backup_vs_raw(side: Side, collection: str, runs: int, concurrency: int) -> dict[str, Any]:
    tool, raw = [], []
    for _ in range(runs):
        name = unique("bench_")
        tool.append(tool_backup(side, collection, name))
        plan = copy_plan(side, name)
        raw.append(raw_copy(side, plan, concurrency))
        remove_raw_copy(side, name)
        delete_backup(side.config, name)
    return {
        "tool_s": median(tool),
        "raw_s": median(raw),
        "ratio": median(tool) / median(raw),
        "objects": len(plan),
        "bytes": sum(p[2] for p in plan),
        "runs": runs,
    }


# -- incremental backup vs full backup ----------------------------------------------------------------------


def incremental_vs_full(side: Side, collection: str, rows: int, dim: int, runs: int) -> dict[str, Any]:
    """A full backup, then 10% new rows (flushed into new segments, nothing compacted), then incremental backups
    against that full one and full backups of the same data, taking turns: bytes the incremental copies ÷ bytes
    of the new segments, and its time ÷ the full backup's."""
    config = side.config
    base = unique("bench_full_")
    tool_backup(side, collection, base)
    base_bytes = get_backup(config, base).size
    before = {
        s.segment_id
        for c in get_backup(config, base).collection_backups
        for p in c.partition_backups
        for s in p.segment_backups
    }
    data.add_rows(side.milvus.uri, collection, rows, rows // 10, dim)
    incremental_s: list[float] = []
    full_s: list[float] = []
    copied: list[int] = []
    new_bytes: list[int] = []

    def incremental() -> None:
        name = unique("bench_incr_")
        request = CreateRequest(
            name=name,
            selection=parse_selection(colls=collection),
            strategy="skip_flush",
            incremental=True,
            base=base,
        )
        started = time.perf_counter()
        result = create_backup(config, request)
        incremental_s.append(time.perf_counter() - started)
        copied.append(result.bytes - result.referenced_bytes)
        segments = [
            s
            for c in get_backup(config, name).collection_backups
            for p in c.partition_backups
            for s in p.segment_backups
        ]
        new_bytes.append(sum(s.size for s in segments if s.segment_id not in before))
        delete_backup(config, name)

    def full() -> None:
        name = unique("bench_")
        full_s.append(tool_backup(side, collection, name))
        delete_backup(config, name)

    take_turns(runs, incremental, full)
    # An incremental backup of nothing new (its base is a full backup of the same data): the fixed cost that every
    # create pays (Milvus calls, the GC pause, the listing of Milvus storage, the meta), whatever it copies.
    same = unique("bench_full_")
    tool_backup(side, collection, same)
    unchanged_s: list[float] = []
    for _ in range(runs):
        name = unique("bench_incr_")
        request = CreateRequest(
            name=name, selection=parse_selection(colls=collection), strategy="skip_flush", incremental=True, base=same
        )
        unchanged_s.append(timed(lambda request=request: create_backup(config, request)))
        delete_backup(config, name)
    delete_backup(config, same)
    delete_backup(config, base)
    return {
        "unchanged_incremental_s": median(unchanged_s),
        "incremental_s": median(incremental_s),
        "full_s": median(full_s),
        "time_ratio": median(incremental_s) / median(full_s),
        "copied_bytes": median(copied),
        "new_bytes": median(new_bytes),
        "bytes_ratio": median(copied) / median(new_bytes) if median(new_bytes) else float("inf"),
        "new_rows": rows // 10,
        "base_bytes": base_bytes,
        "runs": runs,
    }


# -- restore vs direct imports --------------------------------------------------------------------------------


class Restored(NamedTuple):
    """Seconds of one restore, and of its wait for Milvus's imports (first Import call to last import done)."""

    total_s: float
    imports_s: float


def tool_restore(side: Side, backup: str, collection: str, target: str, mode: Mode = "") -> Restored:
    request = RestoreRequest(
        name=backup,
        selection=parse_selection(collection),
        mapping=parse_mapping(renames=[Rename(collection, target, "bench")]),
        mode=mode,
    )
    started = time.perf_counter()
    result = restore_backup(side.config, request)
    return Restored(time.perf_counter() - started, sum(c.import_seconds for c in result.collections))


def direct_import(side: Side, backup: str, collection: str, target: str) -> Restored:
    """The same imports, issued by hand on binlogs already where Milvus reads them."""
    config = side.config
    info = get_backup(config, backup)
    [coll] = [c for c in info.collection_backups if c.collection_name == collection]
    client = MilvusClient(side.milvus.uri)
    stub = client._get_connection()._stub
    source = stub.DescribeCollection(milvus_pb2.DescribeCollectionRequest(collection_name=collection))
    schema = source.schema
    schema.name = target
    if side.kind == "local":
        base = f"{config.backup.storage.root_path}/"
    else:
        base = layout.root_prefix(config.backup.storage.root_path)
    jobs = []
    for part in coll.partition_backups:
        if part.segment_backups:  # one import per partition, as the tool does
            insert_dir, delta_dir = layout.backup_import_dirs(
                base, backup, coll.collection_id, part.partition_id, group_id=0
            )
            deletes = any(seg.deltalogs for seg in part.segment_backups)
            jobs.append((part.partition_name, [insert_dir, delta_dir if deletes else ""]))

    def one(job: tuple[str, list[str]]) -> None:
        response = stub.Import(
            milvus_pb2.ImportRequest(
                collection_name=target,
                partition_name=job[0],
                files=job[1],
                options=[common_pb2.KeyValuePair(key="backup", value="true")],
            )
        )
        for task in response.tasks:
            while stub.GetImportState(milvus_pb2.GetImportStateRequest(task=task)).state not in (
                common_pb2.ImportCompleted,
                common_pb2.ImportFailed,
            ):
                time.sleep(0.05)

    def run() -> float:
        """Seconds of the import calls alone."""
        stub.CreateCollection(
            milvus_pb2.CreateCollectionRequest(
                collection_name=target, schema=schema.SerializeToString(), shards_num=source.shards_num
            )
        )
        for name in {p.partition_name for p in coll.partition_backups} - {"_default"}:
            stub.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name=target, partition_name=name))
        imports_started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, min(config.restore.concurrency.import_jobs, len(jobs)))) as pool:
            list(pool.map(one, jobs))
        return time.perf_counter() - imports_started

    try:
        started = time.perf_counter()
        imports_s = run()
        return Restored(time.perf_counter() - started, imports_s)
    finally:
        client.close()


def drop(side: Side, collection: str) -> None:
    client = MilvusClient(side.milvus.uri)
    try:
        if client.has_collection(collection):
            client.drop_collection(collection)
    finally:
        client.close()


def restore_turns(side: Side, collection: str, runs: int) -> tuple[list[Restored], list[Restored], float]:
    """`runs` tool restores and `runs` direct imports of one backup of `collection`, taking turns (Milvus is
    still busy with the previous collection's drop for a while), and the median time of the restore's check of
    the backup's files before the import."""
    backup = unique("bench_restore_")
    tool_backup(side, collection, backup)
    tool: list[Restored] = []
    direct: list[Restored] = []

    def restore() -> None:
        target = unique("restored_")
        tool.append(tool_restore(side, backup, collection, target))
        drop(side, target)

    def import_() -> None:
        target = unique("imported_")
        direct.append(direct_import(side, backup, collection, target))
        drop(side, target)

    take_turns(runs, restore, import_)
    check_s = pre_import_check(side, backup, runs)
    delete_backup(side.config, backup)
    return tool, direct, check_s


def totals(runs: list[Restored]) -> list[float]:
    return [run.total_s for run in runs]


def outside_imports(runs: list[Restored]) -> float:
    """Median seconds a restore spent on anything but waiting for Milvus's imports. Milvus 2.3 marks an import
    done on a 2-second tick, so whole restores move in 2-second steps; this part does not."""
    return median([run.total_s - run.imports_s for run in runs])


def pre_import_check(side: Side, backup: str, runs: int) -> float:
    """Median seconds of the check a restore makes of every file before Milvus reads it (part of the tool's
    restore time): sizes from one listing, checksums from the listing's MD5 where the service states one (S3),
    else by reading every byte (local)."""
    target = wiring.backup_storage(side.config)
    info, manifest = read_backup(target, backup), read_manifest(target, backup)
    times = []
    for _ in range(runs):
        with wiring.new_run(side.config) as run:
            started = time.perf_counter()
            report = check_objects(target, info, manifest, run, read_content=True, trust_listing=True)
            times.append(time.perf_counter() - started)
        assert report.ok, report
    return median(times)


def restore_vs_import(side: Side, collection: str, runs: int) -> dict[str, Any]:
    tool, direct, check_s = restore_turns(side, collection, runs)
    tool_s, direct_s = median(totals(tool)), median(totals(direct))
    return {
        "pre_import_check_s": check_s,
        "pre_import_check_share": check_s / tool_s,
        "tool_s": tool_s,
        "direct_s": direct_s,
        "ratio": tool_s / direct_s,
        "runs": runs,
        "tool_runs_s": totals(tool),
        "direct_runs_s": totals(direct),
        "tool_outside_imports_s": outside_imports(tool),
        "direct_outside_imports_s": outside_imports(direct),
    }


# -- against a pymilvus dump and reload ----------------------------------------------------------------------


def dump_to_parquet(side: Side, collection: str, path: Path) -> tuple[float, int]:
    client = MilvusClient(side.milvus.uri)
    try:
        client.load_collection(collection)

        def run() -> int:
            iterator = client.query_iterator(collection, batch_size=10_000, output_fields=["*"])
            writer, count = None, 0
            while batch := iterator.next():
                # Batches list their fields in varying order: the first one fixes the file's schema.
                table = pa.Table.from_pylist(batch, schema=writer.schema if writer else None)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                count += len(batch)
            iterator.close()
            if writer:
                writer.close()
            return count

        started = time.perf_counter()
        rows = run()
        return time.perf_counter() - started, rows
    finally:
        client.release_collection(collection)
        client.close()


def reload_from_parquet(side: Side, collection: str, path: Path) -> float:
    """Seconds to insert the dumped rows into a new collection (pymilvus `insert`, batches of 10,000, then a
    flush), and the rows the new collection holds."""
    client = MilvusClient(side.milvus.uri)
    target = unique("reloaded_")
    source = client.describe_collection(collection)
    try:
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        for f in source["fields"]:
            schema.add_field(f["name"], f["type"], is_primary=f.get("is_primary", False), **f.get("params", {}))
        client.create_collection(target, schema=schema)

        def run() -> None:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
                client.insert(target, batch.to_pylist())
            client.flush(target)

        seconds = timed(run)
        assert client.get_collection_stats(target)["row_count"] == pq.ParquetFile(path).metadata.num_rows
        return seconds
    finally:
        client.drop_collection(target)
        client.close()


def insert_restore(side: Side, backup: str, collection: str) -> tuple[float, int]:
    """Seconds of `restore --mode insert` (rows read from the backup's binlogs, inserted, flushed, counted), and
    the rows restored."""
    target = unique("inserted_")
    request = RestoreRequest(
        name=backup,
        selection=parse_selection(collection),
        mapping=parse_mapping(renames=[Rename(collection, target, "bench")]),
        mode="insert",
    )
    try:
        started = time.perf_counter()
        result = restore_backup(side.config, request)
        return time.perf_counter() - started, result.collections[0].rows
    finally:
        drop(side, target)


def against_pymilvus(
    side: Side, collection: str, work: Path, backup_s: float, restore_s: float, runs: int
) -> dict[str, Any]:
    """The dump and the batched inserts once; `restore --mode insert` and the batched inserts `runs` times,
    taking turns (the insert figure compares two ways of writing the same rows through Milvus's Insert)."""
    path = work / f"{collection}.parquet"
    dump_s, rows = dump_to_parquet(side, collection, path)
    backup = unique("bench_insert_")
    tool_backup(side, collection, backup)
    reloads: list[float] = []
    inserts: list[float] = []

    def insert() -> None:
        seconds, restored = insert_restore(side, backup, collection)
        assert restored == rows, (restored, rows)
        inserts.append(seconds)

    take_turns(runs, lambda: reloads.append(reload_from_parquet(side, collection, path)), insert)
    delete_backup(side.config, backup)
    path.unlink()
    reload_s, insert_s = median(reloads), median(inserts)
    return {
        "dump_s": dump_s,
        "reload_s": reload_s,
        "rows": rows,
        "backup_speedup": dump_s / backup_s,
        "restore_speedup": reload_s / restore_s,
        "insert_restore_s": insert_s,
        "insert_restore_speedup": reload_s / insert_s,
        "insert_runs": runs,
        "reload_runs_s": reloads,
        "insert_restore_runs_s": inserts,
    }


# -- export vs a pymilvus dump ------------------------------------------------------------------------------------


def export_vs_dump(side: Side, collection: str, work: Path, runs: int, dump_s: float, dump_rows: int) -> dict[str, Any]:
    """`export` of a backup of `collection` to Parquet (from the backup's binlogs, no Milvus), against the
    pymilvus `query_iterator` dump to Parquet of the same rows (timed by the caller)."""
    name = unique("bench_export_")
    backup_s = tool_backup(side, collection, name)
    proof_s, proof_rows = proof_read(side, name)
    if proof_rows != dump_rows:
        raise AssertionError(f"the proof's read counted {proof_rows} live rows, the pymilvus dump {dump_rows}")
    times: list[float] = []
    rows = 0
    for run in range(runs):
        out = work / f"export-{run}"
        started = time.perf_counter()
        result = export_backup(side.config, ExportRequest(name=name), str(out))
        times.append(time.perf_counter() - started)
        rows = result.rows
        shutil.rmtree(out)
    delete_backup(side.config, name)
    if rows != dump_rows:
        raise AssertionError(f"export wrote {rows} rows, the pymilvus dump {dump_rows}")
    return {
        "export_s": median(times),
        "export_runs_s": times,
        "rows": rows,
        "dump_s": dump_s,
        "export_speedup": dump_s / median(times),
        "backup_s": backup_s,
        "proof_read_s": proof_s,
        "proof_read_vs_backup": proof_s / backup_s,
    }


def proof_read(side: Side, name: str) -> tuple[float, int]:
    """What a create's row-count proof reads, timed alone: the live rows of the backup counted from its primary key
    and timestamp columns (the benchmark's `skip_flush` backups record `unproven` without reading them). Returns
    the seconds and the rows counted."""
    target = wiring.backup_storage(side.config)
    info = read_backup(target, name)
    started = time.perf_counter()
    rows = sum(count_collection_rows(target, name, coll).live for coll in info.collection_backups)
    return time.perf_counter() - started, rows


def export_peak_rss_mb(side: Side, collection: str, work: Path) -> float:
    """Peak RSS of the `milvus-backup export` CLI process exporting a backup of `collection` to Parquet."""
    name = unique("bench_rss_export_")
    tool_backup(side, collection, name)
    out = work / name
    peak = _peak_mb([TOOL, "--config", str(side.config_path), "export", "-n", name, "--out", str(out)])
    shutil.rmtree(out)
    delete_backup(side.config, name)
    return peak


# -- per-segment overhead --------------------------------------------------------------------------------------


def create_overhead(side: Side, collection: str, segments: int, concurrency: int, runs: int) -> dict[str, Any]:
    tool, raw = [], []
    # The first backup's objects, copied to `rawcopy-<its name>/` in every run: the same source objects each time.
    first: dict[str, Any] = {}

    def create() -> None:
        name = unique("bench_many_")
        tool.append(tool_backup(side, collection, name))
        if not first:
            first.update(name=name, plan=copy_plan(side, name))
        delete_backup(side.config, name)

    def copy() -> None:
        raw.append(raw_copy(side, first["plan"], concurrency))
        remove_raw_copy(side, first["name"])

    # An object store's copy rate drifts as it fills.
    take_turns(runs, create, copy)
    return {
        "segments": segments,
        "create_s": median(tool),
        "raw_copy_s": median(raw),
        "runs": runs,
        "create_runs_s": tool,
        "raw_copy_runs_s": raw,
        "create_ms_per_segment": (median(tool) - median(raw)) * 1000 / segments,
    }


def restore_overhead(side: Side, collection: str, segments: int, runs: int) -> dict[str, Any]:
    tool, direct, _ = restore_turns(side, collection, runs)
    tool_s, direct_s = median(totals(tool)), median(totals(direct))
    outside_ms = (outside_imports(tool) - outside_imports(direct)) * 1000 / segments
    return {
        "restore_segments": segments,
        "restore_s": tool_s,
        "direct_import_s": direct_s,
        "restore_runs": runs,
        "restore_runs_s": totals(tool),
        "direct_import_runs_s": totals(direct),
        "restore_ms_per_segment": (tool_s - direct_s) * 1000 / segments,
        "restore_outside_imports_ms_per_segment": outside_ms,
    }


# -- peak memory ------------------------------------------------------------------------------------------------

# Runs the CLI as its only child, so RUSAGE_CHILDREN is the tool's own peak (an exec'd child would inherit ours).
_PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
)


def _peak_mb(command: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", _PEAK, *command], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def peak_rss_mb(side: Side, collection: str) -> float:
    name = unique("bench_rss_")
    peak = _peak_mb([TOOL, "--config", str(side.config_path), "create", "-n", name, "-c", collection, "-f"])
    delete_backup(side.config, name)
    return peak
