"""`milvus-backup inspect`."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from milvus_backup.cli import render, runs

EPILOG = """[b]Examples[/b]

  milvus-backup inspect -n my_backup

  milvus-backup inspect -n my_backup -c db1.c1 --rows 3 --json

Reads the backup's own files (its meta and binlogs), not Milvus: for each collection and partition, the segments,
the rows inserted, the rows removed by deletes, the live rows (what a query showed, and what a restore gives),
the bytes and the fields. --rows N prints N live rows of each collection.

[b]Exit status[/b]: 0 done; 10 no such backup; 12 incomplete backup; 15 a binlog could not be read; 16 no such
collection in the backup.
"""


def inspect(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
    collections: Annotated[
        str, typer.Option("-c", "--colls", help="Collections (comma-separated, `coll` or `db.coll`); default all.")
    ] = "",
    rows: Annotated[int, typer.Option("--rows", min=0, help="Print this many live rows of each collection.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    timeout: runs.Timeout = None,
) -> None:
    """Show what a backup holds, read from its files (Milvus is not contacted)."""
    from milvus_backup import library, wiring
    from milvus_backup.cli.progress import progress_for_stderr

    config = ctx.obj.load().config
    with wiring.new_run(config, progress=progress_for_stderr(), timeout=timeout, what=f"inspect of {name}") as run:
        report = library.inspect_backup(config, name, collections, rows, run)
    if json_output:
        render.print_json(dataclasses.asdict(report))
        return
    runs.print_warnings(report.warnings)
    render.print_line(f"backup {report.name}: created {report.created or '?'}, Milvus {report.milvus_version or '?'}")
    for coll in report.collections:
        render.print_line("")
        render.print_line(
            f"{coll.collection}: {coll.rows.live} live rows ({coll.rows.inserted} inserted, {coll.rows.deleted} "
            f"deleted), {coll.segments} segment(s), {coll.bytes / 1e6:.1f} MB"
        )
        fields = ", ".join(
            f"{f.name} {f.type}" + ("(" + ", ".join(f"{k}={v}" for k, v in f.params.items()) + ")" if f.params else "")
            for f in coll.fields
        )
        render.print_line(f"  fields: {fields}")
        render.print_table(
            ["partition", "segments", "inserted", "deleted", "live", "MB"],
            [
                [
                    p.name,
                    str(p.segments),
                    str(p.rows.inserted),
                    str(p.rows.deleted),
                    str(p.rows.live),
                    f"{p.bytes / 1e6:.1f}",
                ]
                for p in coll.partitions
            ],
        )
        for row in coll.sample_rows:
            render.print_raw(json.dumps(row, ensure_ascii=False))
