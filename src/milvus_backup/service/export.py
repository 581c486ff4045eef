"""`export`: a backup's live rows as Parquet or JSON Lines files, read from its binlogs (Milvus is not contacted).

Layout under the output: `<db>/<collection>/schema.json` (the collection's schema as the backup holds it) and
`<db>/<collection>/<partition>/part-SSSSS-NNN.<ext>` (segment SSSSS of the partition, in the backup's order; a new
file NNN when one passes `max_file_bytes` of row data), and `_complete.json` once the partition is done (its
files and rows). A file appears under its final name only when whole, so an export that was cut off resumes:
complete partitions are skipped, and a segment's complete files are kept and its rows continue after them (a
segment's rows are read in the same order every time).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from milvus_backup.errors import UsageError
from milvus_backup.meta import codec
from milvus_backup.meta.binlog import VECTOR_TYPES, Deletes
from milvus_backup.meta.model import CollectionBackupInfo, PartitionBackupInfo
from milvus_backup.service import rows as live
from milvus_backup.service.catalog import read_backup
from milvus_backup.service.references import reading_location
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.run import Run

PARQUET, JSONL = "parquet", "jsonl"
FORMATS = (PARQUET, JSONL)
COMPLETE_FILE = "_complete.json"
SCHEMA_FILE = "schema.json"
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
#: Row data gathered before a Parquet row group is written (fewer, larger row groups read faster).
ROW_GROUP_BYTES = 32 * 1024 * 1024
#: Segments exported at once (each holds a read batch and a row group: about 100 MB with 128-d vectors). Arrow
#: reads and writes Parquet outside the GIL, so two keep two cores busy.
EXPORT_STREAMS = 2


class ExportTarget(Protocol):
    """Where export files go (storage/export_dir.py): whole files only, each written under a temporary name."""

    def describe(self, path: str = "") -> str: ...

    def exists(self, path: str) -> bool: ...

    def open_read(self, path: str) -> BinaryIO: ...

    def size(self, path: str) -> int: ...

    def list(self, folder: str) -> list[str]: ...

    def write(self, path: str) -> AbstractContextManager[BinaryIO]: ...

    def remove_temporary(self) -> int: ...


@dataclass(frozen=True)
class ExportRequest:
    name: str
    format: str = PARQUET
    #: Comma-separated `coll` or `db.coll`; empty: every collection of the backup.
    collections: str = ""
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UsageError(detail=f"unknown export format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.max_file_bytes <= 0:
            raise UsageError(detail="the largest file size must be positive")


@dataclass
class ExportedFile:
    collection: str
    partition: str
    path: str
    rows: int
    bytes: int
    #: Written by an earlier run of the same export, kept as it was.
    kept: bool = False


@dataclass
class ExportResult:
    name: str
    out: str
    format: str
    files: list[ExportedFile]
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def _extension(fmt: str) -> str:
    return "parquet" if fmt == PARQUET else "jsonl"


def _safe(name: str) -> str:
    return name.replace("/", "_") or "_"


def partition_folder(coll: CollectionBackupInfo, partition: PartitionBackupInfo) -> str:
    return f"{_safe(coll.db_name or 'default')}/{_safe(coll.collection_name)}/{_safe(partition.partition_name)}"


def _rows_in(target: ExportTarget, path: str, fmt: str) -> int:
    with closing(target.open_read(path)) as stream:
        if fmt == PARQUET:
            return int(pq.ParquetFile(stream).metadata.num_rows)
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


class _PartWriter:
    """Writes batches into parts of at most about `max_bytes` of row data each."""

    def __init__(
        self,
        target: ExportTarget,
        prefix: str,
        fmt: str,
        schema: pa.Schema,
        specs: list[Any],
        max_bytes: int,
        first_part: int,
        on_file: Callable[[ExportedFile], None],
        coll: str,
        partition: str,
    ) -> None:
        self.target, self.prefix, self.fmt, self.schema, self.specs = target, prefix, fmt, schema, specs
        self.max_bytes, self.part, self.on_file = max_bytes, first_part, on_file
        self.coll, self.partition = coll, partition
        self._opened: AbstractContextManager[BinaryIO] | None = None
        self._out: BinaryIO | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self._bytes = 0
        self._rows = 0

    def path(self) -> str:
        return f"{self.prefix}{self.part:03d}.{_extension(self.fmt)}"

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self._out is None:
            self._opened = self.target.write(self.path())
            self._out = self._opened.__enter__()
            if self.fmt == PARQUET:
                self._parquet = _parquet_writer(self._out, self.schema, self.specs)
        self._rows += batch.num_rows
        size = batch.nbytes
        self._bytes += size
        if self._parquet is not None:
            self._pending.append(batch)
            self._pending_bytes += size
            if self._pending_bytes >= ROW_GROUP_BYTES:
                self._flush_row_group()
        else:
            assert self._out is not None
            lines = (json.dumps(row, ensure_ascii=False) for row in _jsonl_rows(batch, self.specs))
            self._out.write(("\n".join(lines) + "\n").encode("utf-8"))
        if self._bytes >= self.max_bytes:
            self.close()

    def _flush_row_group(self) -> None:
        if self._pending and self._parquet is not None:
            self._parquet.write_table(pa.Table.from_batches(self._pending, schema=self.schema))
        self._pending, self._pending_bytes = [], 0

    def close(self) -> None:
        """Finish the current part (it gets its final name) and start counting the next one."""
        if self._out is None or self._opened is None:
            return
        self._flush_row_group()
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._opened.__exit__(None, None, None)
        path = self.path()
        self.on_file(ExportedFile(self.coll, self.partition, path, self._rows, self.target.size(path)))
        self._opened, self._out = None, None
        self._bytes = self._rows = 0
        self.part += 1

    def abort(self, exc: BaseException) -> None:
        if self._opened is not None:
            self._parquet = None
            self._opened.__exit__(type(exc), exc, exc.__traceback__)
            self._opened, self._out = None, None


def _parquet_writer(out: BinaryIO, schema: pa.Schema, specs: list[Any]) -> pq.ParquetWriter:
    """Vectors are written plain, uncompressed and without statistics: embeddings barely compress, and
    dictionary encoding and zstd made writing a 128-d float vector column 5-7x slower. Other columns get
    dictionaries, zstd and statistics."""
    vectors = {s.name for s in specs if s.data_type in VECTOR_TYPES}
    scalars = [name for name in schema.names if name not in vectors]
    return pq.ParquetWriter(
        out,
        schema,
        compression={name: "none" if name in vectors else "zstd" for name in schema.names},
        use_dictionary=scalars,
        write_statistics=scalars,
    )


def _jsonl_rows(batch: pa.RecordBatch, specs: list[Any]) -> Iterator[dict[str, Any]]:
    """A row per line with the schema's columns: JSON fields (and `$meta`) as JSON values, vectors as lists."""
    by_name = {s.name: s for s in specs}
    columns = {name: batch.column(name).to_pylist() for name in batch.schema.names}
    for i in range(batch.num_rows):
        row = {}
        for name, values in columns.items():
            value = values[i]
            spec = by_name[name]
            if value is not None and spec.is_json:
                value = json.loads(value)
            elif value is not None and spec.data_type == live.DataType.SPARSE_FLOAT_VECTOR:
                value = {str(k): v for k, v in value}
            row[name] = value
        yield row


def _skip_rows(batches: Iterator[live.LiveBatch], rows: int) -> Iterator[live.LiveBatch]:
    """The batches after the first `rows` live rows (what complete parts of an earlier run already hold); a
    batch skipped whole is still handed on empty, for the progress it stands for."""
    for item in batches:
        n = item.batch.num_rows
        skip = min(rows, n)
        rows -= skip
        if skip:
            item = live.LiveBatch(
                item.collection, item.partition, item.segment_id, item.batch.slice(skip), item.read_rows
            )
        yield item


@dataclass
class _PartitionJob:
    coll: CollectionBackupInfo
    partition: PartitionBackupInfo
    folder: str
    schema: pa.Schema
    deletes: Deletes


def _segment_prefix(folder: str, index: int) -> str:
    return f"{folder}/part-{index:05d}-"


def _export_segment(
    backups: StorageLocation,
    request: ExportRequest,
    target: ExportTarget,
    job: _PartitionJob,
    index: int,
    run: Run,
) -> list[ExportedFile]:
    """One segment's live rows into `part-<segment index>-<n>` files, after those an earlier run completed."""
    qualified = live.qualified_name(job.coll)
    name = job.partition.partition_name
    seg = job.partition.segment_backups[index]
    prefix = _segment_prefix(job.folder, index)
    kept = [p for p in target.list(job.folder) if p.startswith(prefix) and p.endswith(f".{_extension(request.format)}")]
    files = [ExportedFile(qualified, name, p, _rows_in(target, p, request.format), target.size(p), True) for p in kept]
    specs = live.collection_columns(job.coll).specs
    writer = _PartWriter(
        target,
        prefix,
        request.format,
        job.schema,
        specs,
        request.max_file_bytes,
        len(kept),
        files.append,
        qualified,
        name,
    )
    batches = live.segment_live_batches(backups, request.name, job.coll, job.partition, seg, job.deletes, specs)
    try:
        for item in _skip_rows(batches, sum(f.rows for f in files)):
            run.check()
            writer.write(item.batch)
            run.progress.advance(item.read_rows, qualified)
        writer.close()
    except BaseException as exc:
        writer.abort(exc)
        raise
    return files


def _done_files(target: ExportTarget, folder: str) -> list[ExportedFile] | None:
    marker = f"{folder}/{COMPLETE_FILE}"
    if not target.exists(marker):
        return None
    with closing(target.open_read(marker)) as stream:
        return [ExportedFile(**f, kept=True) for f in json.loads(stream.read())["files"]]


def _export_collection(
    backups: StorageLocation, request: ExportRequest, target: ExportTarget, coll: CollectionBackupInfo, run: Run
) -> list[ExportedFile]:
    """The collection's partitions, their segments exported side by side (at most EXPORT_STREAMS at once: each
    holds a batch and a row group in memory); each partition's `_complete.json` once all its segments are done."""
    qualified = live.qualified_name(coll)
    columns = live.collection_columns(coll)
    by_folder: dict[str, list[ExportedFile]] = {}
    jobs: list[_PartitionJob] = []
    for partition in coll.partition_backups:
        folder = partition_folder(coll, partition)
        finished = _done_files(target, folder)
        if finished is not None:
            by_folder[folder] = finished
            run.progress.advance(sum(s.num_of_rows for s in partition.segment_backups), qualified)
            continue
        schema = columns.arrow_schema().with_metadata(
            {"milvus.collection": qualified, "milvus.partition": partition.partition_name}
        )
        jobs.append(
            _PartitionJob(
                coll, partition, folder, schema, live.partition_deletes(backups, request.name, coll, partition)
            )
        )
    work = [(job, index) for job in jobs for index in range(len(job.partition.segment_backups))]
    results = run.map(
        lambda item: _export_segment(backups, request, target, item[0], item[1], run), work, limit=EXPORT_STREAMS
    )
    for job in jobs:
        by_folder[job.folder] = []
    for (job, _), files in zip(work, results, strict=True):
        by_folder[job.folder].extend(files)
    for job in jobs:
        with target.write(f"{job.folder}/{COMPLETE_FILE}") as out:
            out.write(json.dumps({"files": [_file_record(f) for f in by_folder[job.folder]]}, indent=1).encode())
    return [f for p in coll.partition_backups for f in by_folder[partition_folder(coll, p)]]


def _file_record(f: ExportedFile) -> dict[str, Any]:
    record = asdict(f)
    record.pop("kept")
    return record


def export_backup(backups: StorageLocation, request: ExportRequest, target: ExportTarget, run: Run) -> ExportResult:
    """Write the live rows of the backup's chosen collections into `target`, partition by partition (in
    parallel on the run's threads), skipping what an earlier run of the same export completed."""
    started = time.monotonic()
    info = read_backup(backups, request.name)
    chosen = live.find_collections(request.name, info.collection_backups, request.collections)
    removed = target.remove_temporary()
    if removed:
        run.warn(f"removed {removed} unfinished file(s) of an earlier export in {target.describe()}")
    for coll in chosen:
        live.collection_columns(coll)  # refuses what cannot be read before anything is written
        folder = f"{_safe(coll.db_name or 'default')}/{_safe(coll.collection_name)}"
        with target.write(f"{folder}/{SCHEMA_FILE}") as out:
            out.write(codec.dumps(coll.schema))
    parts = {
        live.qualified_name(c): sum(s.num_of_rows for p in c.partition_backups for s in p.segment_backups)
        for c in chosen
    }
    run.progress.start(sum(parts.values()), "rows", f"export {request.name}", parts)
    located = reading_location(backups, request.name)
    files = [f for coll in chosen for f in _export_collection(located, request, target, coll, run)]
    run.progress.finish()
    return ExportResult(
        name=request.name,
        out=target.describe(),
        format=request.format,
        files=files,
        seconds=round(time.monotonic() - started, 3),
        warnings=run.warnings,
    )
