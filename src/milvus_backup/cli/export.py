"""`milvus-backup export`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render, runs

EPILOG = """[b]Examples[/b]

  milvus-backup export -n my_backup --format parquet --out ./export

  milvus-backup export -n my_backup -c db1.c1 --format jsonl --out ./export --json

  milvus-backup export -n my_backup --out s3://analytics/milvus/my_backup

Writes the backup's live rows (deletes applied) from its own files, without Milvus: one folder per partition
(`<out>/<db>/<collection>/<partition>/part-00000-000.parquet`: a file per segment, and a new one every
--max-file-size MiB of row data) and
each collection's schema (`schema.json`). Vectors are fixed-size lists, JSON and the dynamic field (`$meta`) JSON
text in Parquet and JSON values in JSON Lines. Run again after an interruption: complete files are kept and the
export goes on from there. A URI writes into a bucket of the backup storage's service with its credentials (s3://
for the S3 family, az:// for Azure, gs:// for GCS), each file spooled in TMPDIR and uploaded whole.

[b]Exit status[/b]: 0 done; 10 no such backup; 14 a field type this version cannot read; 16 a binlog could not be
read; 17 no such collection in the backup; 20-29 the output could not be written.
"""


def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="Output directory (made if missing), or <s3|az|gs>://<bucket>/<folder> of the backup storage.",
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="parquet or jsonl.")] = "parquet",
    collections: Annotated[
        str, typer.Option("-c", "--colls", help="Collections (comma-separated, `coll` or `db.coll`); default all.")
    ] = "",
    max_file_size: Annotated[
        int, typer.Option("--max-file-size", min=1, help="Start a new file after this many MiB of row data.")
    ] = 512,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    timeout: runs.Timeout = None,
    strict: runs.Strict = False,
) -> None:
    """Write a backup's live rows as Parquet or JSON Lines files (Milvus is not contacted)."""
    from milvus_backup import library, wiring
    from milvus_backup.cli.progress import progress_for_stderr
    from milvus_backup.service.export import ExportRequest

    config = ctx.obj.load().config
    request = ExportRequest(name, fmt.lower(), collections, max_file_size * 1024 * 1024)
    with wiring.new_run(config, progress=progress_for_stderr(), timeout=timeout, what=f"export of {name}") as run:
        result = library.export_backup(config, request, out, run)
    if json_output:
        render.print_json(
            {
                "name": result.name,
                "out": result.out,
                "format": result.format,
                "rows": result.rows,
                "seconds": result.seconds,
                "files": [dataclasses.asdict(f) for f in result.files],
                "warnings": result.warnings,
            }
        )
    else:
        runs.print_warnings(result.warnings)
        render.print_table(
            ["file", "rows", "MB", ""],
            [[f.path, str(f.rows), f"{f.bytes / 1e6:.1f}", "kept" if f.kept else ""] for f in result.files],
        )
        render.print_line(
            f"export success: {result.rows} rows in {len(result.files)} file(s) under {result.out} "
            f"({result.seconds:.1f} s){runs.counted(result.warnings)}"
        )
    runs.enforce_strict(strict, result.warnings)
