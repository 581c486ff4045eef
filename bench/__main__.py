"""`python -m bench`: generate collections, measure, print a Markdown table, write the figures as JSON.

See docs/benchmarks.md for what each figure means and the latest results.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data, measure
from bench.env import servers

GOALS = {
    "backup ÷ raw copy": ("≤", 1.15),
    "restore ÷ direct import": ("≤", 1.15),
    "backup speed-up over pymilvus dump": ("≥", 20.0),
    "restore speed-up over pymilvus inserts": ("≥", 5.0),
    "restore --mode insert speed-up over pymilvus inserts": ("≥", 1.0),
    "create overhead per segment (ms)": ("≤", 5.0),
    "restore overhead per segment (ms)": ("≤", 5.0),
    "peak RSS, 10× size (MB)": ("≤", 200.0),
    "export speed-up over pymilvus dump": ("≥", 20.0),
    "incremental: bytes copied ÷ new bytes": ("≤", 1.1),
    "incremental ÷ full backup time": ("≤", 0.3),
}


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "params": {
            "rows": args.rows,
            "dim": args.dim,
            "segments": args.segments,
            "runs": args.runs,
            "restore_runs": args.restore_runs,
            "small_segments": args.small_segments,
            "restore_segments": args.restore_segments,
            "segment_restore_runs": args.segment_restore_runs,
            "scale": args.scale,
            "concurrency": args.concurrency,
            "insert_runs": args.insert_runs,
            "export_only": args.export_only,
            "incremental_only": args.incremental_only,
        },
        "sides": {},
    }
    with (
        tempfile.TemporaryDirectory(prefix="milvus-backup-bench-") as tmp,
        servers(Path(tmp), args.kinds, args.concurrency) as sides,
    ):
        work = Path(tmp)
        for kind, side in sides.items():
            print(f"# {kind}: generating {args.rows} rows x {args.dim}-d in {args.segments} segments", flush=True)
            data.make_collection(side.milvus.uri, "bench_base", args.rows, args.dim, args.segments)
            if args.export_only:
                results["sides"][kind] = export_figures(args, side, work)
                measure.drop(side, "bench_base")
                continue
            figures: dict[str, Any] = {}
            if not args.incremental_only:
                figures["backup"] = measure.backup_vs_raw(side, "bench_base", args.runs, args.concurrency)
                print(f"# {kind}: backup {figures['backup']}", flush=True)
                figures["restore"] = measure.restore_vs_import(side, "bench_base", args.restore_runs)
                print(f"# {kind}: restore {figures['restore']}", flush=True)
                figures["pymilvus"] = measure.against_pymilvus(
                    side,
                    "bench_base",
                    work,
                    figures["backup"]["tool_s"],
                    figures["restore"]["tool_s"],
                    args.insert_runs,
                )
                print(f"# {kind}: pymilvus {figures['pymilvus']}", flush=True)
                figures["export"] = measure.export_vs_dump(
                    side, "bench_base", work, args.runs, figures["pymilvus"]["dump_s"], figures["pymilvus"]["rows"]
                )
                print(f"# {kind}: export {figures['export']}", flush=True)
                if args.small_segments:
                    data.make_many_segments(side.milvus.uri, "bench_many", args.small_segments)
                    figures["segments"] = measure.create_overhead(
                        side, "bench_many", args.small_segments, args.concurrency, args.runs
                    )
                    # Not dropped: dropping a collection of 1,000 segments made Milvus 2.3.5's DataNode panic ("send on
                    # closed channel" in FlushSegments) in three of four runs. The servers are thrown away at the end.
                    # Milvus 2.3.5 takes about 2 s per import (one at a time, each marked done on a 2-second tick):
                    # restore overhead is measured on fewer segments, or the run would take hours.
                    data.make_many_segments(side.milvus.uri, "bench_many_r", args.restore_segments)
                    figures["segments"].update(
                        measure.restore_overhead(side, "bench_many_r", args.restore_segments, args.segment_restore_runs)
                    )
                    measure.drop(side, "bench_many_r")
                    print(f"# {kind}: segments {figures['segments']}", flush=True)
                if args.scale > 1:
                    base_rss = measure.peak_rss_mb(side, "bench_base")
                    base_export_rss = measure.export_peak_rss_mb(side, "bench_base", work)
                    data.make_collection(
                        side.milvus.uri,
                        "bench_big",
                        args.rows * args.scale,
                        args.dim,
                        args.segments * args.scale,
                        index=False,
                    )
                    big_rss = measure.peak_rss_mb(side, "bench_big")
                    big_export_rss = measure.export_peak_rss_mb(side, "bench_big", work)
                    # The same ratio as the first figure on the big collection: how much of the gap is fixed cost.
                    figures["backup_big"] = measure.backup_vs_raw(side, "bench_big", args.runs, args.concurrency)
                    print(f"# {kind}: backup at {args.scale}x {figures['backup_big']}", flush=True)
                    measure.drop(side, "bench_big")
                    figures["memory"] = {
                        "base_rows": args.rows,
                        "big_rows": args.rows * args.scale,
                        "base_peak_rss_mb": base_rss,
                        "big_peak_rss_mb": big_rss,
                        "base_export_peak_rss_mb": base_export_rss,
                        "big_export_peak_rss_mb": big_export_rss,
                    }
                    print(f"# {kind}: memory {figures['memory']}", flush=True)
            # Last: it adds rows to the base collection.
            figures["incremental"] = measure.incremental_vs_full(side, "bench_base", args.rows, args.dim, args.runs)
            print(f"# {kind}: incremental {figures['incremental']}", flush=True)
            measure.drop(side, "bench_base")
            results["sides"][kind] = figures
    return results


def export_figures(args: argparse.Namespace, side: Any, work: Path) -> dict[str, Any]:
    """`--export-only`: the export's speed against the pymilvus dump, its peak memory at 1x and --scale x."""
    path = work / "dump.parquet"
    dump_s, rows = measure.dump_to_parquet(side, "bench_base", path)
    path.unlink()
    figures: dict[str, Any] = {"pymilvus": {"dump_s": dump_s, "rows": rows}}
    figures["export"] = measure.export_vs_dump(side, "bench_base", work, args.runs, dump_s, rows)
    print(f"# {side.kind}: export {figures['export']}", flush=True)
    if args.scale > 1:
        base = measure.export_peak_rss_mb(side, "bench_base", work)
        data.make_collection(
            side.milvus.uri, "bench_big", args.rows * args.scale, args.dim, args.segments * args.scale, index=False
        )
        big = measure.export_peak_rss_mb(side, "bench_big", work)
        measure.drop(side, "bench_big")
        figures["memory"] = {
            "base_rows": args.rows,
            "big_rows": args.rows * args.scale,
            "base_export_peak_rss_mb": base,
            "big_export_peak_rss_mb": big,
        }
        print(f"# {side.kind}: export memory {figures['memory']}", flush=True)
    return figures


def table(results: dict[str, Any]) -> str:
    lines = [
        "| figure | " + " | ".join(results["sides"]) + " | goal |",
        "|---|" + "---|" * len(results["sides"]) + "---|",
    ]

    def row(label: str, pick: Any, fmt: str = "{:.2f}") -> None:
        cells = []
        for figures in results["sides"].values():
            try:
                cells.append(fmt.format(pick(figures)))
            except KeyError:
                cells.append("–")
        op, goal = GOALS.get(label, ("", ""))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {op} {goal} |")

    row("backup time, tool (s)", lambda f: f["backup"]["tool_s"])
    row("backup time, raw copy (s)", lambda f: f["backup"]["raw_s"])
    row("backup ÷ raw copy", lambda f: f["backup"]["ratio"])
    row("backup time at 10× size, tool (s)", lambda f: f["backup_big"]["tool_s"])
    row("backup time at 10× size, raw copy (s)", lambda f: f["backup_big"]["raw_s"])
    row("backup ÷ raw copy at 10× size", lambda f: f["backup_big"]["ratio"])
    row("restore time, tool (s)", lambda f: f["restore"]["tool_s"])
    row("restore time, direct import (s)", lambda f: f["restore"]["direct_s"])
    row("restore ÷ direct import", lambda f: f["restore"]["ratio"])
    row("restore's check of its files before the import (s)", lambda f: f["restore"]["pre_import_check_s"], "{:.3f}")
    row("restore time outside Milvus's imports, tool (s)", lambda f: f["restore"]["tool_outside_imports_s"], "{:.3f}")
    row(
        "restore time outside Milvus's imports, direct (s)",
        lambda f: f["restore"]["direct_outside_imports_s"],
        "{:.3f}",
    )
    row("pymilvus dump to Parquet (s)", lambda f: f["pymilvus"]["dump_s"])
    row("pymilvus batched inserts (s)", lambda f: f["pymilvus"]["reload_s"])
    row("backup speed-up over pymilvus dump", lambda f: f["pymilvus"]["backup_speedup"], "{:.1f}×")
    row("restore speed-up over pymilvus inserts", lambda f: f["pymilvus"]["restore_speedup"], "{:.1f}×")
    row("restore --mode insert (s)", lambda f: f["pymilvus"]["insert_restore_s"])
    row(
        "restore --mode insert speed-up over pymilvus inserts",
        lambda f: f["pymilvus"]["insert_restore_speedup"],
        "{:.2f}×",
    )
    row(
        "small segments for create / restore",
        lambda f: f"{f['segments']['segments']} / {f['segments']['restore_segments']}",
        "{}",
    )
    row("create overhead per segment (ms)", lambda f: f["segments"]["create_ms_per_segment"])
    row("restore overhead per segment (ms)", lambda f: f["segments"]["restore_ms_per_segment"])
    row(
        "restore overhead per segment outside Milvus's imports (ms)",
        lambda f: f["segments"]["restore_outside_imports_ms_per_segment"],
    )
    row("incremental backup time after 10% new rows (s)", lambda f: f["incremental"]["incremental_s"])
    row("full backup time of the same data (s)", lambda f: f["incremental"]["full_s"])
    row("incremental: bytes copied ÷ new bytes", lambda f: f["incremental"]["bytes_ratio"])
    row("incremental ÷ full backup time", lambda f: f["incremental"]["time_ratio"])
    row("incremental backup of nothing new (s)", lambda f: f["incremental"]["unchanged_incremental_s"])
    row("peak RSS, base size (MB)", lambda f: f["memory"]["base_peak_rss_mb"], "{:.0f}")
    row("peak RSS, 10× size (MB)", lambda f: f["memory"]["big_peak_rss_mb"], "{:.0f}")
    row("export to Parquet, tool (s)", lambda f: f["export"]["export_s"])
    row("export speed-up over pymilvus dump", lambda f: f["export"]["export_speedup"], "{:.1f}×")
    row("row-count proof's read (s)", lambda f: f["export"]["proof_read_s"], "{:.3f}")
    row("row-count proof's read ÷ backup time", lambda f: f["export"]["proof_read_vs_backup"])
    scale = results["params"]["scale"]
    row("export peak RSS, base size (MB)", lambda f: f["memory"]["base_export_peak_rss_mb"], "{:.0f}")
    row(f"export peak RSS, {scale}× size (MB)", lambda f: f["memory"]["big_export_peak_rss_mb"], "{:.0f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000, help="rows of the base collection")
    parser.add_argument("--dim", type=int, default=128, help="vector dimension")
    parser.add_argument("--segments", type=int, default=5, help="flushed segments of the base collection")
    parser.add_argument("--runs", type=int, default=3, help="runs per timing; the median is reported")
    parser.add_argument(
        "--restore-runs",
        type=int,
        default=7,
        help="runs of the restore figure (Milvus 2.3 marks imports done on a 2-second tick)",
    )
    parser.add_argument("--small-segments", type=int, default=1000, help="segments for the overhead figure (0: skip)")
    parser.add_argument(
        "--restore-segments",
        type=int,
        default=100,
        help="segments for the restore overhead figure (Milvus 2.3.5 takes ~2 s per import)",
    )
    parser.add_argument(
        "--segment-restore-runs",
        type=int,
        default=1,
        help="runs of the restore overhead figure, taking turns to go first (~400 s per run)",
    )
    parser.add_argument(
        "--insert-runs",
        type=int,
        default=3,
        help="runs of restore --mode insert and of the pymilvus batched inserts, taking turns",
    )
    parser.add_argument("--scale", type=int, default=10, help="size factor of the memory figure (1: skip)")
    parser.add_argument("--concurrency", type=int, default=16, help="transfer.concurrency for tool and baseline")
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="only the export figures: speed against the pymilvus dump, peak memory at 1x and --scale x",
    )
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="only the incremental figure (the base collection, its backups, 10%% new rows)",
    )
    parser.add_argument("--kinds", nargs="+", default=["local", "s3"], choices=["local", "s3"])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.json"), help="JSON with every figure")
    args = parser.parse_args()
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\ncommit {results['commit']}, {results['date']}, {results['machine']}, params {results['params']}\n")
    print(table(results))


if __name__ == "__main__":
    main()
