"""A tiny run of the benchmark, so that it cannot rot. It asserts figures exist, never how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_smoke(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--rows",
            "3000",
            "--dim",
            "8",
            "--segments",
            "2",
            "--runs",
            "1",
            "--restore-runs",
            "1",
            "--small-segments",
            "4",
            "--restore-segments",
            "2",
            "--segment-restore-runs",
            "1",
            "--insert-runs",
            "1",
            "--scale",
            "2",
            "--concurrency",
            "4",
            "--kinds",
            "local",
            "s3",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["commit"] and set(figures["sides"]) == {"local", "s3"}
    for side in figures["sides"].values():
        assert side["backup"]["tool_s"] > 0 and side["backup"]["raw_s"] > 0 and side["backup"]["objects"] > 0
        assert side["restore"]["tool_s"] > 0 and side["restore"]["direct_s"] > 0 and side["restore"]["runs"] == 1
        assert len(side["restore"]["tool_runs_s"]) == len(side["restore"]["direct_runs_s"]) == 1
        # Milvus's imports take most of a restore; what is left is the restore's own work (never negative).
        assert 0 < side["restore"]["tool_outside_imports_s"] < max(side["restore"]["tool_runs_s"])
        assert 0 < side["restore"]["direct_outside_imports_s"] < max(side["restore"]["direct_runs_s"])
        # the check of the backup's files before the import is part of the tool's restore, so shorter than it
        assert 0 < side["restore"]["pre_import_check_s"] < max(side["restore"]["tool_runs_s"])
        assert side["pymilvus"]["rows"] == 3000
        assert side["pymilvus"]["insert_restore_s"] > 0 and len(side["pymilvus"]["insert_restore_runs_s"]) == 1
        assert side["segments"]["segments"] == 4 and side["segments"]["restore_segments"] == 2
        assert side["segments"]["runs"] == 1 and side["segments"]["create_s"] > 0
        assert side["segments"]["restore_runs"] == 1 and side["segments"]["restore_s"] > 0
        assert "restore_outside_imports_ms_per_segment" in side["segments"]
        assert side["memory"]["big_rows"] == 6000 and side["memory"]["big_peak_rss_mb"] > 0
        assert side["backup_big"]["bytes"] > side["backup"]["bytes"] and side["backup_big"]["ratio"] > 0
        # export: the same rows as the pymilvus dump (export_vs_dump fails otherwise), and its peak memory
        assert side["export"]["rows"] == 3000 and side["export"]["export_s"] > 0
        assert side["export"]["proof_read_s"] > 0 and side["export"]["backup_s"] > 0
        assert side["memory"]["base_export_peak_rss_mb"] > 0 and side["memory"]["big_export_peak_rss_mb"] > 0
        incremental = side["incremental"]
        assert incremental["new_rows"] == 300 and incremental["runs"] == 1
        assert incremental["copied_bytes"] > 0 and incremental["new_bytes"] > 0 and incremental["time_ratio"] > 0
    assert "| backup ÷ raw copy |" in result.stdout and "| backup ÷ raw copy at 10× size |" in result.stdout
    assert "| restore time outside Milvus's imports, tool (s) |" in result.stdout
    assert "| export speed-up over pymilvus dump |" in result.stdout
    assert "| incremental: bytes copied ÷ new bytes |" in result.stdout


def test_year_smoke(tmp_path):
    out = tmp_path / "year.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.year", "--days", "4", "--segments", "4", "--churn", "0.25", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    # by day 4 every segment of day 0 was rewritten once: days 1 to 3 still reference day 0, day 4 does not
    assert figures["backups"] == 5 and figures["day_000_needed_by"] == 3
    # day 0 copies 4 segments, each night one more: 8 segments' bytes stored instead of 20
    assert figures["binlog_bytes_stored"] == figures["binlog_bytes_copied"] == 2 * figures["full_backup_binlog_bytes"]
    assert figures["full_backups_binlog_bytes"] == 5 * figures["full_backup_binlog_bytes"]
    assert "| binlogs_stored_vs_full | 0.4 |" in result.stdout


def test_copy_paths_smoke():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.copy_paths",
            "--files",
            "12",
            "--size-mb",
            "0.1",
            "--runs",
            "1",
            "--concurrency",
            "4",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "seconds" not in line]
    ways = ["raw", "crc_only", "tool", "tool_all_threads", "raw_then_crc"]
    assert [row.split("|")[1].strip() for row in rows] == ways
    assert all(float(row.split("|")[2]) > 0 for row in rows)
