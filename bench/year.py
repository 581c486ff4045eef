"""`python -m bench.year`: a simulated year of nightly incremental backups, on local storage, data tiny.

No Milvus server: the source is the test suite's FakeMilvus (tests/fakes/milvus.py), whose binlogs are files in a
local directory, and the backups go to another local directory, through the service as the CLI runs it. Day 0 is
a full backup of a collection of `--segments` equal segments; each following night first churns `--churn` of the
data (that share of the segments is compacted into new segments with new ids and the same rows, as Milvus's
compaction rewrites them), then makes an incremental backup with the default base (the newest backup of the same
collections). It reports the bytes stored against what as many full backups would store (binlogs alone, and with
the meta files, which every backup writes in full), and the time the creates, `list` and the dependents scan of
`delete` take at the end of the year.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from milvus_backup.service.catalog import dependents, list_backups
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.storage.local import LocalStorage
from tests.fakes.milvus import FakeMilvus


def _stored_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def simulate(days: int, segments: int, rows_per_segment: int, churn: float, work: Path) -> dict[str, Any]:
    milvus_dir, backup_dir = work / "milvus", work / "backups"
    milvus_dir.mkdir()
    backup_dir.mkdir()
    source = FakeMilvus(LocalStorage(milvus_dir), root="files/")
    source.add_collection("default", "nightly", num_partitions=1)
    # One partition per segment, so that compacting a partition rewrites exactly one segment.
    partitions = [f"p{i}" for i in range(segments)]
    for partition in partitions:
        source.create_partition("default", "nightly", partition)
        source.insert("default", "nightly", partition, rows=rows_per_segment)
    settings = Settings(pause_gc=False, copy_concurrency=8)
    resources = Resources(StorageLocation(LocalStorage(backup_dir), ""), settings, source.side())
    per_day = max(1, round(segments * churn))
    create_s: list[float] = []
    full_equivalent = 0
    copied = 0
    for day in range(days + 1):
        if day:
            for i in range(per_day):
                source.compact("default", "nightly", partitions[((day - 1) * per_day + i) % segments])
        request = CreateRequest(name=f"day_{day:03d}", incremental=day > 0)
        started = time.perf_counter()
        with Run() as run:
            result = create_backup(resources, request, run)
        create_s.append(time.perf_counter() - started)
        full_equivalent += result.bytes
        copied += result.bytes - result.referenced_bytes
    meta_bytes = sum(p.stat().st_size for p in backup_dir.glob("*/meta/*") if p.is_file())
    stored_binlogs = _stored_bytes(backup_dir) - meta_bytes
    started = time.perf_counter()
    summaries = list_backups(resources.backup)
    list_s = time.perf_counter() - started
    started = time.perf_counter()
    needed_by = dependents(resources.backup, "day_000")
    dependents_s = time.perf_counter() - started
    return {
        "days": days,
        "segments": segments,
        "rows_per_segment": rows_per_segment,
        "churn": churn,
        "segments_rewritten_per_day": per_day,
        "backups": len(summaries),
        "full_backup_binlog_bytes": result.bytes,
        "full_backups_binlog_bytes": full_equivalent,
        "binlog_bytes_copied": copied,
        "binlog_bytes_stored": stored_binlogs,
        "binlogs_stored_vs_full": stored_binlogs / full_equivalent,
        # Full backups would write the same meta files (the manifest of an incremental one is a little longer).
        "meta_bytes_stored": meta_bytes,
        "all_stored_vs_full": (stored_binlogs + meta_bytes) / (full_equivalent + meta_bytes),
        "full_create_s": create_s[0],
        "incremental_create_median_s": statistics.median(create_s[1:]) if days else 0.0,
        "incremental_create_last_s": create_s[-1],
        "list_s": list_s,
        "dependents_scan_s": dependents_s,
        "day_000_needed_by": len(needed_by),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.year", description=__doc__)
    parser.add_argument("--days", type=int, default=365, help="incremental backups after the full one")
    parser.add_argument("--segments", type=int, default=100, help="equal segments of the collection")
    parser.add_argument("--rows-per-segment", type=int, default=100, help="rows per segment (8-d vectors)")
    parser.add_argument("--churn", type=float, default=0.01, help="share of the segments rewritten each day")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="milvus-backup-year-") as tmp:
        figures = simulate(args.days, args.segments, args.rows_per_segment, args.churn, Path(tmp))
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print("| figure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")


if __name__ == "__main__":
    main()
